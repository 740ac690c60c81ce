"""A year in minutes (issue 13): meters, seasons, top-ups from every channel, the worker and the
dispatcher, quiet hours and the non-disconnection period across DST and holidays — with faults
injected at points drawn from the seed — and the invariants checked every simulated day.

    python -m tests.simulation.year --seed 1 --days 365 [--meters 1000] [--database-url URL]
        [--start 2026-01-01]

Time is a ledger.SettableClock moved by hand: nothing sleeps for simulated time. The same seed
gives the same actions and faults (random.Random(seed); the customers decide on the simulation's
own books, never on what a racing sender did). What runs is the project's own code: the Ledger's
service functions, saldo.worker's pass, the Dispatcher of saldo.sending.open_dispatcher with the
real TwilioSms (against tests/twilio_api.py) and SmtpMail (against tests/mailbox.py); the worker
killed with SIGKILL is tests/simulation/sender.py, the same pass in a process of its own.

Faults: the sender killed mid-batch (then another takes over after the lease), Twilio 429 / 5xx /
timeouts / dropped connections, SMTP down for hours or answering 4xx, and the database
restarted (PostgreSQL: every backend of the simulation's database terminated, mid-operation;
SQLite: the Ledger closed and opened again).

Every day: the books sum to zero; each book is the sum of its postings; each balance and debt is
what the simulation computed on its own; every event is told once on each channel planned, or
its message superseded, or failed with a reason; nothing is stuck; no SMS went twice to Twilio
for one message (and every SMS Twilio has is some message's); no e-mail twice unless its
sender was killed holding it; no cut inside the NDP, none pending after it ended; no informative
message due inside the quiet hours. Exits 1 on a violation, naming the first.

Twilio's delivery reports come twice a day, at 12:30 and at a random time of the night: a
failure reported at night queues the other channel's message, which must still wait for the
end of the quiet hours.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import heapq
import math
import random
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ledger import (
    BRUSSELS, TOPUP_CHANNELS, AccountInput, ConsumptionInput, Contacts, CpasContact,
    InvalidInput, Ledger, ReferenceConflict, SettableClock, UnknownAccount, read_accounts,
    read_consumption, schema,
)
from ledger.clock import from_text, to_text
from ledger.db import reading
from ledger.ean import with_check_digit
from ledger.events import event_from_row
from ledger.morning import is_working_day
from ledger.rules import START_CREDIT_CENTS, START_CREDIT_DAILY_CENTS
from messaging.routing import AT_ONCE_EVENTS, QuietHours, Router
from saldo import worker
from saldo.app import locales_dir, open_ledger
from saldo.sending import open_dispatcher
from tests.mailbox import Mailbox, _free_port
from tests.twilio_api import TwilioApi

from .setup import EAN_PREFIX as PREFIX, LEASE_SECONDS, sending_settings, tune

ROOT = Path(__file__).resolve().parents[2]
# Made-up people (tests/conftest.py looks for these in the logs).
MADE_UP = (dict(name="Aline Simulée"), dict(name="Bram Verzonnen"), dict(name="Greta Erdacht"),
           dict(name="Noé Fictif"), dict(name="Lotte Bedacht"), dict(name="Jules Inventé"))
CPAS_OFFICES = tuple(f"CPAS-SIM-{letter}" for letter in "ABCDEFGH")
CPAS_WITH_CONTACT = CPAS_OFFICES[:5]
LANGUAGES = ("fr",) * 6 + ("nl",) * 3 + ("de",)
DB_ERRORS = (DBAPIError, OSError, ConnectionError)
FAULTS_PER_YEAR = {"sigkill": 6, "twilio_429": 12, "twilio_5xx": 12, "twilio_timeout": 5,
                   "twilio_drop": 6, "smtp_down": 4, "smtp_4xx": 6, "db_restart": 6}
# Where customers pay (every one of ledger.TOPUP_CHANNELS; the CPAS desk for its residents).
CHANNEL_WEIGHTS = {"terminal": 40, "online": 25, "transfer": 15, "cpas": 20, "agent": 3}
assert set(CHANNEL_WEIGHTS) == set(TOPUP_CHANNELS), "a channel the simulation does not know"
TOLD = {"sent", "delivered"}
GIVEN_UP = {"failed", "undeliverable"}


@dataclass
class Config:
    seed: int = 1
    days: int = 365
    meters: int = 1000
    start: date = date(2026, 1, 1)
    database_url: str | None = None  # None: a SQLite file in a temporary folder
    work_dir: Path | None = None  # where the CSV files and the sender's logs go
    progress: bool = False  # a line on standard error every 30 simulated days


@dataclass
class Customer:
    index: int
    ean: str
    energy: str
    language: str
    notify: str
    mobile: str | None
    email: str | None
    cpas: str | None
    power_limiter: bool
    threshold: int
    transferred: int | None
    name: str
    base: int  # cents a day, before the season
    habit: str  # prompt | late | erratic
    joins_on: int  # the day index of its import
    balance: int = 0  # the simulation's own books
    debts: list[list[int]] = field(default_factory=list)  # [outstanding, daily]
    active: bool = False
    activated_on: date | None = None
    consumed: dict[date, int] = field(default_factory=dict)
    topup_pending: bool = False
    account_id: int | None = None

    def account_input(self, threshold: int | None = None) -> AccountInput:
        return AccountInput(ean=self.ean, energy=self.energy, language=self.language,
                            name=self.name, mobile=self.mobile, email=self.email,
                            notify=self.notify, threshold_cents=threshold or self.threshold,
                            transferred_cents=self.transferred, power_limiter=self.power_limiter,
                            cpas=self.cpas)


@dataclass
class Figures:
    days: int = 0
    meters: int = 0
    actions: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    checks_passed: Counter = field(default_factory=Counter)
    checks_failed: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    db_errors: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    messages: dict = field(default_factory=dict)
    postings: int = 0
    twilio_messages: int = 0
    twilio_posts: int = 0
    emails_received: int = 0
    emails_twice_in_doubt: int = 0
    digest: str = ""
    wall_seconds: float = 0.0
    seconds: Counter = field(default_factory=Counter)  # wall time by kind of action

    @property
    def first_violation(self) -> str | None:
        return self.violations[0] if self.violations else None

    def report(self) -> str:
        lines = [f"days {self.days}, meters {self.meters}, postings {self.postings}, "
                 f"events {sum(self.events.values())}",
                 "events: " + ", ".join(f"{k} {v}" for k, v in sorted(self.events.items())),
                 "messages: " + ", ".join(f"{channel}/{state} {n}" for (state, channel), n
                                          in sorted(self.messages.items(),
                                                    key=lambda kv: (kv[0][1], kv[0][0]))),
                 f"twilio: {self.twilio_posts} POSTs, {self.twilio_messages} messages; "
                 f"mailbox: {self.emails_received} e-mails "
                 f"({self.emails_twice_in_doubt} again after a kill, allowed)",
                 "actions: " + ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items())),
                 "faults: " + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())),
                 "database errors met (retried): " + (", ".join(
                     f"{k} {v}" for k, v in sorted(self.db_errors.items())) or "none"),
                 f"invariant checks: {sum(self.checks_passed.values())} passed, "
                 f"{sum(self.checks_failed.values())} failed",
                 "  " + ", ".join(f"{k} {self.checks_passed[k]}/{self.checks_passed[k] + self.checks_failed[k]}"
                                  for k in sorted(set(self.checks_passed) | set(self.checks_failed))),
                 f"actions digest {self.digest}",
                 f"wall time {self.wall_seconds:.1f} s (" + ", ".join(
                     f"{k} {v:.1f}" for k, v in self.seconds.most_common()) + ")"]
        if self.violations:
            lines.append(f"FIRST VIOLATION: {self.violations[0]}")
            lines.append(f"({len(self.violations)} violations in all)")
        else:
            lines.append("no violation")
        return "\n".join(lines)


class KillingTwilioApi(TwilioApi):
    """tests/twilio_api.py's TwilioApi, with a hook run once a request is handled (a POST's
    message created) and before its answer leaves: a sender killed then has sent the SMS and
    never learns it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.after_post = None

    async def _handle(self, request):
        response = await super()._handle(request)
        if self.after_post is not None:
            self.after_post()
        return response


class FixedPortMailbox(Mailbox):
    """tests/mailbox.py's Mailbox, started again on the same port after an outage."""

    def start(self) -> "FixedPortMailbox":
        from aiosmtpd.controller import Controller
        self.port = self.port or _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    @property
    def running(self) -> bool:
        return self._controller is not None


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


def season(energy: str, day: date) -> float:
    """1 on average; gas ~2.2 in mid-January, ~0.2 in July; electricity ±30 %."""
    wave = math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)
    return max(0.15, 1 + 1.2 * wave) if energy == "gas" else 1 + 0.3 * wave


def stable(*parts) -> float:
    """A number in [0, 1) from its parts: decisions that must not draw from the actions' rng."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


class Simulation:
    def __init__(self, config: Config):
        self.config = config
        self.rng = random.Random(config.seed)  # the actions and the faults' schedule
        # How a fault plays out once it is due (which pass, how long into it): apart, so that
        # the actions stay the seed's whatever a racing sender did.
        self.fault_rng = random.Random(f"{config.seed}/faults")
        self.figures = Figures(meters=config.meters)
        self.trace = hashlib.sha256()
        self.clock = SettableClock(local(config.start, 0))
        self.heap: list = []
        self.seq = 0
        self.customers: list[Customer] = []
        self.by_ean: dict[str, Customer] = {}
        self.references = Counter()
        self.cpas_receipts = Counter()
        self.in_doubt: set[int] = set()  # messages `sending` when their sender died
        self.checked_events = 0  # the events told, all checked (a watermark)
        self.message_ids: Counter = Counter()  # the e-mails received, by Message-ID
        self.mails_counted = 0
        self.kill_wanted = 0
        self.restart_wanted = 0
        self.dirty = True
        self.smtp_back_at: datetime | None = None
        self.paid: list[tuple[str, str, int]] = []  # (ean, reference, amount) of earlier top-ups
        self.router = Router(QuietHours())
        self.quiet = QuietHours()
        self.ledger: Ledger | None = None
        self.dispatcher = None
        self.stack: AsyncExitStack | None = None

    # ---- the run ----------------------------------------------------------------------------

    async def run(self) -> Figures:
        began = time.monotonic()
        config = self.config
        with tempfile.TemporaryDirectory(prefix="saldo-year-") as scratch:
            self.work = Path(config.work_dir or scratch)
            self.work.mkdir(parents=True, exist_ok=True)
            self.database_url = config.database_url or f"sqlite:///{self.work / 'year.db'}"
            self.api = KillingTwilioApi(clock=self.clock.now)
            await self.api.start()
            self.mailbox = FixedPortMailbox().start()
            self.settings = sending_settings(self.database_url, self.api.url, self.mailbox.port)
            try:
                await self.open_worker()
                await self.populate()
                self.schedule_faults()
                for index in range(config.days):
                    await self.simulate_day(index)
                    self.figures.days = index + 1
                    if config.progress and (index + 1) % 30 == 0:
                        print(f"day {index + 1}: {time.monotonic() - began:.0f} s, "
                              f"{len(self.figures.violations)} violations", file=sys.stderr,
                              flush=True)
                await self.drain()
                await self.final_checks()
            finally:
                await self.close_worker()
                await self.api.close()
                if self.mailbox.running:
                    self.mailbox.stop()
        self.figures.digest = self.trace.hexdigest()[:16]
        self.figures.wall_seconds = time.monotonic() - began
        return self.figures

    async def open_worker(self) -> None:
        """The Ledger and the Dispatcher, as `saldo worker` opens them."""
        self.stack = AsyncExitStack()
        self.ledger = await open_ledger(self.settings, self.clock)
        self.stack.push_async_callback(self.ledger.close)
        dispatcher = await self.stack.enter_async_context(open_dispatcher(
            self.settings, self.ledger, self.clock, locales_dir(self.settings)))
        self.dispatcher = tune(dispatcher, self.config.seed)

    async def close_worker(self) -> None:
        if self.stack is not None:
            stack, self.stack = self.stack, None
            await stack.aclose()

    def record(self, *parts) -> None:
        self.trace.update(repr(parts).encode())

    def set_clock(self, moment: datetime) -> None:
        if moment > self.clock.now():  # never back: a kill's take-over moved it on
            self.clock.set(moment)

    def push(self, moment: datetime, priority: int, kind: str, *payload) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (moment, priority, self.seq, kind, payload))

    async def retrying(self, label: str, operation):
        """A caller's retry after the database went away (every input replays safely)."""
        for attempt in range(40):
            try:
                return await operation()
            except DB_ERRORS:
                self.figures.db_errors[label] += 1
                if attempt == 39:
                    raise
                await asyncio.sleep(0.05)

    # ---- the people -------------------------------------------------------------------------

    async def populate(self) -> None:
        rng, config = self.rng, self.config
        names = [made_up["name"] for made_up in MADE_UP]
        for i in range(config.meters):
            energy = "gas" if rng.random() < 0.4 else "electricity"
            notify = rng.choices(("sms", "email", "sms+email", "none"), (45, 20, 25, 10))[0]
            mobile = f"+3247{(i * 7919) % 10_000_000:07d}" if "sms" in notify or rng.random() < 0.5 else None
            email = (f"client{i}@example.be" if "email" in notify or rng.random() < 0.3 else None)
            if notify == "sms" and not mobile or notify == "email" and not email:
                notify = "none"
            transferred = rng.choice((None,) * 8 + (-500, 800, 1500, 3500))
            customer = Customer(
                index=i, ean=with_check_digit(f"{PREFIX}{700_000_000_000 + i:012d}"),
                energy=energy, language=rng.choice(LANGUAGES), notify=notify, mobile=mobile,
                email=email, cpas=rng.choice(CPAS_OFFICES) if rng.random() < 0.25 else None,
                power_limiter=energy == "electricity" and rng.random() < 0.15,
                threshold=rng.choice((500, 500, 500, 1000, 300)), transferred=transferred,
                name=f"{names[i % len(names)]} {i}",
                base=rng.randint(120, 420) if energy == "electricity" else rng.randint(100, 450),
                habit=rng.choices(("prompt", "late", "erratic"), (50, 35, 15))[0],
                joins_on=0 if rng.random() < 0.75 else rng.randint(1, max(1, config.days * 2 // 3)))
            if customer.mobile and stable(config.seed, "not-mobile", i) < 0.01:
                self.api.not_mobile.add(customer.mobile)  # Twilio: 21614, then e-mail
            self.customers.append(customer)
            self.by_ean[customer.ean] = customer
        for k, cpas in enumerate(CPAS_WITH_CONTACT):
            await self.retrying("cpas-contact", lambda cpas=cpas, k=k:
                                self.ledger.outbox.register_cpas_contact(
                                    cpas, mobile=f"+3247099000{k}" if k != 3 else None,
                                    email=f"cpas-{k}@example.be" if k != 1 else None,
                                    language=("fr", "nl", "de", "fr", "fr")[k]))

    # ---- the calendar -----------------------------------------------------------------------

    def day_of(self, index: int) -> date:
        return self.config.start + timedelta(days=index)

    def schedule_faults(self) -> None:
        days = self.config.days
        for kind, per_year in FAULTS_PER_YEAR.items():
            count = max(1, round(per_year * days / 365))
            for _ in range(count):
                index = self.rng.randrange(days)
                hour = 8 if kind == "sigkill" else self.rng.randrange(24)
                extra = (self.rng.randint(2, 9) if kind == "smtp_down" else
                         self.rng.randint(1, 12) if kind in ("twilio_429", "twilio_5xx", "smtp_4xx")
                         else self.rng.randint(1, 15))
                self.record("fault", kind, index, hour, extra)
                self.push(local(self.day_of(index), 0) + timedelta(hours=hour), 0, "fault",
                          kind, extra)

    async def simulate_day(self, index: int) -> None:
        rng, day = self.rng, self.day_of(index)
        start, end = local(day, 0), local(day + timedelta(days=1), 0)
        moment = start
        while moment < end:  # the worker, every hour (23 or 25 of them on a DST day)
            self.push(moment, 2, "pass")
            moment += timedelta(hours=1)
        joining = [c for c in self.customers if c.joins_on == index]
        if joining:
            self.push(start + timedelta(minutes=5) if index == 0 else local(day, 10, rng.randrange(60)),
                      1, "import_accounts", joining)
        if index > 0:  # yesterday's file: early mostly, some days late
            hour = 6 if rng.random() < 0.7 else rng.randrange(7, 22)
            self.push(local(day, hour, rng.randrange(60)), 1, "consumption", day - timedelta(days=1))
        for _ in range(max(1, self.config.meters // 60)):  # the balance line
            self.push(start + timedelta(minutes=rng.randrange(24 * 60)), 1, "lookup",
                      rng.randrange(self.config.meters))
        if rng.random() < 0.3:
            self.push(local(day, rng.randrange(8, 20), rng.randrange(60)), 1, "attack",
                      rng.choice(("meter_reference", "too_small", "unknown", "conflict",
                                  "foreign_cpas")))
        if rng.random() < 0.08:
            self.push(local(day, 11, rng.randrange(60)), 1, "payment_plan",
                      rng.randrange(self.config.meters))
        if rng.random() < 0.06:
            self.push(local(day, 14, rng.randrange(60)), 1, "threshold",
                      rng.randrange(self.config.meters))
        self.push(local(day, 12, 30), 1, "reports")
        self.push(local(day, rng.choice((21, 22, 23)), rng.randrange(60)), 1, "reports")
        while self.heap and self.heap[0][0] < end:
            moment, _, _, kind, payload = heapq.heappop(self.heap)
            self.set_clock(moment)
            began = time.monotonic()
            if kind not in ("pass", "lookup", "fault"):
                self.dirty = True  # something the worker may have to tell
            await getattr(self, f"do_{kind}")(*payload)
            self.figures.seconds[kind] += time.monotonic() - began
        self.set_clock(end - timedelta(seconds=1))
        began = time.monotonic()
        await self.daily_checks(day)
        self.figures.seconds["checks"] += time.monotonic() - began

    # ---- actions ----------------------------------------------------------------------------

    async def do_import_accounts(self, customers: list[Customer]) -> None:
        self.record("import", [c.index for c in customers])
        if self.clock.now() == local(self.config.start, 0) + timedelta(minutes=5):
            path = self.work / "accounts.csv"  # the first import: the operator's CSV file
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out, delimiter=";")
                writer.writerow(("ean", "energy", "language", "name", "mobile", "email", "notify",
                                 "low_credit_threshold", "transferred_balance", "power_limiter",
                                 "cpas"))
                for c in customers:
                    writer.writerow((c.ean[-13:], c.energy, c.language, c.name, c.mobile or "",
                                     c.email or "", c.notify, f"{c.threshold / 100:.2f}".replace(".", ","),
                                     "" if c.transferred is None else
                                     f"{c.transferred / 100:.2f}".replace(".", ","),
                                     "oui" if c.power_limiter else "non", c.cpas or ""))
            parsed = read_accounts(path)
            if parsed.errors:
                self.violation("import", f"the CSV was refused: {parsed.errors[:3]}")
            rows = parsed.rows
        else:
            rows = [c.account_input() for c in customers]
        report = await self.retrying("import", lambda: self.ledger.import_accounts(rows))
        if report.errors:
            self.violation("import", f"rows refused: {report.errors[:3]}")
        today = self.clock.now().astimezone(BRUSSELS).date()
        for c in customers:
            c.active, c.activated_on = True, today
            c.balance = max(c.transferred or 0, START_CREDIT_CENTS)
            debt = c.balance - (c.transferred or 0)
            if debt:
                c.debts.append([debt, START_CREDIT_DAILY_CENTS])
        self.figures.actions["accounts imported"] += len(customers)
        if self.rng.random() < 0.3:  # the same file again: nothing changes
            again = await self.retrying("import", lambda: self.ledger.import_accounts(rows))
            if again.new or again.updated or again.errors:
                self.violation("replay", f"an import replayed changed something: {again}")
            self.figures.actions["imports replayed"] += 1
        await self.learn_account_ids()

    async def learn_account_ids(self) -> None:
        a = schema.accounts
        async with reading(self.ledger.engine) as conn:
            for id_, ean in await conn.execute(select(a.c.id, a.c.ean)):
                self.by_ean[ean].account_id = id_

    async def do_consumption(self, day: date) -> None:
        rng = self.rng
        rows, corrections = [], []
        for c in self.customers:
            if not c.active or c.activated_on > day:
                continue
            amount = 0 if rng.random() < 0.02 else int(c.base * season(c.energy, day)
                                                        * rng.uniform(0.6, 1.4))
            rows.append(ConsumptionInput(c.ean if rng.random() < 0.5 else c.ean[-13:], day, amount))
            earlier = day - timedelta(days=1)
            if earlier in c.consumed and rng.random() < 0.01:  # the operator corrects a day
                corrections.append(ConsumptionInput(c.ean, earlier,
                                                    max(0, c.consumed[earlier] + rng.randint(-150, 150))))
        self.record("consumption", day, [(r.ean, r.amount_cents) for r in rows], corrections)
        replay = rng.random() < 0.05
        as_csv = rng.random() < 0.2
        restart = self.restart_wanted and self.fault_rng.random() < 0.5
        if restart:
            self.restart_wanted -= 1
        rows = rows + corrections

        async def post():
            if as_csv:
                path = self.work / f"consumption-{day.isoformat()}.csv"
                with path.open("w", newline="", encoding="utf-8") as out:
                    writer = csv.writer(out)
                    writer.writerow(("ean", "day", "amount", "unit"))
                    for row in rows:
                        writer.writerow((row.ean, row.day.isoformat(),
                                         f"{row.amount_cents // 100}.{row.amount_cents % 100:02d}",
                                         "kWh"))
                parsed = read_consumption(path)
                if parsed.errors:
                    self.violation("import", f"the consumption CSV was refused: {parsed.errors[:3]}")
                return await self.ledger.post_consumption(parsed.rows)
            return await self.ledger.post_consumption(rows)

        if restart:
            report = await self.during_restart("consumption", post)
        else:
            report = await self.retrying("consumption", post)
        if report.errors:
            self.violation("import", f"consumption rows refused: {report.errors[:3]}")
        if replay:
            again = await self.retrying("consumption", post)
            if again.new or again.corrected:
                self.violation("replay", f"a consumption file replayed posted again: {again}")
            self.figures.actions["consumption files replayed"] += 1
        self.figures.actions["consumption days"] += len(rows) - len(corrections)
        self.figures.actions["consumption corrections"] += len(corrections)
        for row in rows:  # the simulation's own books
            c = self.by_ean[row.ean] if len(row.ean) == 18 else self.by_ean[PREFIX + row.ean]
            if row.day in c.consumed:
                c.balance += c.consumed[row.day] - row.amount_cents
            else:
                for debt in c.debts:
                    take = min(debt[0], debt[1])
                    debt[0] -= take
                    c.balance -= take
                c.balance -= row.amount_cents
            c.consumed[row.day] = row.amount_cents
        self.plan_topups()

    def plan_topups(self) -> None:
        """Who pays, when, how much and where: from the simulation's books, after the import."""
        rng, now = self.rng, self.clock.now()
        for c in self.customers:
            if not c.active or c.topup_pending:
                continue
            balance = c.balance
            if c.habit == "prompt" and balance < c.threshold + 200:
                delay = timedelta(minutes=rng.randrange(90, 14 * 60))
            elif c.habit == "late" and (balance <= -1500 or balance < 0 and rng.random() < 0.4):
                delay = timedelta(minutes=rng.randrange(30, 30 * 60))  # nights, weekends too
            elif c.habit == "erratic" and rng.random() < 0.07 or balance < -3000:
                delay = timedelta(minutes=rng.randrange(10, 20 * 60))
            else:
                continue
            channels = [channel for channel in TOPUP_CHANNELS if channel != "cpas" or c.cpas]
            channel = rng.choices(channels, [CHANNEL_WEIGHTS[ch] for ch in channels])[0]
            amount = max(rng.choice((2000, 2500, 3000, 5000, 10000)),
                         -balance + 1000 if balance < 0 else 500)
            amount = min(amount, 25000)
            c.topup_pending = True
            self.push(now + delay, 1, "topup", c.index, channel, amount)

    async def do_topup(self, index: int, channel: str, amount: int) -> None:
        c = self.customers[index]
        c.topup_pending = False
        self.references[channel] += 1
        number = self.references[channel]
        reference = f"SIM{self.config.seed}-{channel[:3].upper()}-{number:06d}"
        reason = "geste commercial (simulation)" if channel == "agent" else None
        if channel == "cpas":
            self.cpas_receipts[c.cpas] += 1
            reference = f"R{self.cpas_receipts[c.cpas]:05d}"  # each office numbers its own

            def pay():
                return self.ledger.cpas.top_up(c.cpas, c.ean[-13:], amount, reference,
                                               actor=f"staff:{c.cpas}")
        else:
            def pay():
                return self.ledger.top_up(c.ean if channel != "terminal" else c.ean[-13:],
                                          amount, channel, reference, reason, actor=f"sim:{channel}")
        self.record("topup", index, channel, amount, reference)
        before = sum(self.figures.db_errors.values())
        result = await self.retrying("topup", pay)
        if result.replayed and sum(self.figures.db_errors.values()) == before:
            self.violation("topup", f"a new top-up ({channel}) was taken for a replay")
        c.balance += amount
        self.figures.actions[f"top-ups {channel}"] += 1
        if channel != "cpas":
            self.paid.append((c.ean, reference, amount, channel))
        if self.rng.random() < 0.03:  # the terminal sends it again
            again = await self.retrying("topup", pay)
            if not again.replayed:
                self.violation("replay", f"a top-up sent twice ({channel}) was posted twice")
            self.figures.actions["top-ups replayed"] += 1

    async def do_lookup(self, index: int) -> None:
        c = self.customers[index]
        if not c.active:
            return
        view = await self.retrying("lookup", lambda: self.ledger.balance_view(
            c.ean[-13:], actor="line:+3247000sim"))
        self.figures.actions["balance-line look-ups"] += 1
        self.check("line says the balance", view.balance_cents == c.balance,
                   lambda: f"the line says {view.balance_cents} for meter {c.index}, "
                           f"the books {c.balance}")

    async def do_attack(self, kind: str) -> None:
        """Inputs that must be refused and change nothing."""
        self.record("attack", kind)
        active = [c for c in self.customers if c.active]
        c = self.rng.choice(active)
        if kind == "meter_reference":
            call, expected = (lambda: self.ledger.top_up(c.ean[-13:], 2000, "terminal",
                                                         c.ean[-13:])), InvalidInput
        elif kind == "too_small":
            call, expected = (lambda: self.ledger.top_up(c.ean, 499, "online", "SIM-SMALL")), InvalidInput
        elif kind == "unknown":
            ghost = with_check_digit(f"{PREFIX}{800_000_000_000 + self.rng.randrange(1000):012d}")
            call, expected = (lambda: self.ledger.top_up(ghost, 2000, "terminal", "SIM-GHOST")), UnknownAccount
        elif kind == "conflict" and self.paid:
            ean, reference, amount, channel = self.rng.choice(self.paid)
            call, expected = (lambda: self.ledger.top_up(ean, amount + 100, channel, reference,
                                                         "x" if channel == "agent" else None)), ReferenceConflict
        else:
            foreign = [x for x in active if x.cpas and c.cpas and x.cpas != c.cpas] if c.cpas else []
            if not foreign:
                return
            target = self.rng.choice(foreign)
            call, expected = (lambda: self.ledger.cpas.top_up(c.cpas, target.ean[-13:], 2000,
                                                              "R-FOREIGN", actor="staff:sim")), UnknownAccount
        try:
            await self.retrying("attack", call)
        except expected:
            self.figures.actions["refused as they should"] += 1
            self.check("hostile input refused", True, lambda: "")
        else:
            self.check("hostile input refused", False, lambda: f"{kind} was accepted")

    async def do_payment_plan(self, index: int) -> None:
        c = self.customers[index]
        if not c.active:
            return
        amount, daily = self.rng.randint(1500, 9000), self.rng.choice((100, 200, 500))
        reference = f"PLAN-{self.config.seed}-{index}-{len(c.debts)}"
        self.record("plan", index, amount, daily)
        made = await self.retrying("plan", lambda: self.ledger.add_payment_plan(
            c.ean, amount, daily, reference))
        if made:
            c.debts.append([amount, min(daily, amount)])
            self.figures.actions["payment plans"] += 1

    async def do_threshold(self, index: int) -> None:
        c = self.customers[index]
        if not c.active:
            return
        c.threshold = self.rng.choice((300, 500, 1000, 1500))
        self.record("threshold", index, c.threshold)
        report = await self.retrying("import", lambda: self.ledger.import_accounts(
            [c.account_input()]))
        if report.errors:
            self.violation("import", f"a threshold change was refused: {report.errors}")
        self.figures.actions["thresholds changed"] += 1

    async def do_reports(self) -> None:
        """Twilio's delivery reports for the SMS sent since the last ones (most delivered, a
        few failed: the customer then gets an e-mail, if there is an address)."""
        o = schema.outbox
        async with reading(self.ledger.engine) as conn:
            sent = (await conn.execute(select(o.c.id, o.c.provider_id).where(
                o.c.channel == "sms", o.c.state == "sent").order_by(o.c.id))).all()
        for id_, sid in sent:
            draw = stable(self.config.seed, "report", id_)
            status = "failed" if draw < 0.01 else "delivered" if draw < 0.9 else None
            if status:
                await self.retrying("report", lambda: self.ledger.outbox.report(sid, status))
                self.figures.actions[f"delivery reports {status}"] += 1

    # ---- the worker, and its faults -----------------------------------------------------------

    async def do_fault(self, kind: str, extra: int) -> None:
        self.figures.faults[kind] += 1
        api = self.api
        if kind == "sigkill":
            self.kill_wanted += 1
        elif kind == "db_restart":
            self.restart_wanted += 1
        elif kind == "twilio_429":
            api.fail_next(429, times=extra)
        elif kind == "twilio_5xx":
            api.fail_next(self.rng.choice((500, 503)), times=extra,
                          method=self.rng.choice(("POST", None)))
        elif kind == "twilio_timeout":
            api.delay_next(5.0, method="POST")  # answered after the client gave up: it has it
        elif kind == "twilio_drop":
            api.drop_next(method=self.rng.choice(("POST", None)))
        elif kind == "smtp_down":
            if self.mailbox.running:
                self.mailbox.stop()
            self.smtp_back_at = max(self.smtp_back_at or self.clock.now(),
                                    self.clock.now() + timedelta(hours=extra))
        elif kind == "smtp_4xx":
            self.mailbox.refuse_next("451 4.3.0 Try again later", times=extra)

    async def do_pass(self) -> None:
        now = self.clock.now()
        if self.smtp_back_at and now >= self.smtp_back_at:
            self.mailbox.start()
            self.smtp_back_at = None
        if self.kill_wanted and (due := await self.due_sms()):
            self.kill_wanted -= 1
            began = time.monotonic()
            await self.killed_pass(due)
            self.figures.seconds["pass: killed and taken over"] += time.monotonic() - began
            return
        if self.restart_wanted and self.fault_rng.random() < 0.5:
            self.restart_wanted -= 1
            await self.during_restart("worker pass", self.worker_pass, retry=False)
            return
        try:
            if self.dirty or await self.something_due():
                await self.worker_pass()
            else:
                self.figures.actions["worker passes skipped (nothing to do)"] += 1
        except DB_ERRORS:  # the worker logs it and tries again at its next pass
            self.figures.db_errors["worker pass"] += 1

    async def something_due(self) -> bool:
        """Whether the worker's pass would do anything: a message due, a claim to take over, a
        pending cut whose NDP has ended (read-only; a pass that would do nothing is skipped,
        which only saves the wall time of three empty write transactions)."""
        o, a = schema.outbox, schema.accounts
        now = self.clock.now()
        async with reading(self.ledger.engine) as conn:
            due = (await conn.execute(select(o.c.id).where(
                ((o.c.state == "queued") & (o.c.not_before <= to_text(now)))
                | ((o.c.state == "sending")
                   & (o.c.claimed_at <= to_text(now - timedelta(seconds=LEASE_SECONDS)))))
                .limit(1))).first()
            if due:
                return True
            pending = (await conn.execute(select(a.c.pending_since).where(
                a.c.supply == "pending"))).all()
        return any(self.ledger.ndp.end_after(from_text(since)) <= now for (since,) in pending)

    async def worker_pass(self) -> None:
        self.dirty = False
        await worker.run_once(self.ledger, self.dispatcher)
        self.figures.actions["worker passes"] += 1

    async def due_sms(self) -> int:
        o = schema.outbox
        async with reading(self.ledger.engine) as conn:
            return len((await conn.execute(select(o.c.id).where(
                o.c.state == "queued", o.c.channel == "sms",
                o.c.not_before <= to_text(self.clock.now())))).all())

    async def killed_pass(self, due: int) -> None:
        """The worker's pass in a process of its own (tests/simulation/sender.py), killed with
        SIGKILL as its k-th request (an SMS, or a look-up before one) reaches Twilio — before Twilio's answer reaches it, the rest of
        its batch claimed and unsent or unrecorded. Another worker (this process's) takes the
        claims over once the lease has run out."""
        kill_at = self.fault_rng.randint(1, max(1, min(due, 8)))
        log = (self.work / "sender.log").open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.simulation.sender",
                "--database-url", self.database_url, "--now", self.clock.now().isoformat(),
                "--twilio-url", self.api.url, "--smtp-port", str(self.mailbox.port),
                "--seed", str(self.config.seed), cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=log)
            posts = 0

            def after_post():
                nonlocal posts
                posts += 1
                if posts == kill_at and process.returncode is None:
                    process.send_signal(signal.SIGKILL)
                    self.figures.faults["sigkill: killed mid-batch"] += 1

            self.api.after_post = after_post
            code = await asyncio.wait_for(process.wait(), 120)
        finally:
            self.api.after_post = None
            log.close()
        self.figures.actions["sender processes"] += 1
        if code == -signal.SIGKILL:
            self.in_doubt |= await self.sending_ids()
            self.set_clock(self.clock.now() + timedelta(seconds=LEASE_SECONDS + 1))
        elif code == 0:
            self.figures.faults["sigkill: the sender was done first"] += 1
        else:
            self.violation("sender", f"the sender process exited {code} "
                                     f"(see {self.work / 'sender.log'})")
        await self.worker_pass()  # the other worker: the claims over, or the pass as usual

    async def sending_ids(self) -> set[int]:
        o = schema.outbox
        async with reading(self.ledger.engine) as conn:
            return {id_ for (id_,) in await conn.execute(select(o.c.id).where(o.c.state == "sending"))}

    async def during_restart(self, label: str, operation, retry: bool = True):
        """The database restarted under an operation: PostgreSQL's backends of this database
        terminated while it runs; SQLite's Ledger closed and opened again before it."""
        self.figures.faults[f"db_restart: during {label}"] += 1
        if not self.database_url.startswith("postgres"):
            await self.close_worker()
            await self.open_worker()
            if retry:
                return await self.retrying(label, operation)
            try:
                return await operation()
            except DB_ERRORS:
                self.figures.db_errors[label] += 1
                return None
        task = asyncio.ensure_future(operation())
        posts = len(self.api.posts)
        if label == "worker pass":  # mid-batch: once the first SMS of the pass went out
            for _ in range(200):
                if task.done() or len(self.api.posts) > posts:
                    break
                await asyncio.sleep(0.005)
        await asyncio.sleep(self.fault_rng.choice((0.0, 0.002, 0.01, 0.03)))
        await self.terminate_backends()
        try:
            result = await task
        except DB_ERRORS:
            self.figures.db_errors[label] += 1
            self.in_doubt |= await self.retrying("check", self.sending_ids)
            if not retry:
                return None
            return await self.retrying(label, operation)
        self.in_doubt |= await self.retrying("check", self.sending_ids)
        return result

    async def terminate_backends(self) -> None:
        import asyncpg
        from sqlalchemy.engine import make_url
        url = make_url(self.database_url)
        conn = await asyncpg.connect(user=url.username, password=url.password, host=url.host,
                                     port=url.port, database=url.database)
        try:
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        finally:
            await conn.close()

    async def drain(self) -> None:
        """The faults over, the worker runs on until every message is sent or given up."""
        if not self.mailbox.running:
            self.mailbox.start()
            self.smtp_back_at = None
        self.kill_wanted = self.restart_wanted = 0
        moment = self.clock.now()
        for _ in range(72):
            moment += timedelta(hours=1)
            self.set_clock(moment)
            await self.retrying("worker pass", self.worker_pass)
            counts = await self.ledger.outbox.counts()
            if not counts.get("queued") and not counts.get("sending"):
                break

    # ---- invariants -------------------------------------------------------------------------

    def check(self, name: str, ok: bool, detail) -> bool:
        if ok:
            self.figures.checks_passed[name] += 1
        else:
            self.figures.checks_failed[name] += 1
            self.violation(name, detail())
        return ok

    def violation(self, name: str, detail: str) -> None:
        day = self.clock.now().astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M")
        self.figures.violations.append(f"{day}: {name}: {detail}")

    async def daily_checks(self, day: date) -> None:
        await self.retrying("check", lambda: self.check_books())
        await self.retrying("check", lambda: self.check_messages(final=False))

    async def check_books(self) -> None:
        ledger = self.ledger
        trial = await ledger.trial_balance()
        cached = await ledger.cached_balances()
        self.check("books sum to zero", sum(trial.values()) == 0,
                   lambda: f"the books sum to {sum(trial.values())}")
        wrong = [book for book, value in cached.items() if trial.get(book, 0) != value]
        self.check("balances are their postings", not wrong,
                   lambda: f"{len(wrong)} books differ from their postings, e.g. {wrong[0]}: "
                           f"cached {cached[wrong[0]]}, postings {trial.get(wrong[0], 0)}")
        debts: dict[int, int] = defaultdict(int)
        d = schema.debts
        async with reading(ledger.engine) as conn:
            for account_id, outstanding in await conn.execute(
                    select(d.c.account_id, d.c.outstanding_cents)):
                debts[account_id] += outstanding
        off = [c for c in self.customers if c.active and (
            cached.get(f"balance:{c.account_id}") != c.balance
            or debts[c.account_id] != sum(debt[0] for debt in c.debts))]
        self.check("balances and debts are the simulation's", not off,
                   lambda: f"{len(off)} accounts differ, e.g. meter {off[0].index}: ledger "
                           f"{cached.get(f'balance:{off[0].account_id}')} / debt "
                           f"{debts[off[0].account_id]}, simulation {off[0].balance} / "
                           f"{sum(x[0] for x in off[0].debts)}")
        ndp = ledger.ndp
        a = schema.accounts
        now = self.clock.now()
        async with reading(ledger.engine) as conn:
            pending = (await conn.execute(select(a.c.id, a.c.pending_since).where(
                a.c.supply == "pending"))).all()
        overdue = [id_ for id_, since in pending
                   if ndp.end_after(datetime.fromisoformat(since)) <= now - timedelta(hours=1)]
        self.check("no cut pending after the NDP ended", not overdue,
                   lambda: f"{len(overdue)} meters still pending after their NDP ended")

    async def check_messages(self, final: bool) -> None:
        """Told once or superseded, none lost or stuck, no SMS twice, the calendar kept."""
        ledger, now = self.ledger, self.clock.now()
        e, o, a, c, r = (schema.events, schema.outbox, schema.accounts, schema.cpas_contacts,
                         schema.delivery_reports)
        after = 0 if final else self.checked_events
        async with reading(ledger.engine) as conn:
            events = (await conn.execute(select(e.c.id, e.c.account_id, e.c.name, e.c.payload)
                                         .where(e.c.id > after).order_by(e.c.id))).all()
            messages = (await conn.execute(select(
                o.c.id, o.c.event_id, o.c.audience, o.c.channel, o.c.state, o.c.error,
                o.c.fallback_for, o.c.superseded_by, o.c.provider_id, o.c.not_before,
                o.c.claimed_at, o.c.sent_at, o.c.attempts).where(o.c.event_id > after))).all()
            contacts = {row.id: row for row in await conn.execute(select(
                a.c.id, a.c.notify, a.c.mobile, a.c.email, a.c.language, a.c.cpas))}
            cpas = {row.cpas: CpasContact(row.cpas, row.mobile, row.email, row.language)
                    for row in await conn.execute(select(c))}
            reported = {pid for (pid,) in await conn.execute(
                select(r.c.provider_id).where(r.c.status.in_(("failed", "undeliverable"))))}
            provider_ids = Counter(pid for (pid,) in await conn.execute(
                select(o.c.provider_id).where(o.c.channel == "sms", o.c.provider_id.is_not(None))))
            email_states = dict((await conn.execute(select(o.c.id, o.c.state).where(
                o.c.channel == "email"))).all())
        by_event = defaultdict(list)
        for m in messages:
            by_event[m.event_id].append(m)
        problems: dict[str, list[str]] = defaultdict(list)
        settled_upto = after
        contiguous = True
        lists_on: Counter = Counter()  # (CPAS, day) of each morning list
        for ev in events:
            event = event_from_row(ev.name, ev.payload)
            account = contacts.get(ev.account_id)  # none: a morning list, to its address
            if account is None:
                lists_on[(event.cpas, event.day)] += 1
                if not is_working_day(event.at, ledger.ndp):
                    problems["morning lists on working days, once"].append(
                        f"event {ev.id}: {event.cpas}'s list on {event.day}")
            planned = {(m.audience, m.channel) for m in self.router.plan(event, None if (
                account is None) else Contacts(account.notify, account.mobile, account.email,
                                               account.language, cpas.get(account.cpas)),
                event.at)}
            own = by_event.get(ev.id, [])
            primary = Counter((m.audience, m.channel) for m in own if m.fallback_for is None)
            young = now - event.at < timedelta(hours=2)
            if any(n > 1 for n in primary.values()):
                problems["told once"].append(f"event {ev.id} ({ev.name}) has two messages on "
                                             "one channel")
            if set(primary) != planned and not (young and not own):
                problems["told once"].append(f"event {ev.id} ({ev.name}): planned "
                                             f"{sorted(planned)}, queued {sorted(primary)}")
            settled = not young
            for m in own:
                if m.state in TOLD:
                    continue
                if m.state == "superseded":
                    if not (m.superseded_by and m.superseded_by > ev.id):
                        problems["told once"].append(f"message {m.id} superseded by nothing later")
                elif m.state in GIVEN_UP:
                    if not (m.error or m.provider_id in reported):
                        problems["no message lost"].append(f"message {m.id} {m.state} without a reason")
                else:
                    settled = False
                    due = datetime.fromisoformat(m.not_before)
                    claimed = datetime.fromisoformat(m.claimed_at) if m.claimed_at else None
                    if final or (m.state == "queued" and due < now - timedelta(hours=2)) or (
                            m.state == "sending" and claimed and claimed < now - timedelta(hours=2)):
                        problems["no message lost"].append(
                            f"message {m.id} ({ev.name}, {m.channel}) stuck {m.state}")
            for m in own:
                if m.fallback_for is not None and not any(
                        x.id == m.fallback_for and x.state in GIVEN_UP for x in own):
                    problems["told once"].append(f"message {m.id} falls back for one not given up")
                # Quiet hours: an informative message is never due inside them. (When it is
                # sent is the pass's: the simulated worker passes once an hour, the real one
                # every 2 s; a message due at 20:30 leaves at the 21:00 pass here.)
                if (m.state in TOLD and m.audience == "customer" and ev.name not in AT_ONCE_EVENTS
                        and self.quiet.contains(datetime.fromisoformat(m.not_before))):
                    problems["quiet hours kept"].append(
                        f"message {m.id} ({ev.name}, {m.channel}, attempt {m.attempts}"
                        f"{', a fall-back' if m.fallback_for else ''}) due at "
                        f"{datetime.fromisoformat(m.not_before).astimezone(BRUSSELS):%a %d/%m %H:%M:%S}")
            if ev.name in ("Disconnected", "PowerLimited") and ledger.ndp.contains(event.at):
                problems["no cut inside the NDP"].append(f"event {ev.id} cut at {event.at}")
            if ev.name == "DisconnectionPending" and (
                    not ledger.ndp.contains(event.at)
                    or event.disconnect_at != ledger.ndp.end_after(event.at)):
                problems["no cut inside the NDP"].append(f"event {ev.id} pending outside the NDP "
                                                         "or until the wrong moment")
            if final:
                self.figures.events[ev.name] += 1
            if contiguous and settled:
                settled_upto = ev.id
            else:
                contiguous = False
        problems["morning lists on working days, once"] += [
            f"{cpas_code}'s list {n} times on {day}" for (cpas_code, day), n in lists_on.items()
            if n > 1]
        if not final:  # the next day's check starts after the events settled
            self.checked_events = settled_upto
        # No SMS twice: every message Twilio has is one outbox message's, and no two share one.
        twice = [pid for pid, n in provider_ids.items() if n > 1]
        orphans = [sid for sid, message in self.api.messages.items()
                   if sid not in provider_ids and (final or datetime.strptime(
                       message["date_created"], "%a, %d %b %Y %H:%M:%S %z")
                       < now - timedelta(hours=3))]
        if twice:
            problems["no SMS twice"].append(f"{len(twice)} Twilio messages recorded for two "
                                            "outbox messages")
        if orphans:
            problems["no SMS twice"].append(f"{len(orphans)} SMS at Twilio that no outbox "
                                            "message recorded (sent twice, or sent unrecorded)")
        received = self.mailbox.messages  # appended to only: the new ones since the last check
        self.message_ids.update(m["Message-ID"] for m in received[self.mails_counted:len(received)])
        self.mails_counted = len(received)
        by_message_id = self.message_ids
        doubled = [mid for mid, n in by_message_id.items() if n > 1]
        allowed = [mid for mid in doubled if _outbox_id(mid) in self.in_doubt]
        self.figures.emails_twice_in_doubt = sum(by_message_id[mid] - 1 for mid in allowed)
        if len(doubled) > len(allowed):
            problems["no e-mail twice"].append(f"{len(doubled) - len(allowed)} e-mails received "
                                               "twice though no sender died holding them")
        unrecorded = [mid for mid in by_message_id
                      if email_states.get(_outbox_id(mid)) not in TOLD | GIVEN_UP | {"sending", "queued"}]
        if unrecorded or (final and any(email_states.get(_outbox_id(mid)) not in TOLD
                                        for mid in by_message_id)):
            problems["no message lost"].append("e-mails received whose message is not recorded sent")
        for name in ("told once", "no message lost", "no SMS twice", "no e-mail twice",
                     "quiet hours kept", "no cut inside the NDP",
                     "morning lists on working days, once"):
            found = problems.get(name, [])
            self.check(name + (" (final)" if final else ""), not found,
                       lambda found=found: f"{len(found)} found, first: {found[0]}")

    async def final_checks(self) -> None:
        await self.retrying("check", self.check_books)
        await self.retrying("check", lambda: self.check_messages(final=True))
        self.figures.messages = await self.ledger.outbox.counts_by_channel()
        async with reading(self.ledger.engine) as conn:
            from sqlalchemy import func
            self.figures.postings = (await conn.execute(
                select(func.count()).select_from(schema.postings))).scalar_one()
        self.figures.twilio_messages = len(self.api.messages)
        self.figures.twilio_posts = len(self.api.posts)
        self.figures.emails_received = len(self.mailbox.messages)


def _outbox_id(message_id: str | None) -> int | None:
    """<saldo-message-42@ores.example> → 42."""
    if not message_id or not message_id.startswith("<saldo-message-"):
        return None
    return int(message_id[len("<saldo-message-"):].split("@")[0])


async def simulate(config: Config) -> Figures:
    return await Simulation(config).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation.year",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1),
                        help="the first simulated day (default 2026-01-01)")
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: a SQLite file of its own)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the CSV files, the sender's log and the SQLite file here")
    args = parser.parse_args(argv)
    figures = asyncio.run(simulate(Config(seed=args.seed, days=args.days, meters=args.meters,
                                          start=args.start, database_url=args.database_url,
                                          work_dir=args.work_dir, progress=True)))
    print(figures.report())
    return 1 if figures.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
