"""The API's text fields at the ledger's limits (ledger/limits.py, TEXT_LIMITS): one character
too many, or a NUL, is a 422 naming the field with the ledger's refusal code, and changes
nothing (the balance and the resident's postings read back the same); at the limit, accepted.
test_api.py has the shapes of a top-up and of the residents list's parameters, and
test_field_limits.py the ledger's own checks; this is the same limits through HTTP, for a
payment channel's token and a CPAS's, and the contract (openapi.json) stating them."""

import pytest
from sqlalchemy import select

from ledger import AccountInput, schema
from ledger.cpas import QUERY_MAX_LENGTH
from ledger.limits import TEXT_LIMITS
from tests.conftest import make_ean
from tests.integration.test_api import (  # noqa: F401 - `api` is a fixture
    DOCUMENT,
    MOUNT,
    ZOE,
    Api,
    api,
    bearer,
    conforms,
    error_of,
)
from tests.integration.test_ledger import ACTIVATED

LIMIT = TEXT_LIMITS["reference"]
CLIENTS = ("terminal", "namur")  # a payment channel (issuer client-N), a CPAS (issuer its code)


async def state(api: Api) -> tuple:
    """What a refused top-up must leave as it was: Zoé's balance and postings as her CPAS reads
    them, and every posting and debt of the ledger."""
    answer = await api.http.get(f"{MOUNT}/residents/{ZOE}", headers=api.namur)
    assert answer.status == 200, await answer.text()
    file = await answer.json()
    async with api.ledger.engine.connect() as conn:
        rows = [sorted(map(repr, (await conn.execute(select(table))).all()))
                for table in (schema.postings, schema.debts)]
    return file["balance"], file["postings"], rows


async def top_up(api: Api, client: str, **fields):
    body = {"ean": ZOE, "amount_cents": 2000, "reference": "R-1", **fields}
    return await api.http.post(f"{MOUNT}/topups", json=body, headers=getattr(api, client))


# ---- refused, and nothing changed -------------------------------------------------------------

@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("reference", ["R" * (LIMIT + 1), "Reçu-" + "é" * (LIMIT - 4),
                                       "🙂" * (LIMIT + 1)],
                         ids=["ascii", "accents", "emoji"])
async def test_a_reference_one_character_too_long_is_422_text_too_long_and_changes_nothing(
        api, client, reference):
    assert len(reference) == LIMIT + 1
    before = await state(api)
    error = await error_of(await top_up(api, client, reference=reference), 422)
    assert (error["code"], error["field"], error["refusal"]) == (
        "invalid_input", "reference", "text.too_long")
    assert error["params"] == {"max_length": LIMIT, "length": LIMIT + 1}
    assert str(LIMIT) in error["message"]
    assert await state(api) == before


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("reference", ["R-1\x00", "\x00R-1", "R\x00-1",
                                       "R" * (LIMIT - 1) + "\x00", "R" * LIMIT + "\x00"],
                         ids=["end", "start", "middle", "at the limit", "one over the limit"])
async def test_a_reference_with_a_nul_is_422_text_nul_and_changes_nothing(api, client, reference):
    before = await state(api)
    error = await error_of(await top_up(api, client, reference=reference), 422)
    assert (error["code"], error["field"], error["refusal"]) == (
        "invalid_input", "reference", "text.nul")
    assert await state(api) == before


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("ean", [ZOE + "0", "0" + ZOE, ZOE + "\x00", ZOE[:9] + "\x00" + ZOE[10:],
                                 ZOE[-13:] + "\x00"],
                         ids=["19 digits", "0 and 18", "18 and NUL", "NUL among 18", "13 and NUL"])
async def test_an_ean_too_long_or_with_a_nul_is_422_malformed_and_changes_nothing(
        api, client, ean):
    """An EAN's limit is its shape (18 digits, or the last 13), not a width of TEXT_LIMITS."""
    before = await state(api)
    error = await error_of(await top_up(api, client, ean=ean), 422)
    assert (error["code"], error["field"], error["refusal"]) == (
        "invalid_input", "ean", "ean.malformed")
    assert await state(api) == before


# ---- at the limit, accepted -------------------------------------------------------------------

@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("sent, kept", [
    ("R" * LIMIT, "R" * LIMIT),
    # characters, not bytes: é is two bytes in UTF-8, 🙂 four
    ("Reçu-" + "é" * (LIMIT - 5), "Reçu-" + "é" * (LIMIT - 5)),
    ("🙂" * LIMIT, "🙂" * LIMIT),
    # the spaces around a reference are not part of it, nor of its length
    ("  " + "R" * LIMIT + " ", "R" * LIMIT)], ids=["ascii", "accents", "emoji", "spaces around"])
async def test_a_reference_at_the_limit_is_accepted(api, client, sent, kept):
    balance, postings, _ = await state(api)
    answer = await top_up(api, client, reference=sent)
    assert answer.status == 201, await answer.text()
    created = await answer.json()
    conforms(created, "TopUp")
    assert (created["reference"], created["balance_cents"]) == (
        kept, balance["balance_cents"] + 2000)
    after, now_posted, _ = await state(api)
    assert after["balance_cents"] == balance["balance_cents"] + 2000
    new = [p for p in now_posted if p not in postings]
    assert [(p["kind"], p["amount_cents"], p["reference"]) for p in new] == [
        ("topup", 2000, kept)]
    again = await top_up(api, client, reference=sent)  # and its replay is one
    assert again.status == 200 and (await again.json())["replayed"] is True
    assert (await state(api))[:2] == (after, now_posted)


async def test_a_search_at_its_limit_is_accepted(api):
    """One character more, or a NUL, is refused (test_api.py)."""
    for query in ("z" * QUERY_MAX_LENGTH, "Zoé" + " " * (QUERY_MAX_LENGTH - 3)):
        answer = await api.http.get(f"{MOUNT}/residents", params={"q": query}, headers=api.namur)
        assert answer.status == 200, await answer.text()
        conforms(await answer.json(), "ResidentList")


# ---- the contract says the same limits --------------------------------------------------------

def test_the_openapi_document_states_the_limits_the_api_keeps():
    request = DOCUMENT["components"]["schemas"]["TopUpRequest"]["properties"]
    assert request["reference"]["maxLength"] == LIMIT
    search = next(p for p in DOCUMENT["paths"]["/residents"]["get"]["parameters"]
                  if p["name"] == "q")
    assert search["schema"]["maxLength"] == QUERY_MAX_LENGTH


# ---- the issuer: a CPAS's code ------------------------------------------------------------------

async def test_a_cpas_whose_code_is_at_its_limit_records_office_top_ups(api):
    code = "C" * TEXT_LIMITS["cpas"]
    ean = make_ean(7)
    await api.ledger.import_accounts([AccountInput(ean, "electricity", "fr", cpas=code,
                                                   activated_at=ACTIVATED)])
    _, token = await api.access.add_client("long code office", cpas=code)
    answer = await api.http.post(f"{MOUNT}/topups", headers=bearer(token), json={
        "ean": ean, "amount_cents": 2000, "reference": "R" * LIMIT})
    assert answer.status == 201, await answer.text()
