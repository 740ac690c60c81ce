"""The CPAS's morning list as the social workers receive it, end to end through the worker's tick
and dispatcher to a real SMTP server: four CPAS over two weeks of November 2026 — working days,
a weekend, Armistice Day (Wednesday 11 November, a public holiday) — residents cut twice, in
emergency credit for a week, cut at the end of a weekend; a CPAS that wants its list every day;
one with only a mobile. Then the same "going without" flag on the pages and in the API."""

import asyncio
from datetime import date, datetime, time, timedelta
from html import unescape

import pytest

from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger, NonDisconnectionPeriod
from ledger import SettableClock
from portal.access import Access
from saldo import worker
from tests.conftest import make_ean
from tests.integration.test_notifications import (  # noqa: F401  (fixtures)
    dispatching,
    mailbox,
    prism,
    twilio,
    twilio_port,
)
from tests.integration.test_portal import NAMES, PASSWORD, log_in, served

pytestmark = pytest.mark.slow  # Prism runs as a process of its own

PORTAL = "https://saldo.example.be/cpas"
LIEGE, GENT, EUPEN, HUY = "CPAS-LIEGE", "OCMW-GENT", "ÖSHZ-EUPEN", "CPAS-HUY"
LIEGE_MAIL, GENT_MAIL, EUPEN_MAIL = ("social@cpas-liege.example.be", "sociaal@ocmw-gent.example.be",
                                     "sozial@oeshz-eupen.example.be")
# Liège: Alice is cut twice in a week (going without), Bruno in emergency credit from Monday 2,
# Chantal exhausted on Friday evening (cut on Monday at 8:00), Didier fine. Ghent: Els limited,
# Frank in emergency credit. Eupen: nobody to call. Huy: a cut meter, but no e-mail address.
ALICE, BRUNO, CHANTAL, DIDIER, ELS, FRANK, GRETA, HUGO = range(1, 9)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)


def resident(number: int, name: str, cpas: str, language: str = "fr", **details) -> AccountInput:
    return AccountInput(make_ean(number), "electricity", language, name=name, cpas=cpas,
                        activated_at=at(2026, 10, 1, 9, 0), notify="none", **details)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(at(2026, 11, 2, 9, 0))


@pytest.fixture
async def dispatcher(ledger, clock, twilio, prism, mailbox):
    async for made in dispatching(ledger, clock, twilio, prism, mailbox, portal_url=PORTAL):
        yield made


async def consume(ledger, clock, moment: datetime, number: int, cents: int) -> None:
    clock.set(moment)
    report = await ledger.post_consumption([ConsumptionInput(make_ean(number),
                                                             moment.date() - timedelta(days=1),
                                                             cents)])
    assert report.errors == []


async def first_week(ledger, clock) -> None:
    """Monday 2 to Sunday 8 November 2026; each meter starts with 20 € of credit."""
    await ledger.import_accounts([
        resident(ALICE, "Alice Dupont", LIEGE), resident(BRUNO, "Bruno Lambert", LIEGE),
        resident(CHANTAL, "Chantal Renard", LIEGE), resident(DIDIER, "Didier Fontaine", LIEGE),
        resident(ELS, "Els Peeters", GENT, "nl", power_limiter=True),
        resident(FRANK, "Frank Claes", GENT, "nl"), resident(GRETA, "Greta Schmitz", EUPEN, "de"),
        resident(HUGO, "Hugo Collard", HUY)])
    await ledger.outbox.register_cpas_contact(LIEGE, mobile=None, email=LIEGE_MAIL, language="fr")
    await ledger.outbox.register_cpas_contact(GENT, mobile=None, email=GENT_MAIL, language="nl")
    await ledger.outbox.register_cpas_contact(EUPEN, mobile=None, email=EUPEN_MAIL, language="de",
                                              daily_list="always")
    await ledger.outbox.register_cpas_contact(HUY, mobile="+32470555000", email=None,
                                              language="fr")
    await consume(ledger, clock, at(2026, 11, 2, 10, 0), BRUNO, 2500)  # -5 €: emergency credit
    await consume(ledger, clock, at(2026, 11, 2, 10, 5), FRANK, 2500)
    await consume(ledger, clock, at(2026, 11, 2, 10, 10), HUGO, 3600)  # cut at once
    await consume(ledger, clock, at(2026, 11, 3, 10, 0), ALICE, 3600)  # cut...
    clock.set(at(2026, 11, 3, 12, 0))
    await ledger.top_up(make_ean(ALICE), 5000, "terminal", "T-1", actor="test")  # ...restored
    await consume(ledger, clock, at(2026, 11, 4, 10, 0), ALICE, 5000)  # cut again
    clock.set(at(2026, 11, 4, 15, 0))
    await ledger.top_up(make_ean(ALICE), 5000, "terminal", "T-2", actor="test")  # restored
    await consume(ledger, clock, at(2026, 11, 4, 11, 0), ELS, 3600)  # limited
    await consume(ledger, clock, at(2026, 11, 6, 17, 0), CHANTAL, 3600)  # Friday evening: pending


async def morning(ledger, dispatcher, clock, moment: datetime) -> None:
    clock.set(moment)
    await worker.run_once(ledger, dispatcher)


def lists_to(mailbox, address: str) -> list:
    return [m for m in mailbox.to(address) if "appeler" in m["Subject"] or "bellen" in m["Subject"]
            or "anzurufen" in m["Subject"]]


def lines_of(mailbox, message) -> list[str]:
    return [line.strip() for line in mailbox.text_of(message).splitlines() if line.strip()]


async def test_each_working_morning_each_cpas_gets_one_list_the_most_urgent_first(
        database_url, ledger, dispatcher, clock, mailbox):
    await first_week(ledger, clock)
    await dispatcher.run_once()
    # The weekend: no list, even at 8:00.
    for day in (7, 8):
        await morning(ledger, dispatcher, clock, at(2026, 11, day, 8, 0))
    assert lists_to(mailbox, LIEGE_MAIL) == [] and lists_to(mailbox, EUPEN_MAIL) == []
    # Monday 9 November: nothing before 8:00...
    await morning(ledger, dispatcher, clock, at(2026, 11, 9, 7, 59))
    assert lists_to(mailbox, LIEGE_MAIL) == []
    # ...then one list each, whatever the number of workers asking at once.
    clock.set(at(2026, 11, 9, 8, 0))
    other = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        await asyncio.gather(worker.tick(ledger), worker.tick(other))
    finally:
        await other.close()
    await dispatcher.run_once()
    await morning(ledger, dispatcher, clock, at(2026, 11, 9, 11, 0))
    [liege] = lists_to(mailbox, LIEGE_MAIL)
    assert liege["Subject"] == "3 résidents à appeler aujourd'hui (lundi 09/11)"
    text = lines_of(mailbox, liege)
    assert "- Se privent d'énergie (coupés deux fois en 30 jours, ou 7 jours en crédit de " \
           "secours) : 1" in text
    assert "- Compteur coupé : 1" in text and "- En crédit de secours : 1" in text
    people = [line for line in text if line[0].isdigit() and ". " in line]
    # Alice first (going without, her supply back), then Chantal (cut at 8:00 at the end of the
    # weekend's protection), then Bruno (emergency credit for 6 days 22 hours: not yet a week).
    assert [p.split(",")[0] for p in people] == ["1. Alice Dupont", "2. Chantal Renard",
                                                  "3. Bruno Lambert"]
    assert "se prive d'énergie" in people[0] and "compteur coupé" in people[1]
    assert "crédit de secours" in people[2] and "se prive" not in people[2]
    assert f"EAN {make_ean(ALICE)[:2]}" not in people[0]  # the code's last digits only
    assert f"{PORTAL}/residents/{make_ean(CHANTAL)[-13:]}" in text
    assert "Didier" not in mailbox.text_of(liege)
    html = liege.get_body(("html",)).get_content()
    assert f'<a href="{PORTAL}/residents/{make_ean(ALICE)[-13:]}">Alice Dupont</a>' in html
    [gent] = lists_to(mailbox, GENT_MAIL)
    assert gent["Subject"] == "2 inwoners om vandaag te bellen (maandag 09/11)"
    gent_text = mailbox.text_of(gent)
    assert gent_text.index("Els Peeters") < gent_text.index("Frank Claes")
    assert "vermogen beperkt" in gent_text and "noodkrediet" in gent_text
    [eupen] = lists_to(mailbox, EUPEN_MAIL)  # nobody to call, but asked for every day
    assert eupen["Subject"] == "Heute kein Einwohner anzurufen (Montag, 09.11.)"
    assert [m["To"] for m in mailbox.messages if "Hugo" in mailbox.text_of(m)] == []  # Huy

    # Tuesday: Bruno has been in emergency credit for a week — he goes without now.
    await morning(ledger, dispatcher, clock, at(2026, 11, 10, 8, 0))
    liege = lists_to(mailbox, LIEGE_MAIL)[-1]
    people = [line for line in lines_of(mailbox, liege) if line[0].isdigit() and ". " in line]
    # Both go without: in the residents list's order, the lower balance first.
    assert [p.split(",")[0] for p in people][:2] == ["1. Bruno Lambert", "2. Alice Dupont"]
    assert "se prive d'énergie" in people[0]
    # Wednesday 11 November, Armistice Day: nobody's list, not even Eupen's.
    sent = len(mailbox.messages)
    await morning(ledger, dispatcher, clock, at(2026, 11, 11, 8, 0))
    await morning(ledger, dispatcher, clock, at(2026, 11, 11, 15, 0))
    assert len(mailbox.messages) == sent
    # Thursday: Chantal has topped up; Liège still has Alice and Bruno.
    clock.set(at(2026, 11, 11, 16, 0))
    await ledger.top_up(make_ean(CHANTAL), 5000, "terminal", "T-3", actor="test")
    await morning(ledger, dispatcher, clock, at(2026, 11, 12, 8, 0))
    assert [len(lists_to(mailbox, address)) for address in (LIEGE_MAIL, GENT_MAIL, EUPEN_MAIL)] \
        == [3, 3, 3]
    assert "Chantal" not in mailbox.text_of(lists_to(mailbox, LIEGE_MAIL)[-1])
    # Each resident in a list is their data given to their CPAS: audited, never logged by name.
    trail = [r for r in await ledger.audit_trail() if r["action"] == "cpas-morning-list"]
    # Monday Liège 3 and Ghent 2, Tuesday 3 and 2, Thursday 2 and 2; Eupen's list had nobody.
    assert len(trail) == 14 and {r["detail"] for r in trail} == {LIEGE, GENT}
    assert all(r["ean"] for r in trail)


async def test_a_cpas_that_wants_no_empty_list_gets_none_on_a_quiet_day(ledger, dispatcher,
                                                                        clock, mailbox):
    await ledger.import_accounts([resident(DIDIER, "Didier Fontaine", LIEGE)])
    await ledger.outbox.register_cpas_contact(LIEGE, mobile=None, email=LIEGE_MAIL, language="fr")
    await morning(ledger, dispatcher, clock, at(2026, 11, 3, 8, 0))
    assert mailbox.to(LIEGE_MAIL) == []
    await ledger.outbox.register_cpas_contact(LIEGE, mobile=None, email=LIEGE_MAIL, language="fr",
                                              daily_list="always")
    await morning(ledger, dispatcher, clock, at(2026, 11, 4, 8, 0))
    [message] = mailbox.to(LIEGE_MAIL)
    assert message["Subject"] == "Aucun résident à appeler aujourd'hui (mercredi 04/11)"
    assert "Aucun résident sous mandat de votre CPAS n'a besoin d'un appel aujourd'hui." \
        in mailbox.text_of(message)


async def test_the_hour_is_the_configurations(ledger, dispatcher, clock, mailbox):
    await ledger.import_accounts([resident(HUGO, "Hugo Collard", LIEGE)])
    await ledger.outbox.register_cpas_contact(LIEGE, mobile=None, email=LIEGE_MAIL, language="fr")
    await consume(ledger, clock, at(2026, 11, 2, 10, 0), HUGO, 3600)
    clock.set(at(2026, 11, 3, 8, 0))
    await worker.run_once(ledger, dispatcher, morning_list_at=time(9, 30))
    assert lists_to(mailbox, LIEGE_MAIL) == []
    clock.set(at(2026, 11, 3, 9, 30))
    await worker.run_once(ledger, dispatcher, morning_list_at=time(9, 30))
    assert len(lists_to(mailbox, LIEGE_MAIL)) == 1


async def test_going_without_shows_first_on_the_pages_and_in_the_api(database_url, ledger, clock,
                                                                     dispatcher):
    await first_week(ledger, clock)
    clock.set(at(2026, 11, 10, 9, 0))
    await worker.run_once(ledger, dispatcher)
    access = await Access.open(ledger.store)
    await access.add_staff("a.dupont", LIEGE, PASSWORD, "fr")
    _, token = await access.add_client("liege office", cpas=LIEGE)
    async for client in served(database_url, clock):
        await log_in(client)
        page = await (await client.get("/cpas/")).text()
        # Bruno and Alice go without (her supply is back): first, the lower balance first;
        # then Chantal, cut.
        assert NAMES.findall(page) == ["Bruno Lambert", "Alice Dupont", "Chantal Renard",
                                       "Didier Fontaine"]
        assert page.count('<span class="badge going_without"') == 2
        alice = await client.get(f"/cpas/residents/{make_ean(ALICE)[-13:]}")
        alice = unescape(await alice.text())
        assert "Se prive d'énergie" in alice and "Coupé deux fois ou plus en 30 jours" in alice
        didier = await (await client.get(f"/cpas/residents/{make_ean(DIDIER)[-13:]}")).text()
        assert "Se prive d'énergie" not in didier
        answer = await client.get("/api/v1/residents",
                                  headers={"Authorization": f"Bearer {token}"})
        body = await answer.json()
        assert [(r["name"], r["going_without"]) for r in body["residents"]] == [
            ("Bruno Lambert", True), ("Alice Dupont", True), ("Chantal Renard", False),
            ("Didier Fontaine", False)]
        one = await client.get(f"/api/v1/residents/{make_ean(BRUNO)[-13:]}",
                               headers={"Authorization": f"Bearer {token}"})
        assert (await one.json())["going_without"] is True


async def test_the_flag_goes_when_the_household_no_longer_goes_without(ledger, clock):
    await ledger.import_accounts([resident(BRUNO, "Bruno Lambert", LIEGE)])
    await consume(ledger, clock, at(2026, 11, 2, 10, 0), BRUNO, 2500)
    clock.set(at(2026, 11, 9, 9, 59))
    assert await ledger.refresh_going_without() == 0
    clock.set(at(2026, 11, 9, 10, 0))  # a week in emergency credit
    assert await ledger.refresh_going_without() == 1
    [listed] = (await ledger.residents(LIEGE, actor="test")).residents
    assert listed.going_without
    await ledger.top_up(make_ean(BRUNO), 2000, "terminal", "T-9", actor="test")
    assert await ledger.refresh_going_without() == 1
    [listed] = (await ledger.residents(LIEGE, actor="test")).residents
    assert not listed.going_without


async def test_two_cuts_count_for_30_days(ledger, clock):
    await ledger.import_accounts([resident(ALICE, "Alice Dupont", LIEGE)])
    await consume(ledger, clock, at(2026, 11, 2, 10, 0), ALICE, 3600)
    clock.set(at(2026, 11, 2, 11, 0))
    await ledger.top_up(make_ean(ALICE), 5000, "terminal", "T-1", actor="test")
    assert await ledger.refresh_going_without() == 0  # once is not yet the sign
    await consume(ledger, clock, at(2026, 12, 1, 10, 0), ALICE, 5000)
    assert await ledger.refresh_going_without() == 1
    clock.set(at(2026, 12, 2, 9, 59))
    assert await ledger.refresh_going_without() == 0
    clock.set(at(2026, 12, 2, 10, 1))  # the first cut is more than 30 days old
    assert await ledger.refresh_going_without() == 1
    [listed] = (await ledger.residents(LIEGE, actor="test")).residents
    assert not listed.going_without and listed.view.state.value == "disconnected"


async def test_a_long_list_names_the_first_hundred_and_counts_the_others(ledger, dispatcher,
                                                                         clock, mailbox):
    await ledger.import_accounts([resident(n, f"Résident {n:03d}", LIEGE)
                                  for n in range(1, 104)])
    await ledger.outbox.register_cpas_contact(LIEGE, mobile=None, email=LIEGE_MAIL, language="fr")
    clock.set(at(2026, 11, 2, 10, 0))
    await ledger.post_consumption([ConsumptionInput(make_ean(n), date(2026, 11, 1), 2000 + n)
                                   for n in range(1, 104)])  # all in emergency credit
    await morning(ledger, dispatcher, clock, at(2026, 11, 3, 8, 0))
    [message] = lists_to(mailbox, LIEGE_MAIL)
    assert message["Subject"] == "103 résidents à appeler aujourd'hui (mardi 03/11)"
    text = lines_of(mailbox, message)
    assert "- En crédit de secours : 103" in text
    people = [line for line in text if line[0].isdigit() and ". " in line]
    # The lowest balance first: the one who consumed most.
    assert len(people) == 100 and people[0].startswith("1. Résident 103,")
    assert "Et 3 autres : voyez la liste des résidents." in text
