"""Property tests of the ledger against real SQLite files and an independent model of the rules.

Hypothesis draws a random sequence of operations on a few accounts (imports, consumption days with
replays and corrections, top-ups on every channel, payment plans, clock moves, ticks). Each
operation runs on the ledger and on `Model`, a plain-Python reading of seed 003's rules written
from DOMAIN.md, and after every step the two must agree:

1. the books sum to zero and every posting moves a positive amount;
2. every cached balance is the sum of its postings, and each account's balance, debt and state
   are the model's;
3. replaying an import (accounts, consumption, top-ups, payment plans) changes nothing and is
   reported as unchanged / replayed;
4. each line crossed downwards gives exactly one event, and cut-off / reconnection events
   alternate.

Every example gets its own temporary directory: function-scoped fixtures are not reset between
Hypothesis examples. The tests are plain functions running their own event loop.
"""

import asyncio
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ledger import (
    BRUSSELS,
    AccountInput,
    ConsumptionInput,
    Ledger,
    LedgerError,
    NonDisconnectionPeriod,
    SettableClock,
)
from ledger import schema
from ledger.ean import with_check_digit

# ---- the world the examples live in ---------------------------------------------------------

PREFIX = "54144"
START = datetime(2026, 11, 24, 10, 0, tzinfo=BRUSSELS)  # a Tuesday at 10:00: outside the NDP
N_ACCOUNTS = 3
ENERGY = ("electricity", "gas", "electricity")
PAYMENT_CHANNELS = ("terminal", "cpas", "online", "transfer")


def make_ean(number: int) -> str:
    body = f"{PREFIX}{number:012d}"
    return with_check_digit(body)


EANS = tuple(make_ean(4_200 + 37 * i) for i in range(N_ACCOUNTS))


def ean_text(idx: int, short: bool) -> str:
    return EANS[idx][-13:] if short else EANS[idx]


# ---- the model: seed 003's rules, written again from DOMAIN.md --------------------------------

START_CREDIT = 2000
START_DAILY = 100
EXHAUSTED = -1500
RECONNECT_AT = 50
DEFAULT_THRESHOLD = 500

_BE_HOLIDAYS = holidays.country_holidays("BE", years=range(2026, 2029))


def protected_day(day: date) -> bool:
    return day.weekday() >= 5 or day in _BE_HOLIDAYS


def in_ndp(moment: datetime) -> bool:
    """Weekdays 16:00–08:00, whole weekends and Belgian public holidays (Brussels time)."""
    local = moment.astimezone(BRUSSELS)
    return protected_day(local.date()) or local.hour >= 16 or local.hour < 8


def ndp_end(moment: datetime) -> datetime:
    """08:00 of the first working day after the protected time that holds `moment`."""
    if not in_ndp(moment):
        return moment
    local = moment.astimezone(BRUSSELS)
    day = local.date()
    if protected_day(day) or local.hour >= 16:
        day += timedelta(days=1)
    while protected_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(8, 0), tzinfo=BRUSSELS)


@dataclass
class MDebt:
    daily: int
    outstanding: int


@dataclass
class MAccount:
    idx: int
    ean: str
    energy: str
    language: str
    threshold: int
    power_limiter: bool
    activated_on: date
    activated_at: datetime
    transferred: int | None
    balance: int
    debts: list[MDebt]
    supply: str = "on"  # on | pending | off
    pending_since: datetime | None = None
    days: dict[date, int] = field(default_factory=dict)
    last_topup: tuple[int, str] | None = None  # (amount, channel) of the last payment in

    @property
    def profile(self) -> tuple:
        return (self.language, self.threshold, self.power_limiter)

    def cut_name(self) -> str:
        return "PowerLimited" if self.power_limiter else "Disconnected"

    def state(self, now: datetime) -> str:
        supply = self.supply
        if supply == "pending" and ndp_end(self.pending_since) <= now:
            supply = "off"
        if supply == "off":
            return "power_limited" if self.power_limiter else "disconnected"
        if supply == "pending":
            return "disconnection_pending"
        if self.balance < 0:
            return "emergency"
        if self.balance < self.threshold:
            return "low"
        return "normal"


# An expected event: (ean, name, disconnect_at or None)
MEvent = tuple[str, str, datetime | None]


SEVERITY = {"LowCredit": 1, "EmergencyCreditStarted": 2, "DisconnectionPending": 3,
            "Disconnected": 4, "PowerLimited": 4}


def headline(events: list[MEvent]) -> list[MEvent]:
    restored = [e for e in events if e[1] == "ReconnectionAllowed"]
    if restored:
        return restored[-1:]
    return [max(events, key=lambda e: SEVERITY[e[1]])] if events else []


class Model:
    def __init__(self) -> None:
        self.accounts: dict[int, MAccount] = {}
        self.topups: dict[tuple[str, str], tuple[int, int]] = {}  # (channel, ref) → (idx, amount)
        self.plans: dict[tuple[int, str], tuple[int, int]] = {}  # → (amount, daily)
        self.external: Counter[str] = Counter()  # the books outside the accounts
        # Every balance move, as (balance before, balance after, threshold then), per EAN.
        self.trajectory: dict[str, list[tuple[int, int, int]]] = defaultdict(list)

    def find(self, text: str) -> MAccount | None:
        for acct in self.accounts.values():
            if (len(text) == 13 and acct.ean.endswith(text)) or acct.ean == text:
                return acct
        return None

    # -- moving a balance: which lines were crossed, and what happens to the supply

    def _cut_if_period_over(self, acct: MAccount, now: datetime) -> list[MEvent]:
        if acct.supply == "pending" and ndp_end(acct.pending_since) <= now:
            acct.supply, acct.pending_since = "off", None
            return [(acct.ean, acct.cut_name(), None)]
        return []

    def move(self, acct: MAccount, after: int, now: datetime) -> list[MEvent]:
        """The one event worth telling of a move: the supply restored, else the most serious
        line crossed (a cut meter is told nothing of the lines it already passed)."""
        return headline(self.every_line(acct, after, now))

    def every_line(self, acct: MAccount, after: int, now: datetime) -> list[MEvent]:
        events = self._cut_if_period_over(acct, now)
        before = acct.balance
        self.trajectory[acct.ean].append((before, after, acct.threshold))
        acct.balance = after
        if acct.supply == "on" and before >= acct.threshold > after:
            events.append((acct.ean, "LowCredit", None))
        if acct.supply == "on" and before >= 0 > after:
            events.append((acct.ean, "EmergencyCreditStarted", None))
        if acct.supply == "off":
            if after >= RECONNECT_AT:
                acct.supply = "on"
                events.append((acct.ean, "ReconnectionAllowed", None))
        elif acct.supply == "pending":
            if after > EXHAUSTED:  # topped up before the period ended
                acct.supply, acct.pending_since = "on", None
        elif before > EXHAUSTED >= after:
            if in_ndp(now):
                acct.supply, acct.pending_since = "pending", now
                events.append((acct.ean, "DisconnectionPending", ndp_end(now)))
            else:
                acct.supply = "off"
                events.append((acct.ean, acct.cut_name(), None))
        return events

    # -- the operations

    def import_accounts(self, rows: list[AccountInput], now: datetime):
        posted = updated = unchanged = 0
        events: list[MEvent] = []
        errors: list[tuple[int | None, str]] = []
        first_lines: dict[str, AccountInput] = {}
        for row in rows:
            first = first_lines.setdefault(row.ean, row)
            if first is not row:  # a file lists each meter once; a repeat must say the same
                if replace(first, line=None) == replace(row, line=None):
                    unchanged += 1
                else:
                    errors.append((row.line, "ean"))
                continue
            idx = EANS.index(row.ean)
            acct = self.accounts.get(idx)
            # Left empty, the threshold is what is on file (the customer may have set it on the
            # balance line), or the default for a new account.
            threshold = (row.threshold_cents if row.threshold_cents is not None
                         else acct.threshold if acct is not None else DEFAULT_THRESHOLD)
            profile = (row.language, threshold, row.power_limiter)
            if acct is None:
                activated = row.activated_at or now
                transferred = row.transferred_cents or 0
                debt = max(0, START_CREDIT - transferred)
                acct = MAccount(idx=idx, ean=row.ean, energy=row.energy, language=row.language,
                                threshold=threshold, power_limiter=row.power_limiter,
                                activated_on=activated.astimezone(BRUSSELS).date(),
                                activated_at=activated, transferred=row.transferred_cents,
                                balance=transferred + debt,
                                debts=[MDebt(START_DAILY, debt)] if debt else [])
                self.accounts[idx] = acct
                self.external["budget_meter_transfers"] -= transferred
                events.append((row.ean, "PrepaymentActivated", None))
                posted += 1
            elif row.transferred_cents is not None and row.transferred_cents != acct.transferred:
                errors.append((row.line, "transferred_balance"))  # activation cannot change
            elif row.activated_at is not None and row.activated_at != acct.activated_at:
                errors.append((row.line, "activated_at"))
            elif acct.profile == profile:
                unchanged += 1
            else:
                acct.language, acct.threshold, acct.power_limiter = profile
                updated += 1
        return (posted, 0, updated, unchanged, 0, sorted(errors, key=lambda e: e[0] or 0)), events

    def post_consumption(self, rows: list[ConsumptionInput], now: datetime):
        """A file counts each (meter, day) once: a later line for the same day replaces an
        earlier one. A day is posted once it has ended, not before the account's activation."""
        today = now.astimezone(BRUSSELS).date()
        posted = corrected = unchanged = superseded = 0
        errors: list[tuple[int | None, str]] = []
        events: list[MEvent] = []
        latest: dict[tuple[int, date], ConsumptionInput] = {}
        for row in rows:
            acct = self.find(row.ean)
            if acct is None:
                errors.append((row.line, "ean"))
            elif row.day >= today:  # a day's consumption is known once the day has ended
                errors.append((row.line, "day"))
            elif row.amount_cents < 0:
                errors.append((row.line, "amount"))
            else:
                key = (acct.idx, row.day)
                superseded += key in latest
                latest[key] = row
        for (idx, day), row in latest.items():
            acct = self.accounts[idx]
            if day < acct.activated_on:
                errors.append((row.line, "day"))
                continue
            old = acct.days.get(day)
            if old == row.amount_cents:
                unchanged += 1
                continue
            if old is not None:  # a correction: the old amount back, the new one out, no repayment
                after = acct.balance + old - row.amount_cents
                corrected += 1
                self.external["energy_sold"] += row.amount_cents - old
            else:  # a newly posted day repays min(daily, outstanding) of every open debt
                repaid = 0
                for debt in acct.debts:
                    take = min(debt.daily, debt.outstanding)
                    debt.outstanding -= take
                    repaid += take
                after = acct.balance - row.amount_cents - repaid
                posted += 1
                self.external["energy_sold"] += row.amount_cents
            acct.days[day] = row.amount_cents
            events += self.move(acct, after, now)
        return (posted, corrected, 0, unchanged, superseded, sorted(errors)), events

    def top_up(self, ean: str, amount: int, channel: str, reference: str, reason: str | None,
               now: datetime):
        if channel not in (*PAYMENT_CHANNELS, "agent"):
            return ("error", "InvalidInput"), []
        reference = (reference or "").strip()
        if not reference:
            return ("error", "InvalidInput"), []
        if channel == "agent":
            if amount == 0 or not (reason or "").strip():
                return ("error", "InvalidInput"), []
        elif not 500 <= amount <= 25000:
            return ("error", "InvalidInput"), []
        acct = self.find(ean)
        if acct is None:
            return ("error", "UnknownAccount"), []
        key = (channel, reference)
        if key in self.topups:
            if self.topups[key] != (acct.idx, amount):
                return ("error", "ReferenceConflict"), []
            return ("ok", acct.balance, True), []
        self.topups[key] = (acct.idx, amount)
        self.external["agent_adjustments" if channel == "agent" else f"topups:{channel}"] -= amount
        if amount > 0:  # its receipt alone, saying what it left
            self.every_line(acct, acct.balance + amount, now)
            acct.last_topup = (amount, channel)
            events = [(acct.ean, "TopUpReceived", None)]
        else:
            events = self.move(acct, acct.balance + amount, now)
        return ("ok", acct.balance, False), events

    def add_payment_plan(self, ean: str, amount: int, daily: int, reference: str):
        if amount <= 0 or not 0 < daily <= amount or not reference.strip():
            return ("error", "InvalidInput"), []
        acct = self.find(ean)
        if acct is None:
            return ("error", "UnknownAccount"), []
        key = (acct.idx, reference.strip())
        if key in self.plans:
            if self.plans[key] != (amount, daily):
                return ("error", "ReferenceConflict"), []
            return ("ok", False), []
        self.plans[key] = (amount, daily)
        acct.debts.append(MDebt(daily, amount))
        self.external["prior_debts"] += amount
        return ("ok", True), []

    def tick(self, now: datetime):
        events: list[MEvent] = []
        count = 0
        for acct in self.accounts.values():
            cut = self._cut_if_period_over(acct, now)
            count += bool(cut)
            events += cut
        return count, events


# ---- operations, as Hypothesis draws them ----------------------------------------------------

@dataclass(frozen=True)
class AccountRow:
    idx: int
    language: str
    threshold: int | None
    transferred: int | None
    activated_days_ago: int | None
    power_limiter: bool


@dataclass(frozen=True)
class ImportOp:
    rows: tuple[AccountRow, ...]


@dataclass(frozen=True)
class DayRow:
    idx: int
    short: bool
    back: int  # days before the clock's today (0: today, not ended, refused; −1: tomorrow)
    amount: int


@dataclass(frozen=True)
class ConsumeOp:
    rows: tuple[DayRow, ...]


@dataclass(frozen=True)
class TopUpOp:
    idx: int
    short: bool
    channel: str
    amount: int
    reference: str
    reason: str | None


@dataclass(frozen=True)
class PlanOp:
    idx: int
    short: bool
    amount: int
    daily: int
    reference: str


@dataclass(frozen=True)
class ClockOp:
    kind: str  # hours | weekday10 | saturday10 | evening17 | ndp_end | before_ndp_end
    hours: int = 0


@dataclass(frozen=True)
class TickOp:
    pass


@dataclass(frozen=True)
class ReplayOp:
    k: int  # which earlier call to send again (modulo how many there were)


@dataclass(frozen=True)
class AimOp:
    """Move a balance to just around one of the lines, to cross it exactly (or just not)."""

    idx: int
    line: str  # threshold | zero | exhausted | reconnection
    offset: int  # cents from the line
    via: str  # consume | agent | payment
    back: int  # for `consume`: days before today


LINES = {"zero": 0, "exhausted": -1500, "reconnection": 50}


def electricity_only_limiter(row: "AccountRow") -> "AccountRow":
    """A gas meter has no power limiter (refused at import, tested in test_ledger.py)."""
    return replace(
        row, power_limiter=row.power_limiter and ENERGY[row.idx] == "electricity")


account_rows = st.builds(
    AccountRow,
    idx=st.integers(0, N_ACCOUNTS - 1),
    language=st.sampled_from(["fr", "nl", "de"]),
    threshold=st.one_of(st.none(), st.sampled_from([0, 500, 1000, 2500]), st.integers(0, 3000)),
    transferred=st.one_of(st.none(), st.sampled_from([0, 500, 1999, 2000, 3150]),
                          st.integers(0, 6000)),
    activated_days_ago=st.one_of(st.none(), st.integers(0, 3), st.integers(10, 30),
                                 st.integers(10, 30)),
    power_limiter=st.booleans(),
).map(lambda row: electricity_only_limiter(row))
import_ops = st.lists(account_rows, min_size=1, max_size=N_ACCOUNTS,
                      unique_by=lambda r: r.idx).map(lambda rows: ImportOp(tuple(rows)))


def consume_ops(max_amount: int, distinct_days: bool):
    amounts = st.one_of(st.sampled_from([0, 100, 350, 800, 1500, 2600, -5]),
                        st.integers(0, max_amount))
    rows = st.builds(DayRow, idx=st.integers(0, N_ACCOUNTS - 1), short=st.booleans(),
                     back=st.one_of(st.integers(1, 3), st.integers(-1, 9)), amount=amounts)
    unique = (lambda r: (r.idx, r.back)) if distinct_days else None
    return st.lists(rows, min_size=1, max_size=4, unique_by=unique).map(
        lambda rows: ConsumeOp(tuple(rows)))


@st.composite
def self_correcting_consume_ops(draw, max_amount: int):
    """A consumption file that lists one day twice with two amounts (the last one counts)."""
    op = draw(consume_ops(max_amount, distinct_days=True))
    twice = draw(st.sampled_from(op.rows))
    other = draw(st.integers(0, max_amount).filter(lambda a: a != twice.amount))
    position = draw(st.integers(op.rows.index(twice) + 1, len(op.rows)))
    rows = list(op.rows)
    rows.insert(position, replace(twice, amount=other, short=draw(st.booleans())))
    return ConsumeOp(tuple(rows))


@st.composite
def topup_ops(draw, max_payment: int):
    channel = draw(st.sampled_from([*PAYMENT_CHANNELS, "agent"]))
    if channel == "agent":
        amount = draw(st.integers(-3000, 3000))
        reason = draw(st.sampled_from(["meter read twice", "goodwill", "postal transfer", None, " "]))
    else:
        amount = draw(st.one_of(st.integers(500, max_payment),
                                st.sampled_from([500, 670, 1000, 2500, 25000, 499, 25001])))
        reason = None
    return TopUpOp(idx=draw(st.integers(0, N_ACCOUNTS - 1)), short=draw(st.booleans()),
                   channel=channel, amount=amount,
                   reference=draw(st.sampled_from([f"REF-{i}" for i in range(8)])), reason=reason)


@st.composite
def plan_ops(draw):
    amount = draw(st.integers(1, 3000))
    daily = draw(st.one_of(st.integers(1, min(amount, 500)),
                           st.integers(1, amount + 1)))  # amount + 1 is refused
    return PlanOp(idx=draw(st.integers(0, N_ACCOUNTS - 1)), short=draw(st.booleans()),
                  amount=amount, daily=daily, reference=draw(st.sampled_from(["plan-A", "plan-B"])))


clock_ops = st.one_of(
    st.builds(ClockOp, kind=st.just("hours"), hours=st.integers(1, 40)),
    st.sampled_from([ClockOp("weekday10"), ClockOp("saturday10"), ClockOp("evening17"),
                     ClockOp("ndp_end"), ClockOp("before_ndp_end")]),
)


def operations(*, max_amount: int = 3000, max_payment: int = 25000, distinct_days: bool = False,
               self_correcting: bool = False,
               replays: bool = True, aim_weight: int = 2, clock_weight: int = 1, min_size: int = 5,
               max_size: int = 30):
    consume = (self_correcting_consume_ops(max_amount) if self_correcting
               else consume_ops(max_amount, distinct_days))
    choices = [consume, consume, consume, topup_ops(max_payment), topup_ops(max_payment),
               plan_ops(), *[clock_ops, st.just(TickOp())] * clock_weight, import_ops]
    aims = st.builds(AimOp, idx=st.integers(0, N_ACCOUNTS - 1),
                     line=st.sampled_from(["threshold", "zero", "exhausted", "reconnection"]),
                     offset=st.sampled_from([-1, 0, 1, -137, 212]),
                     via=st.sampled_from(["consume", "consume", "agent", "payment"]),
                     back=st.integers(1, 4))
    # A cut-off and its way back: exhaust one meter, let time pass (or not), top it up again.
    cycles = st.tuples(
        st.integers(0, N_ACCOUNTS - 1), st.sampled_from([-1, 0, 1, -137]),
        st.sampled_from(["consume", "agent"]),
        st.one_of(st.lists(st.one_of(clock_ops, st.just(TickOp())), max_size=3),
                  st.sampled_from([[ClockOp("ndp_end"), TickOp()], [ClockOp("ndp_end")],
                                   [ClockOp("before_ndp_end"), TickOp()]])),
        st.sampled_from([-1, 0, 1, 212]), st.sampled_from(["agent", "payment"]),
    ).map(lambda t: (AimOp(t[0], "exhausted", t[1], t[2], 1), *t[3],
                     AimOp(t[0], "reconnection", t[4], t[5], 1)))
    choices += [aims, cycles] * aim_weight
    if replays:
        choices.append(st.builds(ReplayOp, k=st.integers(0, 60)))
    # Start by importing all accounts but the last, so most operations find theirs; the last one
    # arrives (and is activated) with a later import, if any, until then it is unknown.
    first = st.tuples(*(account_rows.map(lambda r, i=i: electricity_only_limiter(replace(r, idx=i)))
                        for i in range(N_ACCOUNTS - 1))).map(ImportOp)
    return st.tuples(first, st.lists(st.one_of(choices), min_size=min_size, max_size=max_size)).map(
        lambda t: [t[0], *(op for item in t[1] for op in (item if isinstance(item, tuple) else [item]))])


# ---- running one sequence on the ledger and on the model --------------------------------------

def next_day_at(now: datetime, hour: int, accept) -> datetime:
    day = now.astimezone(BRUSSELS).date()
    while True:
        candidate = datetime.combine(day, time(hour, 0), tzinfo=BRUSSELS)
        if candidate > now and accept(day):
            return candidate
        day += timedelta(days=1)


def clock_target(op: ClockOp, now: datetime) -> datetime:
    if op.kind == "hours":
        return now + timedelta(hours=op.hours)
    if op.kind == "weekday10":
        return next_day_at(now, 10, lambda d: not protected_day(d))
    if op.kind == "saturday10":
        return next_day_at(now, 10, lambda d: d.weekday() == 5)
    if op.kind == "evening17":
        return next_day_at(now, 17, lambda d: True)
    end = ndp_end(now) if in_ndp(now) else ndp_end(next_day_at(now, 17, lambda d: True))
    return end if op.kind == "ndp_end" else end - timedelta(minutes=1)


def summary(report) -> tuple:
    return (report.new, report.corrected, report.updated, report.unchanged, report.superseded,
            sorted((e.line, e.field) for e in report.errors))


@dataclass
class Call:
    kind: str  # import | consume | topup | plan
    payload: tuple
    outcome: tuple | None = None


class Run:
    def __init__(self, ledger: Ledger, clock: SettableClock):
        self.ledger = ledger
        self.clock = clock
        self.model = Model()
        self.calls: list[Call] = []
        self.last_event_id = 0
        self.aimed = 0
        self.touched: set[str] | None = None  # last 13 digits of the EANs named since the last check
        self.steps: list[str] = []  # what ran, for the failure message

    # -- one operation on both sides

    def payload_of(self, op) -> Call:
        if isinstance(op, ImportOp):
            return Call("import", tuple(AccountInput(
                ean=EANS[r.idx], energy=ENERGY[r.idx], language=r.language,
                threshold_cents=r.threshold, transferred_cents=r.transferred,
                activated_at=(None if r.activated_days_ago is None else
                              START - timedelta(days=r.activated_days_ago, hours=1)),
                power_limiter=r.power_limiter, line=n) for n, r in enumerate(op.rows, start=2)))
        if isinstance(op, ConsumeOp):
            today = self.clock.now().astimezone(BRUSSELS).date()
            return Call("consume", tuple(ConsumptionInput(
                ean=ean_text(r.idx, r.short), day=today - timedelta(days=r.back),
                amount_cents=r.amount, line=n) for n, r in enumerate(op.rows, start=2)))
        if isinstance(op, TopUpOp):
            return Call("topup", (ean_text(op.idx, op.short), op.amount, op.channel, op.reference,
                                  op.reason))
        if isinstance(op, PlanOp):
            return Call("plan", (ean_text(op.idx, op.short), op.amount, op.daily, op.reference))
        if isinstance(op, AimOp):
            return self.aim(op)
        raise TypeError(op)

    def aim(self, op: AimOp) -> Call:
        """The input that takes the balance to the line ± offset (built from the model's state:
        it only chooses the input, the model and the ledger still answer separately)."""
        acct = self.model.accounts.get(op.idx)
        balance = acct.balance if acct else 0
        line = acct.threshold if acct and op.line == "threshold" else LINES.get(op.line, 500)
        delta = line + op.offset - balance
        self.aimed += 1
        if op.via == "consume":
            day = self.clock.now().astimezone(BRUSSELS).date() - timedelta(days=op.back)
            old = acct.days.get(day) if acct else None
            if old is None:
                amount = -delta - sum(min(d.daily, d.outstanding) for d in acct.debts) if acct else 0
            else:
                amount = old - delta
            return Call("consume", (ConsumptionInput(ean=EANS[op.idx], day=day,
                                                     amount_cents=max(amount, 0), line=2),))
        if op.via == "agent":
            return Call("topup", (EANS[op.idx], delta or 1, "agent", f"AIM-{self.aimed}",
                                  "aimed adjustment"))
        return Call("topup", (EANS[op.idx], min(max(delta, 500), 25000), "terminal",
                              f"AIM-{self.aimed}", None))

    async def run(self, op) -> tuple | None:
        if isinstance(op, ClockOp):
            target = clock_target(op, self.clock.now())
            self.clock.advance(target - self.clock.now())
            self.touched = None
            self.steps.append(f"clock → {self.clock.now().isoformat()} "
                              f"({'inside' if in_ndp(self.clock.now()) else 'outside'} the NDP)")
            await self.compare_events([])
            return None
        if isinstance(op, TickOp):
            expected, events = self.model.tick(self.clock.now())
            self.steps.append("tick")
            self.touched = None
            assert await self.ledger.tick() == expected, self.story("tick count")
            await self.compare_events(events)
            return None
        if isinstance(op, ReplayOp):
            if not self.calls:
                return None
            return await self.call(self.calls[op.k % len(self.calls)], replay=True)
        return await self.call(self.payload_of(op))

    async def call(self, call: Call, replay: bool = False) -> tuple:
        now = self.clock.now()
        m, ledger = self.model, self.ledger
        self.steps.append(f"{'replay ' if replay else ''}{call.kind} {call.payload!r}")
        if self.touched is not None:
            eans = ([row.ean for row in call.payload] if call.kind in ("import", "consume")
                    else [call.payload[0]])
            self.touched.update(ean[-13:] for ean in eans)
        if call.kind == "import":
            expected, events = m.import_accounts(list(call.payload), now)
            actual = summary(await ledger.import_accounts(list(call.payload)))
        elif call.kind == "consume":
            expected, events = m.post_consumption(list(call.payload), now)
            actual = summary(await ledger.post_consumption(list(call.payload)))
        elif call.kind == "topup":
            ean, amount, channel, reference, reason = call.payload
            expected, events = m.top_up(ean, amount, channel, reference, reason, now)
            try:
                result = await ledger.top_up(ean, amount, channel, reference, reason=reason)
                actual = ("ok", result.balance_cents, result.replayed)
            except LedgerError as error:
                actual = ("error", type(error).__name__)
        else:
            ean, amount, daily, reference = call.payload
            expected, events = m.add_payment_plan(ean, amount, daily, reference)
            try:
                actual = ("ok", await ledger.add_payment_plan(ean, amount, daily, reference))
            except LedgerError as error:
                actual = ("error", type(error).__name__)
        assert actual == expected, self.story(f"{call.kind} answered {actual}, the model {expected}")
        if not replay:
            self.calls.append(Call(call.kind, call.payload, actual))
        await self.compare_events(events)
        return actual

    # -- what must hold after every step

    async def compare_events(self, expected: list[MEvent]) -> None:
        new = await self.ledger.events_after(self.last_event_id, 10**6)
        if new:
            self.last_event_id = new[-1][0]
        got = Counter((e.ean, e.name) for _, e in new)
        want = Counter((ean, name) for ean, name, _ in expected)
        assert got == want, self.story(f"events {sorted(got.items())}, the model {sorted(want.items())}")
        got_at = sorted((e.ean, e.disconnect_at) for _, e in new if e.name == "DisconnectionPending")
        want_at = sorted((ean, at) for ean, name, at in expected if name == "DisconnectionPending")
        assert got_at == want_at, self.story(f"disconnect_at {got_at}, the model {want_at}")

    async def postings(self) -> tuple[int, int | None]:
        p = schema.postings
        async with self.ledger.engine.connect() as conn:
            count, smallest = (await conn.execute(
                select(func.count(), func.min(p.c.amount_cents)))).one()
        return count, smallest

    async def check_books(self) -> None:
        books = await self.ledger.trial_balance()
        cached = await self.ledger.cached_balances()
        count, smallest = await self.postings()
        # 1. The books sum to zero, every posting moves more than nothing.
        assert sum(books.values()) == 0, self.story(f"books sum to {sum(books.values())}: {books}")
        assert count == 0 or smallest > 0, self.story(f"a posting of {smallest} cents")
        # 2. A cached balance is the sum of its postings...
        for book, value in cached.items():
            assert books.get(book, 0) == value, self.story(
                f"{book}: postings say {books.get(book, 0)}, the cache {value}")
        for book in books:
            if book.startswith(("balance:", "debt:")):
                assert book in cached, self.story(f"{book} has postings but no cached balance")
        # ...and the books outside the accounts hold what the model says went through them.
        for book in ("energy_sold", "budget_meter_transfers", "prior_debts", "agent_adjustments",
                     *(f"topups:{c}" for c in PAYMENT_CHANNELS)):
            assert books.get(book, 0) == self.model.external[book], self.story(
                f"{book}: {books.get(book, 0)}, the model {self.model.external[book]}")
        accounts = self.model.accounts.values()
        total_balances = sum(v for b, v in books.items() if b.startswith("balance:"))
        total_debts = sum(v for b, v in books.items() if b.startswith("debt:"))
        assert total_balances == sum(a.balance for a in accounts), self.story("balance books")
        assert total_debts == -sum(d.outstanding for a in accounts for d in a.debts), \
            self.story("debt books")

    async def check_views(self, everyone: bool = False) -> None:
        """Every account after time moved, else those the last operations named."""
        now = self.clock.now()
        for acct in self.model.accounts.values():
            if not (everyone or self.touched is None or acct.ean[-13:] in self.touched):
                continue
            view = await self.ledger.balance_view(acct.ean, actor="test:properties")
            last = view.last_topup and (view.last_topup.amount_cents, view.last_topup.channel)
            got = (view.balance_cents, view.debt_cents, view.debt_daily_cents, view.state.value,
                   view.threshold_cents, view.power_limiter, last)
            want = (acct.balance, sum(d.outstanding for d in acct.debts),
                    sum(min(d.daily, d.outstanding) for d in acct.debts), acct.state(now),
                    acct.threshold, acct.power_limiter, acct.last_topup)
            assert got == want, self.story(
                f"{acct.ean} (balance, debt, daily repayment, state, threshold, limiter, last "
                f"top-up) is {got}, the model {want}")
        self.touched = set()

    async def check(self, everyone: bool = False) -> None:
        await self.check_books()
        await self.check_views(everyone)

    async def snapshot(self, events_through_the_api: bool = False) -> dict:
        """What a replay must leave as it was (the audit trail aside)."""
        a, d, t, e = schema.accounts, schema.debts, schema.consumption_days, schema.events
        async with self.ledger.engine.connect() as conn:
            events = (await conn.execute(select(func.count(), func.max(e.c.id)))).one()
            accounts = (await conn.execute(select(
                a.c.ean, a.c.balance_cents, a.c.supply, a.c.pending_since, a.c.threshold_cents,
                a.c.language, a.c.power_limiter, a.c.last_topup_at, a.c.last_topup_cents,
                a.c.last_topup_channel).order_by(a.c.id))).all()
            debts = (await conn.execute(select(d).order_by(d.c.id))).all()
            days = (await conn.execute(select(t.c.account_id, t.c.day, t.c.amount_cents,
                                              t.c.repaid_cents).order_by(t.c.account_id, t.c.day))
                    ).all()
        return dict(books=await self.ledger.trial_balance(),
                    cached=await self.ledger.cached_balances(),
                    events=(len(await self.ledger.events_after(0, 10**6))
                            if events_through_the_api else tuple(events)),
                    postings=(await self.postings())[0],
                    accounts=accounts, debts=debts, days=days)

    def check_event_story(self, events) -> None:
        """4. Per EAN (one event per posting at most: each step compares with the model's
        headline()): no more low-credit and emergency-credit
        events than the model's trajectory crossed those lines; cut-offs and reconnections
        alternate, a reconnection only ever follows a cut-off."""
        by_ean: dict[str, list[str]] = defaultdict(list)
        for _, event in events:  # a top-up's receipt that restores the supply is its reconnection
            restored = event.name == "TopUpReceived" and event.outcome == "reconnection"
            by_ean[event.ean].append("ReconnectionAllowed" if restored else event.name)
        for ean in set(by_ean) | set(self.model.trajectory):
            names = by_ean[ean]
            moves = self.model.trajectory[ean]
            low = sum(1 for before, after, threshold in moves if before >= threshold > after)
            zero = sum(1 for before, after, _ in moves if before >= 0 > after)
            assert names.count("LowCredit") <= low, self.story(f"{ean}: LowCredit × {low} at most")
            assert names.count("EmergencyCreditStarted") <= zero, self.story(
                f"{ean}: EmergencyCreditStarted × {zero} at most")
            cut = due = False  # due: a cut announced; a top-up just after its hour finds it cut
            for name in names:
                if name in ("Disconnected", "PowerLimited"):
                    assert not cut, self.story(f"{ean}: cut off twice without a reconnection: {names}")
                    cut, due = True, False
                elif name == "DisconnectionPending":
                    due = True
                elif name == "ReconnectionAllowed":
                    assert cut or due, self.story(f"{ean}: reconnection without a cut-off: {names}")
                    cut = due = False

    def story(self, what: str) -> str:
        return what + "\n  after:\n    " + "\n    ".join(self.steps[-25:])


async def with_ledger(body) -> None:
    """A fresh SQLite file in a fresh directory for one example."""
    with tempfile.TemporaryDirectory(prefix="saldo-prop-") as directory:
        clock = SettableClock(START)
        ledger = await Ledger.open(f"sqlite:///{Path(directory) / 'ledger.db'}", clock=clock,
                                   ndp=NonDisconnectionPeriod())
        try:
            await body(Run(ledger, clock))
        finally:
            await ledger.close()


SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- 1 and 2: the books, the caches and the balances ----------------------------------------

@SETTINGS
@given(ops=operations(min_size=8, max_size=20))
def test_the_books_balance_and_every_balance_is_the_models(ops):
    async def body(run: Run) -> None:
        for op in ops:
            await run.run(op)
            await run.check()
        await run.check(everyone=True)
        run.check_event_story(await run.ledger.events_after(0, 10**6))

    asyncio.run(with_ledger(body))


# ---- 3: replays ------------------------------------------------------------------------------

async def replay_is_a_no_op(run: Run, call: Call) -> None:
    """Send `call` again: the ledger must report nothing new and change nothing."""
    before = await run.snapshot()
    again = await run.call(call, replay=True)
    first = call.outcome
    if call.kind in ("import", "consume"):
        accepted = first[0] + first[1] + first[2] + first[3]
        assert again == (0, 0, 0, accepted, first[4], first[5]), run.story(
            f"the replayed {call.kind} reported {again}, first {first}")
    elif call.kind == "topup":
        assert again == (("ok", first[1], True) if first[0] == "ok" else first), run.story(
            f"the replayed top-up answered {again}, first {first}")
    else:
        assert again == (("ok", False) if first[0] == "ok" else first), run.story(
            f"the replayed payment plan answered {again}, first {first}")
    after = await run.snapshot()
    assert after == before, run.story(f"a replay changed the ledger:\n{before}\n{after}")


def still_current(run: Run, call: Call) -> Call | None:
    """The accepted part of an earlier call, if no later call superseded it (a later correction
    or profile change makes an old input a new correction when sent again, by design)."""
    if call.kind == "import":
        for row in call.payload:
            acct = run.model.accounts[EANS.index(row.ean)]
            threshold = acct.threshold if row.threshold_cents is None else row.threshold_cents
            if acct.profile != (row.language, threshold, row.power_limiter):
                return None
        return call
    if call.kind == "consume":
        refused = {line for line, _ in call.outcome[5]}
        rows = []  # the lines that were accepted, and superseded lines of accepted days
        for row in call.payload:
            acct = run.model.find(row.ean)
            if row.line not in refused and acct and acct.activated_on <= row.day:
                rows.append(row)
        last = {(run.model.find(r.ean).idx, r.day): r.amount_cents for r in rows}
        if not rows or any(run.model.accounts[idx].days[day] != amount
                           for (idx, day), amount in last.items()):
            return None
        return Call("consume", tuple(rows), (len(last), 0, 0, 0, len(rows) - len(last), []))
    # A top-up or a plan refused for an account imported since would now be accepted.
    return call if call.outcome[0] == "ok" else None


async def replay_everything(run: Run) -> None:
    calls = [c for c in (still_current(run, c) for c in run.calls) if c is not None]
    before = await run.snapshot(events_through_the_api=True)
    for call in calls:
        again = await run.call(call, replay=True)
        if call.kind in ("import", "consume"):
            accepted = sum(call.outcome[:4])
            assert again == (0, 0, 0, accepted, *call.outcome[4:]), run.story(
                f"the replayed {call.kind} reported {again}")
        elif call.kind == "topup":
            assert again[0] != "ok" or again[2] is True, run.story(f"top-up not replayed: {again}")
        else:
            assert again[0] != "ok" or again[1] is False, run.story(f"plan added twice: {again}")
    after = await run.snapshot(events_through_the_api=True)
    assert after == before, run.story(f"replaying every import changed the ledger:\n{before}\n{after}")


@settings(SETTINGS, max_examples=30)
@given(ops=operations(distinct_days=True, replays=False, max_size=15))
def test_replaying_any_import_changes_nothing(ops):
    """Every call is sent twice in a row, and at the end every call still current is sent again."""
    async def body(run: Run) -> None:
        for op in ops:
            await run.run(op)
            if isinstance(op, (ImportOp, ConsumeOp, TopUpOp, PlanOp, AimOp)):
                await replay_is_a_no_op(run, run.calls[-1])
        await run.check(everyone=True)
        await replay_everything(run)
        await run.check(everyone=True)

    asyncio.run(with_ledger(body))


@SETTINGS
@given(ops=operations(self_correcting=True, replays=False, max_size=12))
def test_replaying_a_file_that_corrects_its_own_day_changes_nothing(ops):
    """A consumption file may list a day twice (the last amount counts): sent again, it is still
    the same file and must change nothing."""
    async def body(run: Run) -> None:
        for op in ops:
            await run.run(op)
            if isinstance(op, (ConsumeOp, AimOp)) and run.calls[-1].kind == "consume":
                await replay_is_a_no_op(run, run.calls[-1])

    asyncio.run(with_ledger(body))


# ---- 4: one event per crossing, on a tight budget, in and out of the NDP ----------------------

@SETTINGS
@given(ops=operations(max_amount=2500, max_payment=5000, aim_weight=2, clock_weight=2,
                      min_size=15, max_size=35))
def test_each_posting_gives_one_event_at_most_and_cuts_alternate_with_reconnections(ops):
    async def body(run: Run) -> None:
        for op in ops:
            await run.run(op)  # compares each step's events with the model's
        await run.check(everyone=True)
        run.check_event_story(await run.ledger.events_after(0, 10**6))

    asyncio.run(with_ledger(body))
