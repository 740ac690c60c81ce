"""The outbox in the ledger's database: each event and channel gives one message at most, every
outcome is recorded, delivery reports move a message forward only, in any order."""

import sqlite3
from datetime import timedelta

import pytest

from ledger import GaveUp, Ledger, NewMessage, NonDisconnectionPeriod, Retry, Sent
from tests.conftest import make_ean
from tests.integration.test_ledger import EAN, activate

MOBILE, EMAIL = "+32470000001", "client.fictif@example.be"


def customer_sms_and_email(event, contacts):
    """A plan that tells the customer by every channel on file."""
    now = event.at
    if contacts.mobile:
        yield NewMessage("customer", "sms", contacts.mobile, contacts.language, now)
    if contacts.email:
        yield NewMessage("customer", "email", contacts.email, contacts.language, now)


def sms_only(event, contacts):
    yield NewMessage("customer", "sms", contacts.mobile, contacts.language, event.at)


async def queued_sms(ledger, **details):
    await activate(ledger, mobile=MOBILE, **details)
    assert await ledger.outbox.queue(sms_only) == (1, 1)
    [message] = await ledger.outbox.claim_due()
    return message


async def test_each_event_gives_its_messages_once(ledger):
    await activate(ledger, mobile=MOBILE, email=EMAIL)
    assert await ledger.outbox.queue(customer_sms_and_email) == (1, 2)
    assert await ledger.outbox.queue(customer_sms_and_email) == (0, 0)
    claimed = await ledger.outbox.claim_due()
    assert sorted((m.channel, m.address, m.event.name) for m in claimed) == [
        ("email", EMAIL, "PrepaymentActivated"), ("sms", MOBILE, "PrepaymentActivated")]
    assert await ledger.outbox.counts() == {"sending": 2}


async def test_a_plan_naming_one_channel_twice_gives_one_message(ledger):
    await activate(ledger, mobile=MOBILE)

    def twice(event, contacts):
        yield from sms_only(event, contacts)
        yield from sms_only(event, contacts)

    assert await ledger.outbox.queue(twice) == (1, 1)


async def test_a_message_waits_for_its_time(ledger, clock):
    await activate(ledger, mobile=MOBILE)

    def tomorrow(event, contacts):
        yield NewMessage("customer", "sms", MOBILE, "fr", clock.now() + timedelta(hours=10))

    await ledger.outbox.queue(tomorrow)
    assert await ledger.outbox.claim_due() == []
    clock.advance(timedelta(hours=10))
    assert len(await ledger.outbox.claim_due()) == 1


async def test_a_claimed_message_is_not_claimed_again_until_its_sender_is_presumed_dead(
        ledger, clock):
    first = await queued_sms(ledger)
    assert (first.attempts, first.uncertain) == (1, False)
    assert await ledger.outbox.claim_due() == []
    clock.advance(timedelta(minutes=3))
    [again] = await ledger.outbox.claim_due(lease=timedelta(minutes=2))
    assert (again.id, again.attempts, again.uncertain) == (first.id, 2, True)


async def test_claims_take_the_earliest_due_first_whether_new_or_left_by_a_dead_sender(
        ledger, clock):
    """Stale claims and queued messages are claimed together, in their due order, `limit` at
    most."""
    first = await queued_sms(ledger)  # claimed, then its sender dies
    eans = [make_ean(serial) for serial in (31, 32, 33)]
    for minutes, ean in enumerate(eans, start=1):
        await activate(ledger, ean, mobile=f"+3247000003{minutes}")

        def later(event, contacts, minutes=minutes):
            yield NewMessage("customer", "sms", contacts.mobile, "fr",
                             clock.now() + timedelta(minutes=minutes))

        assert await ledger.outbox.queue(later) == (1, 1)
    clock.advance(timedelta(minutes=5))
    lease = timedelta(minutes=2)
    claimed = await ledger.outbox.claim_due(limit=2, lease=lease)
    assert [(m.id == first.id, m.uncertain, m.address) for m in claimed] == [
        (True, True, MOBILE), (False, False, "+32470000031")]
    rest = await ledger.outbox.claim_due(limit=5, lease=lease)
    assert [m.address for m in rest] == ["+32470000032", "+32470000033"]
    assert await ledger.outbox.claim_due(limit=5, lease=lease) == []


async def test_sent_retry_and_a_late_outcome(ledger, clock):
    message = await queued_sms(ledger)
    await ledger.outbox.record([Retry(message.id, "Twilio 503", clock.now() + timedelta(minutes=1))])
    assert await ledger.outbox.counts() == {"queued": 1}
    clock.advance(timedelta(minutes=1))
    [again] = await ledger.outbox.claim_due()
    await ledger.outbox.record([Sent(again.id, "SM" + "1" * 32)])
    await ledger.outbox.record([Retry(again.id, "late", clock.now())])  # ignored: not sending
    [record] = await ledger.outbox.messages_for(EAN)
    assert (record.state, record.attempts, record.error) == ("sent", 2, None)


async def test_an_undeliverable_sms_goes_by_e_mail_when_there_is_one(ledger):
    message = await queued_sms(ledger, email=EMAIL)
    await ledger.outbox.record([GaveUp(message.id, "Twilio 21614: not a mobile", True)])
    [fallback] = await ledger.outbox.claim_due()
    assert (fallback.channel, fallback.address, fallback.event.name) == (
        "email", EMAIL, "PrepaymentActivated")
    states = {r.channel: r.state for r in await ledger.outbox.messages_for(EAN)}
    assert states == {"sms": "undeliverable", "email": "sending"}


async def test_no_fallback_without_another_address_or_when_it_was_already_sent(ledger):
    message = await queued_sms(ledger)
    await ledger.outbox.record([GaveUp(message.id, "retries exhausted", False)])
    assert await ledger.outbox.claim_due() == []
    await activate(ledger, make_ean(2), mobile="+32470000002", email=EMAIL)
    await ledger.outbox.queue(customer_sms_and_email)
    sms = next(m for m in await ledger.outbox.claim_due() if m.channel == "sms")
    await ledger.outbox.record([GaveUp(sms.id, "Twilio 21211", True)])
    assert await ledger.outbox.counts() == {"failed": 1, "undeliverable": 1, "sending": 1}


async def test_delivery_reports_in_any_order_and_any_number_of_times(ledger):
    message = await queued_sms(ledger)
    sid = "SM" + "2" * 32
    assert await ledger.outbox.report(sid, "delivered") is False  # before the send is recorded
    await ledger.outbox.record([Sent(message.id, sid)])
    [record] = await ledger.outbox.messages_for(EAN)
    assert record.state == "delivered"  # the report kept was applied with the send
    for status in ("sent", "delivered", "sent", "failed"):
        assert await ledger.outbox.report(sid, status) is True
    [record] = await ledger.outbox.messages_for(EAN)
    assert record.state == "delivered"
    assert record.reported_at is not None


async def test_an_undelivered_report_before_the_send_is_recorded_falls_back(ledger):
    message = await queued_sms(ledger, email=EMAIL)
    sid = "SM" + "4" * 32
    assert await ledger.outbox.report(sid, "undeliverable") is False
    await ledger.outbox.record([Sent(message.id, sid)])
    assert await ledger.outbox.counts() == {"undeliverable": 1, "queued": 1}


async def test_an_undelivered_report_falls_back_once(ledger):
    message = await queued_sms(ledger, email=EMAIL)
    sid = "SM" + "3" * 32
    await ledger.outbox.record([Sent(message.id, sid)])
    await ledger.outbox.report(sid, "undeliverable")
    await ledger.outbox.report(sid, "undeliverable")
    assert await ledger.outbox.counts() == {"undeliverable": 1, "queued": 1}


async def test_a_cpas_registers_where_its_residents_serious_events_go(ledger):
    contact = await ledger.outbox.register_cpas_contact("CPAS-NAMUR", mobile="0470 99 88 77",
                                                        email=None, language="fr")
    assert contact.mobile == "+32470998877"
    await activate(ledger, mobile=MOBILE, cpas="CPAS-NAMUR")
    seen = []

    def record_contacts(event, contacts):
        seen.append(contacts.cpas)
        return []

    await ledger.outbox.queue(record_contacts)
    assert seen == [contact]


@pytest.mark.sqlite_only
async def test_events_from_before_the_outbox_are_history(database_url, clock, tmp_path):
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    await activate(ledger, mobile=MOBILE)
    await ledger.close()
    # The database as the previous version left it: no outbox yet.
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.executescript("DROP TABLE outbox; DROP TABLE cpas_contacts; DROP TABLE delivery_reports;"
                       "DELETE FROM meta WHERE key = 'outbox_cursor';"
                       "UPDATE meta SET value = '1' WHERE key = 'schema_version';")
    conn.close()
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        assert await ledger.outbox.queue(sms_only) == (0, 0)
        await activate(ledger, make_ean(2), mobile="+32470000002")
        assert await ledger.outbox.queue(sms_only) == (1, 1)
    finally:
        await ledger.close()


async def test_a_database_from_before_supersession_is_upgraded_and_keeps_its_messages(
        database_url, clock):
    from sqlalchemy import text

    first = await Ledger.open(database_url, clock=clock)
    await activate(first, mobile=MOBILE)
    assert await first.outbox.queue(sms_only) == (1, 1)
    async with first.engine.begin() as conn:  # the outbox as schema 4 had it
        await conn.execute(text("ALTER TABLE outbox DROP COLUMN superseded_by"))
        await conn.execute(text("UPDATE meta SET value = '4' WHERE key = 'schema_version'"))
    await first.close()
    second = await Ledger.open(database_url, clock=clock)
    try:
        [message] = await second.outbox.messages_for(EAN)
        assert (message.event_name, message.state, message.superseded_by_event) == (
            "PrepaymentActivated", "queued", None)
        assert await second.upgrade() == 0  # done once, at the opening
    finally:
        await second.close()


async def test_the_kept_counts_are_the_counted_ones_through_every_change(ledger, clock):
    """GET /metrics reads the counts the outbox's triggers keep (migration 11): after every kind
    of change, folded or not, they are what counting the messages gives."""
    import random

    from sqlalchemy import func, select

    from ledger import Postponed, Withheld, schema

    async def counted() -> dict:
        o = schema.outbox
        async with ledger.store.reading() as conn:
            return {(state, channel): n for state, channel, n in await conn.execute(
                select(o.c.state, o.c.channel, func.count()).group_by(o.c.state, o.c.channel))}

    async def check() -> None:
        assert await ledger.outbox.counts_by_channel() == await counted()

    rng = random.Random(17)
    for n in range(1, 41):
        await activate(ledger, make_ean(n), mobile=f"+3247000{n:04d}", email=f"c{n}@example.be")
    await ledger.outbox.queue(customer_sms_and_email)
    await check()
    for round_ in range(4):
        claimed = await ledger.outbox.claim_due()
        outcomes = []
        for message in claimed:
            kind = rng.choice(["sent", "sent", "retry", "gave_up", "withheld", "postponed"])
            if kind == "sent":
                outcomes.append(Sent(message.id, f"SM{round_}{message.id:031d}"))
            elif kind == "retry":
                outcomes.append(Retry(message.id, "busy", clock.now()))
            elif kind == "gave_up":  # an SMS falls back to e-mail: a message added
                outcomes.append(GaveUp(message.id, "bad number", rng.random() < 0.5))
            elif kind == "withheld":
                outcomes.append(Withheld(message.id))
            else:
                outcomes.append(Postponed(message.id, clock.now()))
        await ledger.outbox.record(outcomes[: len(outcomes) // 2])  # two batches: both paths
        await ledger.outbox.record([x for x in outcomes[len(outcomes) // 2:]
                                    if isinstance(x, Sent)])
        await ledger.outbox.record([x for x in outcomes[len(outcomes) // 2:]
                                    if not isinstance(x, Sent)])
        await check()
        for outcome in outcomes:
            if isinstance(outcome, Sent) and rng.random() < 0.5:
                await ledger.outbox.report(outcome.provider_id,
                                           rng.choice(["delivered", "undeliverable"]))
        await check()
        if round_ % 2:
            assert await ledger.outbox.fold_tally() > 0
            await check()
            assert await ledger.outbox.fold_tally() == 0  # folded already
    t = schema.outbox_tally
    async with ledger.store.reading() as conn:
        rows = (await conn.execute(select(func.count()).select_from(t))).scalar_one()
    assert rows <= len(await counted()) + 40  # folded: about a row per state and channel

