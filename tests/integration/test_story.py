"""A month of a handful of customers, as they live it: the real import, consumption postings,
top-ups, ticks and worker, a real SMTP server and Twilio's API spoken by a local server. What
each customer and their CPAS receive is then read as a whole: one message per posting and
channel, none contradicting an earlier one, every top-up confirmed in the worker's next pass, no
withdrawn message ever sent."""

import random
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest

from ledger import BRUSSELS, ConsumptionInput
from tests.conftest import make_ean
from tests.integration.test_notifications import (  # noqa: F401  (fixtures)
    MONDAY_9, clock, customer, dispatcher, ledger, mailbox, prism, twilio, twilio_port,
)

pytestmark = pytest.mark.slow

DAYS = 30
CPAS, CPAS_MOBILE = "CPAS-5000", "+32470999999"
CUSTOMERS = [  # number, language, energy, details
    (1, "fr", "electricity", dict(cpas=CPAS)),
    (2, "nl", "gas", dict(notify="sms")),
    (3, "de", "electricity", dict(power_limiter=True, notify="email")),
    (4, "fr", "electricity", dict(cpas=CPAS, notify="sms")),
    (5, "nl", "electricity", dict()),
]
# How serious the state each message tells of is; a later message may not tell of a milder
# state unless a top-up or a reconnection said the supply came back (that resets what was told).
SEVERITY = {"PrepaymentActivated": 0, "LowCredit": 1, "EmergencyCreditStarted": 2,
            "DisconnectionPending": 3, "Disconnected": 4, "PowerLimited": 4}
TOPUP_SEVERITY = {"credited": 0, "cut_avoided": 0, "reconnection": 0, "emergency": 2,
                  "still_pending": 3, "still_off": 4}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BRUSSELS)


class Month:
    """Drives the month and checks, after each top-up, that the next pass confirms it."""

    def __init__(self, ledger, dispatcher, clock, rng):
        self.ledger, self.dispatcher, self.clock, self.rng = ledger, dispatcher, clock, rng
        self.references = 0

    async def pass_at(self, moment: datetime):
        self.clock.set(moment)
        return await self.dispatcher.run_once()

    async def top_up(self, number: int, cents: int, moment: datetime):
        self.clock.set(moment)
        self.references += 1
        await self.ledger.top_up(make_ean(number), cents, self.rng.choice(["online", "terminal"]),
                                 f"R-{self.references}", actor="story")
        await self.dispatcher.run_once()
        receipts = [m for m in await self.ledger.outbox.messages_for(make_ean(number))
                    if m.event_name == "TopUpReceived" and m.created_at == moment]
        assert receipts and all(m.state == "sent" for m in receipts), (number, moment, receipts)

    async def balance(self, number: int):
        return await self.ledger.balance_view(make_ean(number), actor="story")

    async def live(self, start: date):
        for offset in range(DAYS):
            today = start + timedelta(days=offset)
            yesterday = today - timedelta(days=1)
            # 06:30, in the night's protection and in quiet hours: yesterday's readings, some of
            # them a fall across several lines at once.
            rows = [ConsumptionInput(make_ean(n), yesterday, self.consumption())
                    for n, *_ in CUSTOMERS if yesterday >= start]
            if rows:
                self.clock.set(at(today, 6, 30))
                await self.ledger.post_consumption(rows)
            await self.pass_at(at(today, 6, 31))
            for number, *_ in CUSTOMERS:  # told of a cut at 08:00, some pay before it; some
                view = await self.balance(number)  # see their meter's display run low
                if ((view.state == "disconnection_pending" and self.rng.random() < 0.6)
                        or (view.state == "low" and self.rng.random() < 0.4)):
                    await self.top_up(number, self.amount(view), at(today, 7, 15))
            self.clock.set(at(today, 8, 5))
            await self.ledger.tick()
            await self.pass_at(at(today, 8, 6))
            if rows and self.rng.random() < 0.3:  # a reading corrected in the day
                row = self.rng.choice(rows)
                self.clock.set(at(today, 11, 0))
                await self.ledger.post_consumption([row._replace(
                    amount_cents=max(0, row.amount_cents + self.rng.choice([-900, 700, 2400])))])
                await self.pass_at(at(today, 11, 1))
            for number, *_ in CUSTOMERS:
                await self.maybe_top_up(number, today)
            self.clock.set(at(today, 16, 5))
            await self.ledger.tick()
            await self.pass_at(at(today, 16, 6))
            await self.pass_at(at(today, 22, 0))

    def consumption(self) -> int:
        if self.rng.random() < 0.18:
            return self.rng.randint(1500, 3800)  # a cold day, or a misread index
        return self.rng.randint(150, 900)

    async def maybe_top_up(self, number: int, today: date):
        view = await self.balance(number)
        if view.balance_cents >= 600 or self.rng.random() < 0.35:
            return
        moment = at(today, *self.rng.choice([(12, 15), (17, 40), (23, 20)]))  # at night too
        await self.top_up(number, self.amount(view), moment)

    def amount(self, view) -> int:
        if view.minimum_topup_cents and self.rng.random() < 0.4:  # not quite enough
            return max(500, view.minimum_topup_cents - self.rng.randint(100, 600))
        return self.rng.choice([1000, 2000, 3000, 5000])


def told_in_order(records, events_by_key):
    """The messages sent, in the order they were sent, each with its event."""
    sent = sorted((m for m in records if m.sent_at is not None), key=lambda m: (m.sent_at, m.id))
    return [(m, events_by_key[(m.event_name, m.event_at)]) for m in sent]


def check_the_story(told, who):
    severity = 0
    for message, event in told:
        if event.name == "TopUpReceived":
            severity = TOPUP_SEVERITY[event.outcome]
        elif event.name == "ReconnectionAllowed":
            severity = 0
        else:
            claimed = SEVERITY[event.name]
            assert claimed >= severity, (
                f"{who}: {event.name} sent at {message.sent_at} after being told of a worse state")
            severity = claimed


async def test_a_month_told_as_one_story(ledger, dispatcher, clock, twilio, mailbox):
    start = MONDAY_9.date()
    await ledger.outbox.register_cpas_contact(CPAS, mobile=CPAS_MOBILE, email=None, language="fr")
    await ledger.import_accounts([customer(number, language, energy, **details)
                                  for number, language, energy, details in CUSTOMERS])
    await dispatcher.run_once()
    month = Month(ledger, dispatcher, clock, random.Random(2026))
    await month.live(start)

    events = [event for _, event in await ledger.events_after(0, limit=100_000)]
    # One posting, one event at most per account: the most serious line it crossed.
    per_posting = Counter((event.ean, event.at) for event in events)
    assert max(per_posting.values()) == 1
    # Never news of 0,00 EUR of emergency credit, never a low-credit alert below zero.
    assert not [e for e in events if e.name == "EmergencyCreditStarted"
                and e.emergency_credit_left_cents == 0]
    assert not [e for e in events if e.name == "LowCredit" and e.balance_cents < 0]

    total_sent = Counter()
    covered = {e.name for e in events} | {f"TopUpReceived:{e.outcome}" for e in events
                                           if e.name == "TopUpReceived"}
    superseded = 0
    for number, language, energy, details in CUSTOMERS:
        ean = make_ean(number)
        records = await ledger.outbox.messages_for(ean, limit=10_000)
        mine = {(e.name, e.at): e for e in events if e.ean == ean}
        # Each event, audience and channel: one message at most.
        assert max(Counter((m.event_name, m.event_at, m.audience, m.channel)
                           for m in records).values()) == 1
        withdrawn = [m for m in records if m.state == "superseded"]
        assert all(m.sent_at is None and m.superseded_by_event for m in withdrawn)
        superseded += len(withdrawn)
        customer_told = told_in_order([m for m in records if m.audience == "customer"], mine)
        check_the_story(customer_told, f"customer {number}")
        cpas_told = told_in_order([m for m in records if m.audience == "cpas"], mine)
        customer_events = {(e.name, e.at) for _, e in customer_told}
        for message, event in cpas_told:  # the CPAS hears of serious events its resident heard
            assert event.name in SEVERITY and SEVERITY[event.name] >= 2
            assert (event.name, event.at) in customer_events
        for message in records:
            if message.sent_at is not None:
                total_sent[message.channel] += 1

    # What the customers' and the CPAS's phones and inboxes got is exactly what was recorded sent.
    assert len(twilio.posts) == total_sent["sms"]
    assert len(mailbox.messages) == total_sent["email"]

    # The month went through what the story is about (else this test would prove little).
    assert {"LowCredit", "EmergencyCreditStarted", "DisconnectionPending", "Disconnected",
            "PowerLimited", "TopUpReceived:still_off", "TopUpReceived:reconnection",
            "TopUpReceived:cut_avoided", "TopUpReceived:still_pending"} <= covered, covered
    assert superseded > 0
