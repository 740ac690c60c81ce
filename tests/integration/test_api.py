"""The JSON API over HTTP: bearer tokens, a CPAS's residents only, idempotent top-ups, JSON errors,
and an OpenAPI document that validates and names exactly the routes the app has."""

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from ledger import AccountInput, ConsumptionInput, Ledger, MessageRecord
from ledger.errors import REFUSALS
from portal.api import create_api_app, message_json
from portal.access import Access
from saldo.keys import ACCESS, LEDGER
from tests.browser import logged_server
from tests.conftest import make_ean
from tests.integration.test_ledger import ACTIVATED

MOUNT = "/api/v1"
DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "portal" / "openapi.json")
                      .read_text(encoding="utf-8"))
ZOE, MARC, OTHER, NOBODY = make_ean(1), make_ean(2), make_ean(4), make_ean(99)


@dataclass
class Api:
    http: TestClient
    ledger: Ledger
    access: Access
    namur: dict[str, str]  # Authorization headers
    eupen: dict[str, str]
    terminal: dict[str, str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def build_app(ledger: Ledger, access: Access) -> web.Application:
    root = web.Application()
    root[LEDGER], root[ACCESS] = ledger, access
    root.add_subapp(MOUNT, create_api_app(lambda request: request.config_dict[LEDGER],
                                          lambda request: request.config_dict[ACCESS]))
    return root


@pytest.fixture
async def api(ledger, access):
    await ledger.import_accounts([
        AccountInput(ZOE, "electricity", "fr", name="Zoé Normale", cpas="CPAS-NAMUR",
                     activated_at=ACTIVATED),
        AccountInput(MARC, "gas", "fr", name="Marc Coupé", cpas="CPAS-NAMUR",
                     activated_at=ACTIVATED),
        AccountInput(OTHER, "gas", "de", name="Andere Gemeinde", cpas="ÖSHZ-EUPEN",
                     activated_at=ACTIVATED),
        AccountInput(make_ean(5), "electricity", "nl", name="Zonder Mandaat",
                     activated_at=ACTIVATED)])
    await ledger.post_consumption([ConsumptionInput(MARC, date(2026, 10, 1), 3700)])
    _, namur = await access.add_client("namur office", cpas="CPAS-NAMUR")
    _, eupen = await access.add_client("eupen office", cpas="ÖSHZ-EUPEN")
    _, terminal = await access.add_client("kiosk network", channel="terminal")
    async with TestClient(logged_server(build_app(ledger, access))) as http:
        yield Api(http, ledger, access, bearer(namur), bearer(eupen), bearer(terminal))


def conforms(body, schema_name: str) -> None:
    """The answer is what the OpenAPI document says it is, and carries nothing it does not say."""
    OAS31Validator({**DOCUMENT, "$ref": f"#/components/schemas/{schema_name}"}).validate(body)
    documented(body, {"$ref": f"#/components/schemas/{schema_name}"}, schema_name)


def documented(value, schema: dict, where: str) -> None:
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "oneOf" in schema:
        if value is not None:
            documented(value, next(s for s in schema["oneOf"] if s.get("type") != "null"), where)
    elif isinstance(value, dict) and "properties" in schema:
        assert set(value) <= set(schema["properties"]), f"{where}: undocumented fields"
        for key, item in value.items():
            documented(item, schema["properties"][key], f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            documented(item, schema["items"], f"{where}[]")


async def error_of(answer, status: int) -> dict:
    assert answer.status == status, await answer.text()
    assert answer.content_type == "application/json"
    body = await answer.json()
    conforms(body, "Error")
    return body["error"]


# ---- a CPAS client ----------------------------------------------------------------------------

async def test_a_cpas_lists_only_its_residents(api):
    answer = await api.http.get(f"{MOUNT}/residents", headers=api.namur)
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    body = await answer.json()
    conforms(body, "ResidentList")
    assert sorted((r["name"], r["balance"]["ean"]) for r in body["residents"]) == [
        ("Marc Coupé", MARC), ("Zoé Normale", ZOE)]
    zoe = next(r["balance"] for r in body["residents"] if r["balance"]["ean"] == ZOE)
    assert zoe["balance_cents"] == 2000 and zoe["as_of"].endswith("+02:00")  # 1 Oct, summer time
    trail = await api.ledger.audit_trail()
    assert any(r["actor"].startswith("api:") for r in trail)


@pytest.mark.parametrize("digits", [18, 13])
async def test_a_cpas_reads_one_resident_by_18_or_13_digits(api, digits):
    answer = await api.http.get(f"{MOUNT}/residents/{MARC[-digits:]}", headers=api.namur)
    assert answer.status == 200
    body = await answer.json()
    conforms(body, "ResidentFile")
    assert body["name"] == "Marc Coupé" and body["balance"]["ean"] == MARC
    assert body["debts"][0]["kind"] == "start_credit"
    # From the activation (1 October) to today: 55 days, not days before the prepayment began.
    assert len(body["history"]) == 55 and body["history"][0]["day"] == "2026-10-01"
    assert body["history"][-1]["day"] == "2026-11-24"
    assert {"kind": "consumption", "amount_cents": -3700, "day": "2026-10-01"}.items() <= \
        next(p for p in body["postings"] if p["kind"] == "consumption").items()
    assert all(p["at"][-6:] in ("+01:00", "+02:00") for p in body["postings"])
    assert body["messages"] == []  # no contact on file: nothing was sent
    trail = await api.ledger.audit_trail()
    assert trail[0]["action"] == "cpas-resident" and trail[0]["actor"].startswith("api:")


async def test_another_cpas_resident_is_answered_like_an_unknown_ean_and_audited(api):
    foreign = await api.http.get(f"{MOUNT}/residents/{OTHER}", headers=api.namur)
    unknown = await api.http.get(f"{MOUNT}/residents/{NOBODY}", headers=api.namur)
    malformed = await api.http.get(f"{MOUNT}/residents/12345", headers=api.namur)
    bodies = [await error_of(answer, 404) for answer in (foreign, unknown, malformed)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["code"] == "unknown_ean" and OTHER not in json.dumps(bodies[0])
    trail = await api.ledger.audit_trail()
    assert any(r["outcome"] == "foreign" and r["ean"] == OTHER and r["actor"].startswith("api:")
               for r in trail)
    # and its own CPAS does see it
    assert (await api.http.get(f"{MOUNT}/residents/{OTHER}", headers=api.eupen)).status == 200


async def test_an_office_top_up_then_its_replay(api):
    body = {"ean": ZOE[-13:], "amount_cents": 2500, "reference": "NAM-2026-0001"}
    answer = await api.http.post(f"{MOUNT}/topups", json=body, headers=api.namur)
    assert answer.status == 201
    created = await answer.json()
    conforms(created, "TopUp")
    assert created == {**body, "channel": "cpas", "balance_cents": 4500, "replayed": False}
    view = await (await api.http.get(f"{MOUNT}/residents/{ZOE}", headers=api.namur)).json()
    assert view["balance"]["balance_cents"] == 4500
    assert view["balance"]["last_topup"]["amount_cents"] == 2500
    assert view["balance"]["last_topup"]["channel"] == "cpas"
    assert view["balance"]["last_topup"]["at"] == "2026-11-24T10:00:00+01:00"
    again = await api.http.post(f"{MOUNT}/topups", json=body, headers=api.namur)
    assert again.status == 200
    assert await again.json() == {**created, "replayed": True}


async def test_an_office_top_up_for_another_cpas_resident_is_404(api):
    answer = await api.http.post(f"{MOUNT}/topups", headers=api.namur, json={
        "ean": OTHER, "amount_cents": 2500, "reference": "NAM-2026-0002"})
    assert (await error_of(answer, 404))["code"] == "unknown_ean"
    view = await api.ledger.balance_view(OTHER, actor="test")
    assert view.balance_cents == 2000  # nothing recorded


# ---- a payment channel client -----------------------------------------------------------------

async def test_a_channel_tops_up_any_ean_idempotently(api):
    body = {"ean": OTHER, "amount_cents": 1000, "reference": "KIOSK-77-000123"}
    answer = await api.http.post(f"{MOUNT}/topups", json=body, headers=api.terminal)
    assert answer.status == 201
    created = await answer.json()
    assert created == {**body, "channel": "terminal", "balance_cents": 3000, "replayed": False}
    again = await api.http.post(f"{MOUNT}/topups", json=body, headers=api.terminal)
    # A replay tells a channel nothing it did not know: no balance (channels read none).
    assert (again.status, await again.json()) == (
        200, {**created, "balance_cents": None, "replayed": True})
    other_amount = await api.http.post(f"{MOUNT}/topups", json={**body, "amount_cents": 1500},
                                       headers=api.terminal)
    other_ean = await api.http.post(f"{MOUNT}/topups", json={**body, "ean": ZOE},
                                    headers=api.terminal)
    for answer in (other_amount, other_ean):
        error = await error_of(answer, 409)
        assert error["code"] == "reference_conflict" and error["field"] == "reference"
    assert (await api.ledger.balance_view(OTHER, actor="test")).balance_cents == 3000
    trail = await api.ledger.audit_trail()
    assert [r["outcome"] for r in trail if r["action"] == "topup"][:4] == [
        "conflict", "conflict", "replayed", "recorded"]


async def test_another_clients_reference_is_not_a_replay(api, database_url):
    _, second_terminal = await api.access.add_client("other kiosks", channel="terminal")
    body = {"ean": OTHER, "amount_cents": 1000, "reference": "0001"}
    first = await api.http.post(f"{MOUNT}/topups", json=body, headers=api.terminal)
    second = await api.http.post(f"{MOUNT}/topups", json=body,
                                 headers={"Authorization": f"Bearer {second_terminal}"})
    assert (first.status, second.status) == (201, 201)  # two payments, both credited
    assert (await api.ledger.balance_view(OTHER, actor="test")).balance_cents == 4000


async def test_a_channel_may_not_choose_its_channel_nor_read(api):
    answer = await api.http.post(f"{MOUNT}/topups", headers=api.terminal, json={
        "ean": ZOE, "amount_cents": 1000, "reference": "KIOSK-1", "channel": "cpas"})
    assert (await error_of(answer, 422))["field"] == "channel"
    for path in ("/residents", f"/residents/{ZOE}"):
        error = await error_of(await api.http.get(MOUNT + path, headers=api.terminal), 403)
        assert error["code"] == "forbidden" and "top-ups" in error["message"]


async def test_a_channel_top_up_on_an_unknown_ean_is_404(api):
    answer = await api.http.post(f"{MOUNT}/topups", headers=api.terminal, json={
        "ean": NOBODY, "amount_cents": 1000, "reference": "KIOSK-2"})
    assert (await error_of(answer, 404))["code"] == "unknown_ean"


# ---- tokens and errors ------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer saldo_not-a-real-token"}, {"Authorization": "Basic YTpi"},
    {"Authorization": "Bearer"}])
async def test_no_or_a_wrong_token_is_401(api, headers):
    for method, path in (("GET", "/residents"), ("POST", "/topups")):
        answer = await api.http.request(method, MOUNT + path, headers=headers)
        error = await error_of(answer, 401)
        assert error["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="saldo"')


async def test_a_revoked_token_is_401(api):
    client, token = await api.access.add_client("old kiosk", channel="online")
    await api.access.revoke_client(client.id)
    answer = await api.http.get(f"{MOUNT}/residents", headers=bearer(token))
    await error_of(answer, 401)


@pytest.mark.parametrize("body, field", [
    ({"ean": ZOE, "amount_cents": 499, "reference": "R-1"}, "amount_cents"),
    ({"ean": ZOE, "amount_cents": 25001, "reference": "R-1"}, "amount_cents"),
    ({"ean": ZOE, "amount_cents": 20.5, "reference": "R-1"}, "amount_cents"),
    ({"ean": ZOE, "amount_cents": "2000", "reference": "R-1"}, "amount_cents"),
    ({"ean": ZOE, "amount_cents": True, "reference": "R-1"}, "amount_cents"),
    ({"ean": ZOE, "reference": "R-1"}, "amount_cents"),
    ({"ean": ZOE, "amount_cents": 2000}, "reference"),
    ({"ean": ZOE, "amount_cents": 2000, "reference": "  "}, "reference"),
    ({"ean": ZOE, "amount_cents": 2000, "reference": ZOE[-13:]}, "reference"),
    ({"ean": int(ZOE), "amount_cents": 2000, "reference": "R-1"}, "ean"),
    ({"ean": "5414", "amount_cents": 2000, "reference": "R-1"}, "ean"),
    ({"amount_cents": 2000, "reference": "R-1"}, "ean"),
    ({"ean": ZOE, "amount_cents": 2000, "reference": "R-1", "tip": 1}, "tip"),
])
async def test_bad_top_ups_are_422_naming_the_field(api, body, field):
    for headers in (api.terminal, api.namur):
        error = await error_of(await api.http.post(f"{MOUNT}/topups", json=body,
                                                   headers=headers), 422)
        assert error["code"] == "invalid_input" and error["field"] == field
        assert error["message"][0].isupper()
    assert (await api.ledger.balance_view(ZOE, actor="test")).balance_cents == 2000


async def test_499_cents_says_the_limits(api):
    answer = await api.http.post(f"{MOUNT}/topups", headers=api.terminal, json={
        "ean": ZOE, "amount_cents": 499, "reference": "R-1"})
    error = await error_of(answer, 422)
    assert "5,00 €" in error["message"]
    # The reason as a code and its values, for the client to say it in its user's language.
    assert (error["refusal"], error["params"]) == (
        "amount.out_of_range", {"low_cents": 500, "high_cents": 25000})


@pytest.mark.parametrize("body, refusal, params", [
    ({"ean": ZOE, "amount_cents": 25001, "reference": "R-1"}, "amount.out_of_range",
     {"low_cents": 500, "high_cents": 25000}),
    ({"ean": ZOE, "amount_cents": 2000, "reference": ZOE[-13:]}, "reference.is_the_meter", {}),
    ({"ean": ZOE, "amount_cents": 2000, "reference": "  "}, "reference.missing", {}),
    ({"ean": ZOE, "amount_cents": 2000}, "value.required", {}),
    ({"ean": "5414", "amount_cents": 2000, "reference": "R-1"}, "ean.malformed",
     {"text": "5414"}),
    ({"ean": ZOE[:-1] + str((int(ZOE[-1]) + 1) % 10), "amount_cents": 2000, "reference": "R-1"},
     "ean.check_digit", {}),
])
async def test_a_refused_top_up_carries_the_ledgers_code_and_params(api, body, refusal, params):
    error = await error_of(await api.http.post(f"{MOUNT}/topups", json=body,
                                               headers=api.terminal), 422)
    assert (error["code"], error["refusal"], error["params"]) == ("invalid_input", refusal, params)


async def test_an_unknown_ean_and_a_reused_reference_carry_their_codes(api):
    unknown = await error_of(await api.http.get(f"{MOUNT}/residents/{NOBODY}",
                                                headers=api.namur), 404)
    assert (unknown["refusal"], unknown["params"]) == ("account.unknown", {})
    body = {"ean": ZOE, "amount_cents": 1000, "reference": "KIOSK-9"}
    await api.http.post(f"{MOUNT}/topups", json=body, headers=api.terminal)
    conflict = await error_of(await api.http.post(f"{MOUNT}/topups", headers=api.terminal,
                                                  json={**body, "amount_cents": 1200}), 409)
    assert (conflict["refusal"], conflict["params"]) == ("reference.conflict", {})


async def test_an_error_the_ledger_did_not_refuse_has_no_refusal(api):
    error = await error_of(await api.http.get(f"{MOUNT}/residents"), 401)
    assert "refusal" not in error and "params" not in error


@pytest.mark.parametrize("data", [b"ean=1&amount=2", b"{not json", b"[1, 2]", b"null", b"",
                                  b"\xff\xfe"])
async def test_a_body_that_is_not_a_json_object_is_422(api, data):
    answer = await api.http.post(f"{MOUNT}/topups", data=data, headers=api.terminal)
    error = await error_of(answer, 422)
    assert error["code"] == "invalid_json" and "JSON object" in error["message"]


async def test_unknown_paths_and_methods_answer_json(api):
    error = await error_of(await api.http.get(f"{MOUNT}/nothing-here", headers=api.namur), 404)
    assert error["code"] == "not_found"
    error = await error_of(await api.http.get(f"{MOUNT}/residents/{ZOE}/more"), 404)
    answer = await api.http.delete(f"{MOUNT}/topups", headers=api.namur)
    error = await error_of(answer, 405)
    assert error["code"] == "method_not_allowed" and answer.headers["Allow"] == "POST"


async def test_a_failure_is_a_json_500_without_its_traceback(api, monkeypatch, caplog):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals at line 42")

    monkeypatch.setattr(api.ledger, "residents", broken)
    answer = await api.http.get(f"{MOUNT}/residents", headers=api.namur)
    error = await error_of(answer, 500)
    assert error["code"] == "internal_error"
    assert "secret" not in await answer.text() and "Traceback" not in await answer.text()
    assert "secret internals" in caplog.text  # but it is logged


def test_a_message_is_listed_with_brussels_times_and_without_its_address():
    utc = timezone.utc
    record = MessageRecord(7, "EmergencyCreditStarted", datetime(2026, 1, 5, 10, 58, tzinfo=utc),
                           "customer", "sms", "delivered", 1,
                           datetime(2026, 1, 5, 10, 59, tzinfo=utc),
                           datetime(2026, 1, 5, 11, 0, tzinfo=utc), None, None)
    body = message_json(record)
    conforms(body, "Message")
    assert body["event_at"] == "2026-01-05T11:58:00+01:00" and body["reported_at"] is None
    assert body["superseded_by"] is None


def test_a_superseded_message_names_what_overtook_it():
    at = datetime(2026, 1, 5, 21, 0, tzinfo=timezone.utc)
    record = MessageRecord(8, "LowCredit", at, "customer", "sms", "superseded", 0, at, None,
                           None, None, "Disconnected")
    body = message_json(record)
    conforms(body, "Message")
    assert (body["state"], body["superseded_by"], body["sent_at"]) == (
        "superseded", "Disconnected", None)


# ---- the OpenAPI document ---------------------------------------------------------------------

async def test_the_openapi_document_is_served_without_a_token(api):
    answer = await api.http.get(f"{MOUNT}/openapi.json")
    assert answer.status == 200 and answer.content_type == "application/json"
    assert await answer.json() == DOCUMENT


def test_the_openapi_document_validates():
    validate(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.1")
    assert DOCUMENT["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert DOCUMENT["servers"] == [{"url": MOUNT}]


def test_the_openapi_document_lists_every_refusal_code_with_its_params():
    error = DOCUMENT["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert set(error["refusal"]["enum"]) == set(REFUSALS)
    assert error["refusal"]["x-params"] == {code: list(names) for code, names in REFUSALS.items()}
    for code, names in REFUSALS.items():
        line = f"- `{code}`" + (": " + ", ".join(f"`{n}`" for n in names) if names else "")
        assert line + "\n" in error["refusal"]["description"] + "\n"
    assert error["params"]["type"] == "object"
    example = DOCUMENT["components"]["responses"]["InvalidInput"]["content"][
        "application/json"]["example"]
    conforms(example, "Error")
    assert example["error"]["refusal"] == "amount.out_of_range"
    assert '"refusal"' in DOCUMENT["info"]["description"]


async def test_the_openapi_document_names_exactly_the_routes(ledger, access):
    app = build_app(ledger, access)
    registered = set()
    for resource in app.router.resources():
        if not isinstance(resource, web.PrefixedSubAppResource):
            continue
        for route in resource._app.router.routes():  # noqa: SLF001 - the sub-app's own routes
            path = route.resource.canonical
            assert path.startswith(MOUNT)
            registered.add((route.method.lower(), path.removeprefix(MOUNT)))
    documented = {(method, path) for path, item in DOCUMENT["paths"].items()
                  for method in item if method in ("get", "put", "post", "delete", "patch",
                                                   "head", "options", "trace")}
    assert registered == documented
    assert len(registered) == 4


# ---- the residents list, paged ----------------------------------------------------------------

async def test_the_residents_come_a_page_at_a_time_with_the_counts_of_all(api):
    first = await (await api.http.get(f"{MOUNT}/residents", params={"limit": "1"},
                                      headers=api.namur)).json()
    conforms(first, "ResidentList")
    assert [r["name"] for r in first["residents"]] == ["Marc Coupé"]  # cut off: first
    assert first["total"] == 2 and first["previous"] is None
    assert first["counts"]["disconnected"] == 1 and sum(first["counts"].values()) == 2
    second = await (await api.http.get(first["next"], headers=api.namur)).json()
    assert [r["name"] for r in second["residents"]] == ["Zoé Normale"]
    assert second["next"] is None and second["previous"].startswith(f"{MOUNT}/residents?")
    found = await (await api.http.get(f"{MOUNT}/residents", params={"q": "zoe", "sort": "name"},
                                      headers=api.namur)).json()
    assert [r["name"] for r in found["residents"]] == ["Zoé Normale"] and found["total"] == 1
    assert sum(found["counts"].values()) == 2
    listed = [r for r in await api.ledger.audit_trail(200) if r["action"] == "cpas-residents"]
    assert len(listed) == 3  # one per resident shown, page after page


@pytest.mark.parametrize("params, field", [
    ({"sort": "fun"}, "sort"), ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"),
    ({"page": "0"}, "page"), ({"page": "9" * 5000}, "page"), ({"limit": "١٠"}, "limit"),
    ({"q": "x" * 41}, "q"), ({"q": "a\x00b"}, "q")])
async def test_a_bad_page_is_422_naming_the_parameter(api, params, field):
    error = await error_of(await api.http.get(f"{MOUNT}/residents", params=params,
                                              headers=api.namur), 422)
    assert error["field"] == field


@pytest.mark.parametrize("reference", [ZOE[-13:], ZOE, NOBODY[-13:], NOBODY, "1234567890123",
                                       "123456789012345678"])
async def test_a_meter_shaped_reference_gets_one_answer_whether_the_ean_exists_or_not(
        api, reference):
    """No existence oracle: 13 or 18 digits as a reference are refused before the EAN is
    looked up, so a payment channel learns nothing from the answer."""
    answers = []
    for ean in (ZOE, NOBODY):
        answer = await api.http.post(f"{MOUNT}/topups", headers=api.terminal, json={
            "ean": ean, "amount_cents": 2000, "reference": reference})
        answers.append((answer.status, await answer.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422 and answers[0][1]["error"]["refusal"] == "reference.is_the_meter"
    assert (await api.ledger.balance_view(ZOE, actor="test")).balance_cents == 2000
