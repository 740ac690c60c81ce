"""The CPAS pages over HTTP: log-in, CSRF, the residents in the right order, one CPAS's only;
every word in the staff's language, a page for what is not there, an announced cut with its
moment, the notifications (an overtaken one said so) before the postings, the chart from the
activation."""

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger, NonDisconnectionPeriod
from ledger.outbox import NewMessage
from portal.access import Access
from saldo.app import create_app
from saldo.settings import Settings
from tests.browser import logged_server
from tests.conftest import make_ean
from tests.integration.test_ledger import ACTIVATED

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NAMES = re.compile(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>')
SVG = "{http://www.w3.org/2000/svg}"


async def populate(database_url: str, clock) -> None:
    """A CPAS with three residents (cut off, low, normal), and another CPAS's resident."""
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    access = await Access.open(ledger.store)
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD, "fr")
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


async def served(database_url, clock):
    """The whole app on that database, as a test client."""
    app = create_app(portal_settings(database_url), clock=clock)
    async with TestClient(logged_server(app)) as test_client:
        yield test_client


@pytest.fixture
async def client(database_url, clock):
    await populate(database_url, clock)
    async for test_client in served(database_url, clock):
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


async def test_the_resident_page_draws_its_days_since_the_activation_on_the_server(client):
    await log_in(client)
    answer = await client.get(f"/cpas/residents/{make_ean(3)[5:]}")
    page = unescape(await answer.text())
    svg = page[page.index("<svg"):page.index("</svg>") + 6]
    # Activated on 1 October: 55 days to 24 November, not the 60-day window.
    assert 'role="img"' in svg and "Depuis l'activation du prépaiement le 1er octobre 2026" in svg
    assert svg.count('class="date"') == 8  # one a week, counted back from the last day
    assert svg.count('class="consumption"') == 1  # one posted day
    assert "<script" not in page and "style=" not in page  # the CSP allows neither


# ---- every word in the staff's language -------------------------------------------------------

async def choose(client, language: str) -> None:
    """As a social worker does: the language form, in the page's header."""
    token = await form_token(client, "/cpas/")
    answer = await client.post("/cpas/language", allow_redirects=False,
                               data={"csrf": token, "language": language, "back": "/cpas/"})
    assert answer.status == 303


@pytest.mark.parametrize("language, limits, not_a_number", [
    ("fr", "Rien n'a été enregistré. Un rechargement doit être compris entre 5,00 € et "
     "250,00 €.", "« 4,99x » n'est pas un montant en euros"),
    ("nl", "Er is niets geregistreerd. Een oplading moet tussen € 5,00 en € 250,00 liggen.",
     "“4,99x” is geen bedrag in euro"),
    ("de", "Es wurde nichts erfasst. Eine Aufladung muss zwischen 5,00 € und 250,00 € liegen.",
     "„4,99x“ ist kein Betrag in Euro"),
])
async def test_a_refused_office_top_up_is_explained_in_the_staffs_language(
        client, language, limits, not_a_number):
    await log_in(client)
    await choose(client, language)
    path = f"/cpas/residents/{make_ean(3)[5:]}"
    token = await form_token(client, path)
    for amount, expected in (("4,99", limits), ("4,99x", not_a_number)):
        answer = await client.post(f"{path}/topup", data={"csrf": token, "amount": amount,
                                                          "reference": "RECU-8"})
        assert answer.status == 422
        text = unescape(await answer.text()).replace("\xa0", " ")
        alert = re.search(r'<p class="error" role="alert">([^<]*)</p>', text).group(1)
        assert expected in alert
        assert not re.search(r"lies|between|is not|top-up", alert)  # none of the ledger's English
        assert f'value="{amount}"' in text  # what was typed, kept to correct it


async def test_a_reused_receipt_or_the_meters_own_code_as_reference_is_explained(client):
    await log_in(client)
    await choose(client, "de")
    ean = make_ean(2)[5:]
    token = await form_token(client, f"/cpas/residents/{ean}")
    first = await client.post(f"/cpas/residents/{ean}/topup", allow_redirects=False,
                              data={"csrf": token, "amount": "25,00", "reference": "RECU-7"})
    assert first.status == 303
    for amount, reference, expected in (
            ("30,00", "RECU-7", "Diese Referenz wurde bereits für eine andere Zahlung verwendet."),
            ("30,00", ean, "Die Referenz muss diese Zahlung bezeichnen")):
        answer = await client.post(f"/cpas/residents/{ean}/topup", data={
            "csrf": token, "amount": amount, "reference": reference})
        assert answer.status == 422
        text = unescape(await answer.text())
        assert expected in text and "already used" not in text and "not the meter" not in text
        assert "7,00" in text  # the balance after the first top-up only


# ---- a styled page for what is not there -------------------------------------------------------

async def assert_styled_page(answer, status: int, *, lang: str, says: str) -> str:
    assert answer.status == status
    assert answer.content_type == "text/html"
    text = unescape(await answer.text())
    assert f'<html lang="{lang}">' in text and "/cpas/static/portal.css" in text
    assert says in text and 'href="/cpas/"' in text  # and the way back to the list
    assert "404: Not Found" not in text and "405: Method Not Allowed" not in text
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    return text


async def test_an_unknown_address_under_cpas_gets_a_page_in_the_staffs_language(client):
    await log_in(client)
    await assert_styled_page(await client.get("/cpas/residents/abc"), 404, lang="fr",
                             says="Aucun résident sous mandat de votre CPAS n'a ce code EAN.")
    await assert_styled_page(await client.get("/cpas/nothing"), 404, lang="fr",
                             says="Cette page n'existe pas.")
    await choose(client, "de")
    await assert_styled_page(await client.get("/cpas/nothing/at/all"), 404, lang="de",
                             says="Diese Seite gibt es nicht.")
    await choose(client, "nl")
    await assert_styled_page(await client.get("/cpas/residents/12345"), 404, lang="nl",
                             says="Geen enkele inwoner onder mandaat van uw OCMW")


async def test_a_wrong_method_gets_the_page_too_and_says_what_is_allowed(client):
    await log_in(client)
    answer = await client.get("/cpas/logout")
    await assert_styled_page(answer, 405, lang="fr", says="Cette page n'existe pas.")
    assert answer.headers["Allow"] == "POST"
    token = await form_token(client, "/cpas/")
    answer = await client.post("/cpas/", data={"csrf": token})
    await assert_styled_page(answer, 405, lang="fr", says="Cette page n'existe pas.")
    assert "GET" in answer.headers["Allow"]


async def test_without_a_session_an_unknown_address_leads_to_the_log_in(client):
    for path in ("/cpas/nothing", "/cpas/residents/abc"):
        answer = await client.get(path, allow_redirects=False)
        assert (answer.status, answer.headers["Location"]) == (303, "/cpas/login")


async def test_a_missing_style_sheet_gets_the_page_and_cpas_alone_leads_to_the_list(client):
    sheet = await client.get("/cpas/static/portal.css")
    assert sheet.status == 200 and sheet.content_type == "text/css"
    for path in ("/cpas/static/missing.css", "/cpas/static/..%2Fapp.py"):
        # Public (the log-in page needs its style sheet): answered without a session too.
        await assert_styled_page(await client.get(path), 404, lang="fr",
                                 says="Cette page n'existe pas.")
    await log_in(client)
    answer = await client.get("/cpas", allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/cpas/")
    assert answer.headers["Cache-Control"] == "no-store"


# ---- an evening: a cut announced, a limitation announced, an overtaken message ---------------

TUESDAY_20 = datetime(2026, 11, 24, 20, 0, tzinfo=BRUSSELS)  # inside the NDP: cuts wait
LEA, PAUL, NINA = make_ean(10), make_ean(11), make_ean(12)
NINA_ACTIVATED = TUESDAY_20.replace(hour=9) - timedelta(days=10)  # Saturday 14 November


async def populate_evening(database_url: str, clock) -> None:
    """Léa's cut announced for 08:00 tomorrow, her low-credit SMS (still waiting for the morning)
    overtaken by it; Paul's power limitation announced; Nina activated ten days ago."""
    clock.set(TUESDAY_20)
    await populate(database_url, clock)
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    await ledger.import_accounts([
        AccountInput(LEA, "electricity", "fr", name="Léa Annoncée", mobile="+32470000010",
                     cpas="CPAS-NAMUR", activated_at=ACTIVATED),
        AccountInput(PAUL, "electricity", "fr", name="Paul Limité", power_limiter=True,
                     cpas="CPAS-NAMUR", activated_at=ACTIVATED),
        AccountInput(NINA, "gas", "fr", name="Nina Nouvelle", cpas="CPAS-NAMUR",
                     activated_at=NINA_ACTIVATED)])

    def plan(event, contacts):  # an SMS to the customer, held until the morning
        if contacts.mobile:
            yield NewMessage("customer", "sms", contacts.mobile, contacts.language,
                             TUESDAY_20 + timedelta(hours=12))

    def overtaken(later, earlier_name: str) -> bool:
        return earlier_name == "LowCredit"

    await ledger.post_consumption([ConsumptionInput(LEA, date(2026, 11, 22), 1600)])
    await ledger.outbox.queue(plan, overtaken=overtaken)  # Léa: low credit, queued
    await ledger.post_consumption([
        ConsumptionInput(LEA, date(2026, 11, 23), 2100),
        ConsumptionInput(PAUL, date(2026, 11, 23), 3700),
        ConsumptionInput(NINA, date(2026, 11, 16), 300),
        ConsumptionInput(NINA, date(2026, 11, 20), 450)])
    await ledger.outbox.queue(plan, overtaken=overtaken)  # Léa: cut announced
    await ledger.close()


@pytest.fixture
async def evening(database_url, clock):
    await populate_evening(database_url, clock)
    async for test_client in served(database_url, clock):
        yield test_client


def row_of(page: str, name: str) -> str:
    start = page.index(f">{name}</a>")
    return page[start:page.index("</tr>", start)]


@pytest.mark.parametrize("language, cut, limited", [
    ("fr", "Coupure annoncée pour le mercredi 25/11 à 08:00",
     "Limitation de puissance annoncée pour le mercredi 25/11 à 08:00"),
    ("nl", "Afsluiting aangekondigd voor woensdag 25/11 om 08:00",
     "Vermogensbeperking aangekondigd voor woensdag 25/11 om 08:00"),
    ("de", "Abschaltung angekündigt für Mittwoch, 25.11. um 08:00",
     "Leistungsbegrenzung angekündigt für Mittwoch, 25.11. um 08:00"),
])
async def test_the_list_says_when_an_announced_cut_or_limitation_comes(evening, language, cut,
                                                                       limited):
    await log_in(evening)
    await choose(evening, language)
    page = unescape(await (await evening.get("/cpas/")).text())
    assert cut in row_of(page, "Léa Annoncée")
    assert limited in row_of(page, "Paul Limité")
    attention = page[:page.index(evening_texts(language)["others"])]
    assert {"Léa Annoncée", "Paul Limité", "Marc Coupé"} <= set(NAMES.findall(attention))


@pytest.mark.parametrize("language, cut", [
    ("fr", "Coupure annoncée pour le mercredi 25 novembre 2026 à 08:00"),
    ("nl", "Afsluiting aangekondigd voor woensdag 25 november 2026 om 08:00"),
    ("de", "Abschaltung angekündigt für Mittwoch, 25. November 2026 um 08:00"),
])
async def test_the_resident_page_says_when_the_cut_comes(evening, language, cut):
    await log_in(evening)
    await choose(evening, language)
    page = unescape(await (await evening.get(f"/cpas/residents/{LEA[5:]}")).text())
    state = re.search(r'<span class="badge disconnection_pending">([^<]*)</span>', page).group(1)
    assert state == cut


@pytest.mark.parametrize("language, overtaken", [
    ("fr", "Remplacé par « Coupure annoncée », pas envoyé"),
    ("nl", "Vervangen door “Afsluiting aangekondigd”, niet verstuurd"),
    ("de", "Ersetzt durch „Abschaltung angekündigt“, nicht gesendet"),
])
async def test_the_notifications_come_before_the_postings_and_an_overtaken_one_says_so(
        evening, language, overtaken):
    await log_in(evening)
    await choose(evening, language)
    page = unescape(await (await evening.get(f"/cpas/residents/{LEA[5:]}")).text())
    assert page.index('id="messages"') < page.index('id="postings"')
    messages = page[page.index('id="messages"'):page.index('id="postings"')]
    rows = re.findall(r"<tr><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td>.*?"
                      r'<td class="delivery (\w+)"[^>]*>([^<]*)</td></tr>', messages, re.S)
    texts = evening_texts(language)
    assert (texts["event_LowCredit"], "superseded", overtaken) in rows
    assert (texts["event_DisconnectionPending"], "queued", texts["delivery_queued"]) in rows


def evening_texts(language: str) -> dict[str, str]:
    path = Path(__file__).resolve().parents[2] / "locales" / language / "portal.json"
    return json.loads(path.read_text(encoding="utf-8"))


async def test_the_chart_of_a_resident_activated_ten_days_ago_starts_at_the_activation(evening):
    await log_in(evening)
    page = await (await evening.get(f"/cpas/residents/{NINA[5:]}")).text()
    title = "Depuis l'activation du prépaiement le 14 novembre 2026"
    assert re.search(r'<h2 id="history">([^<]*)</h2>', unescape(page)).group(1) == title
    svg = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6])
    assert svg.find(f"{SVG}title").text == title
    (line,) = [e for e in svg.iter(f"{SVG}polyline") if e.get("class") == "balance"]
    assert len(line.get("points").split()) == 11  # 14 to 24 November, one point a day
    dates = [e.text for e in svg.iter(f"{SVG}text") if e.get("class") == "date"]
    assert dates == ["24/11", "17/11"]  # nothing before the 14th
    bars = [e for e in svg.iter(f"{SVG}rect") if e.get("class") == "consumption"]
    assert len(bars) == 2
    await choose(evening, "de")
    page = unescape(await (await evening.get(f"/cpas/residents/{NINA[5:]}")).text())
    assert "Seit der Aktivierung der Vorauszahlung am 14. November 2026" in page


async def test_the_list_comes_a_page_of_50_at_a_time_with_the_counts_on_top(client, database_url,
                                                                             clock):
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    await ledger.import_accounts([AccountInput(make_ean(200 + n), "gas", "fr",
                                               name=f"Bewoner {n:02d}", cpas="CPAS-NAMUR",
                                               activated_at=ACTIVATED) for n in range(60)])
    await ledger.close()
    await log_in(client)
    first = unescape(await (await client.get("/cpas/")).text())
    names = NAMES.findall(first)
    assert len(names) == 50 and names[:2] == ["Marc Coupé", "Anna Laag"]  # who needs help first
    assert re.search(r"Coupé</span> <strong>1</strong>", first)
    assert re.search(r"Normal</span> <strong>61</strong>", first)
    assert "Page 1 sur 2 (63 résidents)" in first and 'rel="prev"' not in first
    following = re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
    assert following == "/cpas/?sort=attention&page=2"
    second = unescape(await (await client.get(following)).text())
    assert len(NAMES.findall(second)) == 13 and not set(NAMES.findall(second)) & set(names)
    assert 'rel="next"' not in second and 'rel="prev"' in second
    found = unescape(await (await client.get("/cpas/", params={"q": "bewoner 5",
                                                               "sort": "name"})).text())
    assert NAMES.findall(found) == [f"Bewoner {n}" for n in range(50, 60)]
    assert "Normal</span> <strong>61</strong>" in found  # the counts are of everyone
    beyond = unescape(await (await client.get("/cpas/", params={"page": "99"})).text())
    assert "Page 2 sur 2" in beyond
    for odd in ("0", "-1", "abc", "١", "9" * 5000):
        assert (await client.get("/cpas/", params={"page": odd})).status == 200
