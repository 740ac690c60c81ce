"""The CPAS pages over HTTP: log-in, CSRF, the residents in the right order, one CPAS's only."""

import dataclasses
import re
from datetime import date

import pytest
from aiohttp.test_utils import TestClient

from ledger import AccountInput, ConsumptionInput, Ledger, NonDisconnectionPeriod
from saldo.app import create_app
from saldo.settings import Settings
from tests.browser import logged_server
from tests.conftest import make_ean
from tests.integration.test_ledger import ACTIVATED

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NAMES = re.compile(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>')


async def populate(database_url: str, clock) -> None:
    """A CPAS with three residents (cut off, low, normal), and another CPAS's resident."""
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    await ledger.access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD, "fr")
    await ledger.import_accounts([
        AccountInput(make_ean(1), "electricity", "fr", name="Zoé Normale", cpas="CPAS-NAMUR",
                     activated_at=ACTIVATED),
        AccountInput(make_ean(2), "gas", "fr", name="Marc Coupé", cpas="CPAS-NAMUR",
                     activated_at=ACTIVATED),
        AccountInput(make_ean(3), "electricity", "nl", name="Anna Laag", cpas="CPAS-NAMUR",
                     activated_at=ACTIVATED),
        AccountInput(make_ean(4), "gas", "de", name="Andere Gemeinde", cpas="ÖSHZ-EUPEN",
                     activated_at=ACTIVATED)])
    await ledger.post_consumption([ConsumptionInput(make_ean(2), date(2026, 10, 1), 3700),
                                   ConsumptionInput(make_ean(3), date(2026, 10, 1), 1600)])
    await ledger.close()


def portal_settings(database_url: str) -> Settings:
    return dataclasses.replace(Settings(), database_url=database_url, portal_secret="s" * 32,
                               portal_secure_cookies=False)  # the tests speak plain http


@pytest.fixture
async def client(database_url, clock):
    await populate(database_url, clock)
    app = create_app(portal_settings(database_url), clock=clock)
    async with TestClient(logged_server(app)) as test_client:
        yield test_client


async def form_token(client, path: str) -> str:
    answer = await client.get(path)
    return CSRF.search(await answer.text()).group(1)


async def log_in(client, password: str = PASSWORD):
    token = await form_token(client, "/cpas/login")
    return await client.post("/cpas/login", data={"csrf": token, "username": "a.dupont",
                                                   "password": password}, allow_redirects=False)


async def test_pages_need_a_session(client):
    answer = await client.get("/cpas/", allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/cpas/login")


async def test_log_in_see_the_residents_who_need_help_first_then_log_out(client):
    answer = await log_in(client)
    assert answer.status == 303
    cookie = answer.cookies["saldo_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    page = await (await client.get("/cpas/")).text()
    names = NAMES.findall(page)
    assert names == ["Marc Coupé", "Anna Laag", "Zoé Normale"]  # disconnected, low, normal
    assert "Andere Gemeinde" not in page and make_ean(4)[5:] not in page
    assert "Coupé</span>" in page and "Solde bas" in page
    token = CSRF.search(page).group(1)
    await client.post("/cpas/logout", data={"csrf": token})
    answer = await client.get("/cpas/", allow_redirects=False)
    assert answer.status == 303


async def test_search_by_name_or_digits_and_sort(client):
    await log_in(client)
    page = await (await client.get("/cpas/", params={"q": "zoe"})).text()
    assert NAMES.findall(page) == ["Zoé Normale"]
    page = await (await client.get("/cpas/", params={"q": make_ean(3)[-6:]})).text()
    assert NAMES.findall(page) == ["Anna Laag"]
    page = await (await client.get("/cpas/", params={"sort": "name"})).text()
    assert NAMES.findall(page) == [
        "Anna Laag", "Marc Coupé", "Zoé Normale"]


async def test_a_form_without_its_csrf_token_is_refused(client):
    answer = await client.post("/cpas/login", data={"username": "a.dupont",
                                                     "password": PASSWORD})
    assert answer.status == 403
    assert "saldo_session" not in answer.cookies


async def test_wrong_passwords_then_the_lockout_and_one_answer_for_all(client):
    answers = [await log_in(client, "wrong password!") for _ in range(5)]
    texts = {await answer.text() for answer in answers}
    assert {a.status for a in answers} == {401} and len(texts) == 1  # wrong or locked: alike
    assert "bloqué pendant quinze minutes" in texts.pop()  # the rule is said, not the state
    assert (await log_in(client)).status == 401  # locked, even with the right password
    token = await form_token(client, "/cpas/login")
    unknown = await client.post("/cpas/login", data={"csrf": token, "username": "nobody.here",
                                                      "password": PASSWORD})
    assert unknown.status == 401


async def test_a_new_log_in_in_the_same_browser_ends_the_old_session(client):
    old = (await log_in(client)).cookies["saldo_session"].value
    await log_in(client)
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"saldo_session": old})
    answer = await client.get("/cpas/", allow_redirects=False)
    assert answer.status == 303  # the old session is gone


async def test_a_bad_amount_for_a_meter_not_under_mandate_is_not_found(client):
    await log_in(client)
    token = await form_token(client, "/cpas/")
    for ean in (make_ean(4)[5:], "0000000009999"):
        answer = await client.post(f"/cpas/residents/{ean}/topup",
                                   data={"csrf": token, "amount": "abc", "reference": "R-9"})
        assert answer.status == 404


async def test_the_language_is_chosen_and_remembered(client):
    await log_in(client)
    token = await form_token(client, "/cpas/")
    await client.post("/cpas/language", data={"csrf": token, "language": "nl", "back": "/cpas/"})
    page = await (await client.get("/cpas/")).text()
    assert '<html lang="nl">' in page and "Inwoners onder mandaat" in page
    answer = await client.post("/cpas/language", allow_redirects=False, data={
        "csrf": token, "language": "de", "back": "https://elsewhere.example/"})
    assert answer.headers["Location"] == "/cpas/"  # never sent elsewhere


async def test_pages_carry_security_headers(client):
    answer = await client.get("/cpas/login")
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"


async def test_a_resident_page_and_an_office_top_up(client):
    await log_in(client)
    page = await (await client.get(f"/cpas/residents/{make_ean(2)[5:]}")).text()
    assert "Marc Coupé" in page and "-18,00" in page
    assert "coup" in page.lower()  # the phone line's sentence: the meter is cut off
    token = CSRF.search(page).group(1)
    answer = await client.post(f"/cpas/residents/{make_ean(2)[5:]}/topup", allow_redirects=False,
                               data={"csrf": token, "amount": "25,00", "reference": "RECU-7"})
    assert answer.status == 303
    page = await (await client.get(answer.headers["Location"])).text()
    assert "Rechargement enregistré. Nouveau solde : 7,00" in page
    again = await client.post(f"/cpas/residents/{make_ean(2)[5:]}/topup",
                              data={"csrf": token, "amount": "25,00", "reference": "RECU-7"})
    assert "déjà enregistré" in await again.text()


async def test_a_bad_amount_is_explained_and_nothing_changes(client):
    await log_in(client)
    page = await (await client.get(f"/cpas/residents/{make_ean(3)[5:]}")).text()
    token = CSRF.search(page).group(1)
    answer = await client.post(f"/cpas/residents/{make_ean(3)[5:]}/topup",
                               data={"csrf": token, "amount": "4,99", "reference": "RECU-8"})
    assert answer.status == 422
    text = await answer.text()
    assert 'role="alert"' in text and 'value="4,99"' in text
    assert "3,00" in text  # the balance as it was


async def test_another_cpass_resident_is_not_found_by_url(client):
    await log_in(client)
    answer = await client.get(f"/cpas/residents/{make_ean(4)[5:]}")
    unknown = await client.get("/cpas/residents/0000000009999")
    assert answer.status == unknown.status == 404
    assert "Andere Gemeinde" not in await answer.text()


async def test_the_resident_page_draws_its_60_days_on_the_server(client):
    await log_in(client)
    answer = await client.get(f"/cpas/residents/{make_ean(3)[5:]}")
    page = await answer.text()
    svg = page[page.index("<svg"):page.index("</svg>") + 6]
    assert 'role="img"' in svg and "Les 60 derniers jours" in svg
    assert svg.count('class="consumption"') == 1  # one posted day
    assert "<script" not in page and "style=" not in page  # the CSP allows neither
