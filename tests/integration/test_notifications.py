"""From ledger events to delivered messages: a real SMTP server (aiosmtpd), and Twilio's Messages
API spoken by a local server, reached through the twilio library itself and Prism, which refuses
(422) any request that breaks Twilio's OpenAPI description."""

import asyncio
import dataclasses
import random
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger, NonDisconnectionPeriod
from ledger import SettableClock
from messaging.dispatch import Dispatcher
from messaging.mail import SmtpMail, SmtpServer
from messaging.pacing import Backoff, SendRate
from messaging.render import MessageTemplates
from messaging.routing import QuietHours, Router
from messaging.sms import TwilioSms
from saldo.app import create_app
from saldo.settings import Settings
from tests.browser import logged_server
from tests.conftest import make_ean
from tests.mailbox import Mailbox
from tests.twilio_api import PrismProxy, TwilioApi, free_port

pytestmark = pytest.mark.slow  # Prism runs as a process of its own

LOCALES = Path(__file__).resolve().parents[2] / "locales"
MONDAY_9 = datetime(2026, 11, 16, 9, 0, tzinfo=BRUSSELS)
SENDER = "ORES prépaiement <saldo@ores.example>"
STATUS_URL = "https://saldo.example.be/sms/status"


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def twilio_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def prism(twilio_port):
    with PrismProxy(f"http://127.0.0.1:{twilio_port}") as proxy:
        yield proxy


@pytest.fixture
async def twilio(twilio_port):
    async with TwilioApi(port=twilio_port) as api:
        yield api


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(MONDAY_9)


@pytest.fixture
async def ledger(database_url, clock):
    opened = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    yield opened
    await opened.close()


async def dispatching(ledger, clock, twilio, prism, mailbox, portal_url: str | None = None):
    """The worker's dispatcher, to the local Twilio API (through Prism) and aiosmtpd."""
    sms = TwilioSms(twilio.account_sid, twilio.auth_token, "+32460200000", api_url=prism.url,
                    status_callback=STATUS_URL, timeout=2.0)
    mail = SmtpMail(SmtpServer("127.0.0.1", mailbox.port, use_tls=False), SENDER, timeout=5.0)
    yield Dispatcher(ledger, MessageTemplates.load(LOCALES, portal_url=portal_url),
                     Router(QuietHours()), sms=sms, mail=mail, sms_rate=SendRate(1000),
                     mail_rate=SendRate(1000), backoff=Backoff(first=timedelta(seconds=30),
                                                               max_attempts=3),
                     clock=clock, rng=random.Random(7))
    await sms.close()


@pytest.fixture
async def dispatcher(ledger, clock, twilio, prism, mailbox):
    async for made in dispatching(ledger, clock, twilio, prism, mailbox):
        yield made


def customer(number: int, language: str, energy: str = "electricity", **details) -> AccountInput:
    details.setdefault("mobile", f"+3247000{number:04d}")
    details.setdefault("email", f"client.{number}@example.be")
    details.setdefault("notify", "sms+email")
    details.setdefault("activated_at", MONDAY_9)
    return AccountInput(ean=make_ean(number), energy=energy, language=language, **details)


async def live_through_a_week(ledger, dispatcher, clock, language: str):
    """Every event, as the worker would see them: meter 1 (gas) runs low, into the emergency
    credit, is cut off at the end of the non-disconnection period and topped up; meter 2
    (electricity, power limiter) goes straight to a limited supply, and is restored when its
    index is corrected."""
    await ledger.import_accounts([customer(1, language, "gas"),
                                  customer(2, language, power_limiter=True)])
    await dispatcher.run_once()
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=BRUSSELS))  # Tuesday, outside the NDP
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 16), 1600),
                                   ConsumptionInput(make_ean(2), date(2026, 11, 16), 3600)])
    await dispatcher.run_once()
    clock.set(datetime(2026, 11, 18, 10, 0, tzinfo=BRUSSELS))  # Wednesday morning
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 17), 500)])
    await dispatcher.run_once()
    clock.set(datetime(2026, 11, 18, 17, 0, tzinfo=BRUSSELS))  # inside the NDP: a corrected day
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 17), 2000)])
    await dispatcher.run_once()
    clock.set(datetime(2026, 11, 19, 8, 30, tzinfo=BRUSSELS))  # Thursday, the NDP has ended
    await ledger.tick()
    await dispatcher.run_once()
    clock.set(datetime(2026, 11, 19, 9, 0, tzinfo=BRUSSELS))
    await ledger.top_up(make_ean(1), 5000, "terminal", "T-77", actor="test")
    await dispatcher.run_once()
    clock.set(datetime(2026, 11, 19, 9, 30, tzinfo=BRUSSELS))  # meter 2's Monday was misread
    await ledger.post_consumption([ConsumptionInput(make_ean(2), date(2026, 11, 16), 1000)])
    await dispatcher.run_once()


EVERY_EVENT = {"PrepaymentActivated", "LowCredit", "EmergencyCreditStarted", "PowerLimited",
               "DisconnectionPending", "Disconnected", "TopUpReceived", "ReconnectionAllowed"}


@pytest.mark.parametrize("language", ["fr", "nl", "de"])
async def test_every_event_reaches_the_customer_by_sms_and_e_mail(
        ledger, dispatcher, clock, twilio, prism, mailbox, language):
    await live_through_a_week(ledger, dispatcher, clock, language)
    events = [event for _, event in await ledger.events_after(0)]
    assert {e.name for e in events} == EVERY_EVENT
    posts = twilio.posts
    assert len(posts) == len(events)  # one SMS per event, each sent once
    assert len(mailbox.messages) == len(events)
    templates = dispatcher.templates
    assert sorted(p.form["Body"] for p in posts) == sorted(templates.sms(e) for e in events)
    # A long subject is folded after "Subject:"; unfolded, it keeps that one space.
    assert sorted(m["Subject"].strip() for m in mailbox.messages) == sorted(
        templates.email(e).subject for e in events)
    for post in posts:
        assert post.form["From"] == "+32460200000"
        assert post.form["StatusCallback"] == STATUS_URL
        assert post.form["To"] in ("+32470000001", "+32470000002")
    for message in mailbox.messages:
        assert message["From"] == SENDER
        assert message["To"] in ("client.1@example.be", "client.2@example.be")
        assert message.get_body(("html",)) is not None
        assert message["Message-ID"].startswith("<saldo-message-")
    assert await ledger.outbox.counts() == {"sent": 2 * len(events)}
    assert prism.violations() == [] or all("Unable to match the returned status code" in line
                                           for line in prism.violations())


async def test_amounts_and_times_are_written_for_the_customer(ledger, dispatcher, clock,
                                                              twilio):
    await live_through_a_week(ledger, dispatcher, clock, "nl")
    bodies = [p.form["Body"] for p in twilio.posts if p.form["To"] == "+32470000001"]
    assert any("€ 3,00" in body for body in bodies)  # 20 € − 16 € used − 1 € start credit
    assert any("08:00" in body for body in bodies)  # cut off when the NDP ends, Thursday 08:00


async def activated_at_night(ledger, dispatcher, clock, **details):
    clock.set(datetime(2026, 11, 16, 22, 30, tzinfo=BRUSSELS))
    await ledger.import_accounts([customer(1, "fr", activated_at=clock.now(), **details)])
    return await dispatcher.run_once()


async def test_informative_messages_wait_for_the_morning(ledger, dispatcher, clock, twilio):
    done = await activated_at_night(ledger, dispatcher, clock, notify="sms")
    assert (done.queued, done.sent) == (1, 0)
    clock.set(datetime(2026, 11, 17, 7, 59, tzinfo=BRUSSELS))
    assert (await dispatcher.run_once()).sent == 0
    clock.set(datetime(2026, 11, 17, 8, 0, tzinfo=BRUSSELS))
    assert (await dispatcher.run_once()).sent == 1
    assert len(twilio.posts) == 1


async def test_disconnection_messages_go_at_once_at_night(ledger, dispatcher, clock, twilio):
    await ledger.import_accounts([customer(1, "fr", notify="sms")])
    await dispatcher.run_once()  # Monday 09:00: the welcome message
    clock.set(datetime(2026, 11, 17, 23, 0, tzinfo=BRUSSELS))  # Tuesday night, inside the NDP
    # One day's consumption crosses the threshold, 0 and -15 EUR: one message, the most serious.
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 16), 3700)])
    done = await dispatcher.run_once()
    assert (done.queued, done.sent) == (1, 1)
    assert [e.name for _, e in await ledger.events_after(0)] == [
        "PrepaymentActivated", "DisconnectionPending"]
    body = twilio.posts[-1].form["Body"]
    assert "sera coupé le" in body and "Solde bas" not in body and "0,00" not in body


async def test_a_busy_twilio_is_tried_again_later_and_sends_once(ledger, dispatcher, clock,
                                                                 twilio):
    await ledger.import_accounts([customer(1, "de", notify="sms")])
    twilio.fail_next(503, method="POST")
    assert (await dispatcher.run_once()).retried == 1
    clock.advance(timedelta(seconds=31))  # the back-off: 15 to 30 s after the first try
    assert (await dispatcher.run_once()).sent == 1
    assert [r.status for r in twilio.requests if r.method == "POST"] == [503, 201]


async def test_an_sms_whose_answer_was_lost_is_found_not_sent_again(ledger, dispatcher, clock,
                                                                    twilio):
    await ledger.import_accounts([customer(1, "fr", notify="sms")])
    twilio.drop_next(method="POST")  # Twilio takes it, the answer never arrives
    assert (await dispatcher.run_once()).retried == 1
    clock.advance(timedelta(minutes=1))
    assert (await dispatcher.run_once()).sent == 1
    assert len(twilio.posts) == 1
    assert len(twilio.messages) == 1


async def test_a_worker_killed_between_send_and_record_neither_loses_nor_repeats(
        ledger, dispatcher, clock, twilio):
    await ledger.import_accounts([customer(1, "nl", notify="sms")])
    await dispatcher.queue_events()
    # What a worker killed at the worst moment leaves: claimed, sent, never recorded.
    [claimed] = await ledger.outbox.claim_due()
    body = dispatcher.templates.sms(claimed.event, language="nl")
    await dispatcher.sms.send(claimed.address, body)
    assert (await dispatcher.run_once()).sent == 0  # still within its lease
    clock.advance(timedelta(minutes=3))
    assert (await dispatcher.run_once()).sent == 1
    assert len(twilio.posts) == 1
    assert await ledger.outbox.counts() == {"sent": 1}


@pytest.mark.sqlite_only
async def test_an_outcome_that_cannot_be_recorded_fails_the_pass_and_is_neither_lost_nor_repeated(
        ledger, dispatcher, clock, twilio, tmp_path):
    """Outcomes are recorded while the next batch is claimed and sent. A record that fails
    still fails the pass; its messages stay claimed, and once their lease is over the next pass
    finds them at Twilio instead of sending them again."""
    await ledger.import_accounts([customer(n, "fr", notify="sms") for n in range(1, 6)])
    await dispatcher.queue_events()
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.execute("CREATE TRIGGER refuse_third BEFORE UPDATE OF state ON outbox WHEN NEW.id = 3 "
                 "AND NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    conn.commit()
    dispatcher.batch = 2
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        await dispatcher.send_due()
    conn.execute("DROP TRIGGER refuse_third")
    conn.commit()
    conn.close()
    counts = await ledger.outbox.counts()
    assert counts["sending"] >= 1 and sum(counts.values()) == 5
    clock.advance(timedelta(minutes=3))  # past the lease
    # The claimed ones, found at Twilio, and any the failed pass had not yet claimed.
    assert (await dispatcher.send_due()).sent == 5 - counts.get("sent", 0)
    assert await ledger.outbox.counts() == {"sent": 5}
    assert len(twilio.posts) == 5


async def test_a_landline_gets_the_message_by_e_mail(ledger, dispatcher, twilio, mailbox):
    await ledger.import_accounts([customer(1, "fr", notify="sms")])
    twilio.reject_next(21614)
    done = await dispatcher.run_once()
    assert (done.sent, done.gave_up) == (1, 1)  # the e-mail went in the same pass
    assert len(mailbox.to("client.1@example.be")) == 1
    states = {r.channel: r.state for r in await ledger.outbox.messages_for(make_ean(1))}
    assert states == {"sms": "undeliverable", "email": "sent"}


async def test_smtp_refusals_temporary_then_permanent(ledger, dispatcher, clock, mailbox):
    await ledger.import_accounts([customer(1, "fr", notify="email", mobile=None)])
    mailbox.refuse_next("451 4.3.0 Try again later")
    assert (await dispatcher.run_once()).retried == 1
    clock.advance(timedelta(minutes=1))
    mailbox.refuse_next("550 5.1.1 No such user here")
    assert (await dispatcher.run_once()).gave_up == 1
    [record] = await ledger.outbox.messages_for(make_ean(1))
    assert (record.state, record.attempts) == ("undeliverable", 2)
    assert mailbox.messages == []


async def test_retries_stop_at_the_limit(ledger, dispatcher, clock, twilio):
    await ledger.import_accounts([customer(1, "fr", notify="sms", email=None)])
    twilio.fail_next(500, method="POST", times=3)
    for _ in range(3):
        await dispatcher.run_once()
        clock.advance(timedelta(hours=1))
    [record] = await ledger.outbox.messages_for(make_ean(1))
    assert (record.state, record.attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in record.error


@pytest.fixture
async def server(database_url, clock, twilio):
    """`saldo serve` as Twilio reaches it: delivery reports come to PUBLIC_BASE_URL/sms/status."""
    settings = dataclasses.replace(Settings(), database_url=database_url,
                                   public_base_url="https://saldo.example.be",
                                   twilio_auth_token=twilio.auth_token)
    async with logged_server(create_app(settings, clock=clock)) as test_server:
        twilio.callback_base_url = str(test_server.make_url("/"))
        yield test_server


async def test_delivery_reports_in_any_order_any_number_of_times(
        ledger, dispatcher, twilio, mailbox, server):
    await ledger.import_accounts([customer(1, "fr", notify="sms"),
                                  customer(2, "fr", notify="sms")])
    await dispatcher.run_once()
    sid_to = {message["to"]: sid for sid, message in twilio.messages.items()}
    first, second = sid_to["+32470000001"], sid_to["+32470000002"]
    for status in ("delivered", "sent", "delivered", "queued"):
        assert await twilio.send_status(first, status) == 204
    assert await twilio.send_status(second, "undelivered", error_code=30003) == 204
    states = {r.channel: r.state for r in await ledger.outbox.messages_for(make_ean(1))}
    assert states == {"sms": "delivered"}
    states = {r.channel: r.state for r in await ledger.outbox.messages_for(make_ean(2))}
    assert states == {"sms": "undeliverable", "email": "queued"}  # it goes by e-mail instead
    await dispatcher.run_once()
    assert len(mailbox.to("client.2@example.be")) == 1


async def test_a_forged_delivery_report_changes_nothing(ledger, dispatcher, twilio, server):
    await ledger.import_accounts([customer(1, "fr", notify="sms")])
    await dispatcher.run_once()
    [sid] = twilio.messages
    async with aiohttp.ClientSession() as session, session.post(  # unsigned
            server.make_url("/sms/status"), data={"MessageSid": sid, "MessageStatus": "failed"}
    ) as forged:
        assert forged.status == 403
    [record] = await ledger.outbox.messages_for(make_ean(1))
    assert record.state == "sent"


async def test_on_sigterm_the_worker_finishes_its_batch_and_claims_no_more(
        ledger, dispatcher, twilio):
    await ledger.import_accounts([customer(n, "fr", notify="sms", email=None)
                                  for n in range(1, 7)])
    await dispatcher.queue_events()
    dispatcher.batch = 2
    stop = asyncio.Event()
    twilio.delay_next(0.3, method="POST", times=2)  # the first batch is in flight…
    sending = asyncio.create_task(dispatcher.send_due(stop))
    while len(twilio.posts) < 2:
        await asyncio.sleep(0.01)
    stop.set()  # …when SIGTERM comes
    done = await sending
    assert done.sent == 2  # finished and recorded
    assert await ledger.outbox.counts() == {"sent": 2, "queued": 4}  # the rest left for later


async def test_a_slow_pace_never_lets_another_worker_take_over_a_batch_in_hand(
        database_url, twilio, mailbox):
    """A claim is taken over after the lease, as its worker's death: a worker must be done
    with its batch well within it, whatever pace SMS_PER_SECOND sets, or the other worker
    sends what it has not sent yet a second time."""
    ledger = await Ledger.open(database_url)  # the real clock: the pace is real time
    senders = []

    def worker() -> Dispatcher:
        sms = TwilioSms(twilio.account_sid, twilio.auth_token, "+32460200000",
                        api_url=twilio.url, timeout=2.0)
        senders.append(sms)
        mail = SmtpMail(SmtpServer("127.0.0.1", mailbox.port, use_tls=False), SENDER)
        return Dispatcher(ledger, MessageTemplates.load(LOCALES), Router(None), sms=sms,
                          mail=mail, sms_rate=SendRate(4), mail_rate=SendRate(4),
                          lease=timedelta(seconds=2))

    try:
        await ledger.import_accounts([customer(n, "fr", notify="sms", email=None,
                                               activated_at=None) for n in range(1, 13)])
        first, second = worker(), worker()
        await first.queue_events()
        sending = asyncio.create_task(first.send_due())  # 12 SMS at 4 a second: 3 s
        await asyncio.sleep(2.5)  # past the lease of a claim made at the start
        await second.send_due()
        await sending
        assert len(twilio.posts) == 12
        assert await ledger.outbox.counts() == {"sent": 12}
    finally:
        for sms in senders:
            await sms.close()
        await ledger.close()


async def low_credit_held_for_the_morning(ledger, dispatcher, clock, twilio):
    """Tuesday 22:30: Monday's consumption takes the meter below its threshold; the alert waits
    for 08:00."""
    await ledger.import_accounts([customer(1, "fr", notify="sms")])
    await dispatcher.run_once()  # Monday 09:00: the welcome message
    clock.set(datetime(2026, 11, 17, 22, 30, tzinfo=BRUSSELS))
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 16), 1600)])
    done = await dispatcher.run_once()
    assert (done.queued, done.sent) == (1, 0)
    assert len(twilio.posts) == 1


async def sent_by_the_morning(dispatcher, clock, twilio) -> list[str]:
    clock.set(datetime(2026, 11, 18, 8, 5, tzinfo=BRUSSELS))
    await dispatcher.run_once()
    return [post.form["Body"] for post in twilio.posts[1:]]


async def test_a_held_low_credit_alert_is_withdrawn_once_the_meter_is_cut(
        ledger, dispatcher, clock, twilio):
    await low_credit_held_for_the_morning(ledger, dispatcher, clock, twilio)
    clock.set(datetime(2026, 11, 17, 23, 0, tzinfo=BRUSSELS))  # the day was misread: 36 EUR
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 16), 3600)])
    done = await dispatcher.run_once()
    assert (done.queued, done.sent) == (1, 1)  # the pending cut, at once
    bodies = await sent_by_the_morning(dispatcher, clock, twilio)
    assert len(bodies) == 1 and "sera coupé le" in bodies[0]  # and no "Solde bas" at 08:00
    messages = await ledger.outbox.messages_for(make_ean(1))
    low = next(m for m in messages if m.event_name == "LowCredit")
    assert (low.state, low.superseded_by_event, low.sent_at) == (
        "superseded", "DisconnectionPending", None)
    assert await ledger.outbox.counts() == {"sent": 2, "superseded": 1}


async def test_a_top_up_at_night_is_confirmed_at_once_and_withdraws_the_held_alert(
        ledger, dispatcher, clock, twilio):
    await low_credit_held_for_the_morning(ledger, dispatcher, clock, twilio)
    clock.set(datetime(2026, 11, 17, 23, 40, tzinfo=BRUSSELS))  # quiet hours
    await ledger.top_up(make_ean(1), 2000, "online", "WEB-1", actor="test")
    done = await dispatcher.run_once()
    assert (done.queued, done.sent) == (1, 1)
    assert "Votre rechargement de 20,00 €" in twilio.posts[-1].form["Body"]
    assert await sent_by_the_morning(dispatcher, clock, twilio) == [twilio.posts[1].form["Body"]]
    low = next(m for m in await ledger.outbox.messages_for(make_ean(1))
               if m.event_name == "LowCredit")
    assert (low.state, low.superseded_by_event) == ("superseded", "TopUpReceived")


async def test_a_partial_top_up_of_a_cut_meter_says_how_much_more(ledger, dispatcher, clock,
                                                                  twilio):
    await ledger.import_accounts([customer(1, "fr", notify="sms")])
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=BRUSSELS))  # Tuesday, outside the NDP
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 16), 4000)])
    await dispatcher.run_once()
    assert "est coupé" in twilio.posts[-1].form["Body"]
    balance = (await ledger.balance_view(make_ean(1), actor="test")).balance_cents
    await ledger.top_up(make_ean(1), 1000, "terminal", "T-1", actor="test")
    await dispatcher.run_once()
    more = 50 - (balance + 1000)  # 0,50 EUR restores the supply
    body = twilio.posts[-1].form["Body"]
    assert "trop peu pour rétablir l'électricité" in body
    assert f"au moins {more // 100},{more % 100:02d} €" in body
    view = await ledger.balance_view(make_ean(1), actor="test")
    assert view.minimum_topup_cents == more  # the line and the pages give the same figure


async def test_a_balance_asked_for_on_the_line_is_one_sms_to_the_mobile_on_file_at_once(
        ledger, dispatcher, clock, twilio, mailbox):
    """Menu 4 of the balance line: by SMS though the customer chose e-mail, in the call's
    language, at night too (asked for now), once though the webhook came twice."""
    await ledger.import_accounts([customer(1, "fr", notify="email")])
    await dispatcher.run_once()  # the welcome, by e-mail
    mails = len(mailbox.messages)
    clock.set(datetime(2026, 11, 17, 22, 30, tzinfo=BRUSSELS))  # within quiet hours
    for expected in ("queued", "already"):
        assert await ledger.request_balance_sms(make_ean(1), actor="ivr:test", language="nl",
                                                request="call:CA42") == expected
    done = await dispatcher.run_once()
    assert (done.queued, done.sent) == (1, 1)
    [post] = twilio.posts
    [(_, event)] = [(i, e) for i, e in await ledger.events_after(0) if e.name == "BalanceRequested"]
    assert post.form["To"] == "+32470000001" and post.form["Body"] == dispatcher.templates.sms(event)
    assert post.form["Body"].startswith("Saldo van uw elektriciteitsmeter")
    assert len(mailbox.messages) == mails  # no e-mail for it
    assert (await dispatcher.run_once()).sent == 0


async def test_an_alert_changed_on_the_line_is_confirmed_by_sms_to_the_number_on_file(
        ledger, dispatcher, clock, twilio):
    await ledger.import_accounts([customer(1, "de", notify="email")])
    await dispatcher.run_once()
    assert await ledger.set_alerts(make_ean(1), actor="ivr:test", language="de",
                                   request="call:CA7", threshold_cents=2000) == "changed"
    assert (await dispatcher.run_once()).sent == 1
    [post] = twilio.posts
    assert post.form["To"] == "+32470000001" and "20,00" in post.form["Body"]
    assert post.form["Body"].startswith("Gespeichert")
