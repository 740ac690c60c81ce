"""The ledger's service functions: the only way in for the other packages.

Every command runs in one write transaction: its postings, the cached balances, the debts and the
events of the lines it crossed commit together or not at all. Inputs are replayable: each posting
carries an idempotency key (`reference`), so posting the same input twice posts it once.
"""

import asyncio
import functools
import json
import pickle
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import schema
from .calendar import NonDisconnectionPeriod
from .clock import BRUSSELS, Clock, from_text, to_text
from .db import (fetch_rows, insert_many, update_many)
from .ean import FULL_LENGTH, SHORT_LENGTH, is_valid_full, short_code, short_or_full, with_prefix
from .errors import InvalidInput, LedgerError, ReferenceConflict, UnknownAccount
from .events import Event, PrepaymentActivated, event_from_row
from .limits import ADJUSTMENT_MAX_CENTS, DAY_CONSUMPTION_MAX_CENTS, LARGEST_CENTS, check_text
from .access import Access
from .cpas import CpasDesk
from .accounts import (
    ACCOUNT_COLUMNS,
    Account,
    Debt,
    Statement,
    Writes,
    account_from_row,
    account_reader,
    load_accounts,
    must_load,
    point_read_statements,
)
from .audit import AuditTrail
from .books import (
    AGENT_ADJUSTMENTS,
    BUDGET_METER_TRANSFERS,
    ENERGY_SOLD,
    PRIOR_DEBTS,
    TopUpReference,
    balance_book,
    consumption_reference,
    plan_debt_book,
    plan_reference,
    repayment_reference,
    reversal_reference,
    start_credit_reference,
    start_debt_book,
    topup_book,
)
from .domain import AGENT, ENERGIES, LANGUAGES, NOTIFY_CHOICES, TOPUP_CHANNELS, Notify, known
from .names import name_key
from .outbox import Outbox
from .store import Store
from .rules import (
    DEFAULT_THRESHOLD_CENTS,
    START_CREDIT_CENTS,
    START_CREDIT_DAILY_CENTS,
    TOPUP_MAX_CENTS,
    TOPUP_MIN_CENTS,
    Supply,
    crosses_a_line,
    end_pending,
    settle,
)
from .rules import top_up as rules_top_up
from .view import OUTFLOW_WINDOW_DAYS, BalanceView, LastTopUp, build_view

if TYPE_CHECKING:  # ledger.cpas imports this module
    from .cpas import ResidentsPage


# Books outside the accounts: where the money comes from and goes to.

# Rows per transaction on the import paths. On SQLite a transaction holds the one write lock,
# and a balance-line answer waits for its audit record: 1,000 rows hold it some 40 ms, where
# 10,000 held it 0.4 s and put 0.9 s on the line's p99 while an import ran
# (bench/line_isolation.py); the import itself is a few per cent slower (bench/ledger_batch.py).
CHUNK = 1000
# A consumption chunk is read and reckoned outside the write lock, then written this many rows
# at a time on SQLite, in one hand-over to a thread: its one write lock is held ~1 ms
# (bench/line_isolation.py: the line's p99 while an import runs in another process went from
# 57 ms with whole chunks to 11-18 ms with 100 rows through SQLAlchemy, to 9-13 ms this way with
# 50 rows, and to 8-9 ms with 10; the import takes ~15 % longer than with 50).
WRITE_BATCH = 10
# Rows read, checked and staged at a time: an import holds one batch of its input, whatever the
# file's length; the rest waits in a scratch SQLite file (_scratch_database).
STAGING_BATCH = 10_000


@dataclass(frozen=True)
class AccountInput:
    ean: str  # 18 digits, or the last 13 (rebuilt with the network's prefix)
    energy: str
    language: str
    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    notify: str | None = None
    threshold_cents: int | None = None
    transferred_cents: int | None = None
    activated_at: datetime | None = None
    power_limiter: bool = False
    cpas: str | None = None
    line: int | None = None


class ConsumptionInput(NamedTuple):  # a tuple: hundreds of thousands per import
    ean: str
    day: date
    amount_cents: int
    quantity: str | None = None
    unit: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class RowError:
    line: int | None
    field: str
    message: str


@dataclass
class ImportReport:
    new: int = 0  # accounts created, or meter-days posted for the first time
    corrected: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0  # lines replaced by a later line of the same file for the same day
    errors: list[RowError] = field(default_factory=list)

    def add(self, other: "ImportReport") -> None:
        self.new += other.new
        self.corrected += other.corrected
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.superseded += other.superseded
        self.errors += other.errors


@dataclass(frozen=True)
class TopUpResult:
    balance_cents: int
    replayed: bool


def check_account_texts(row: AccountInput) -> None:
    """The limits of an account's text fields (ledger.limits): the first one broken."""
    for name in ("name", "mobile", "email", "cpas"):
        check_text(name, getattr(row, name))


def _consumption_error(row: ConsumptionInput, ids: dict[str, int], today: date,
                       most_cents: int) -> tuple[str, str] | None:
    for name in ("quantity", "unit"):
        try:
            check_text(name, getattr(row, name))
        except InvalidInput as error:
            return name, error.message
    if row.ean not in ids:
        if len(row.ean) == FULL_LENGTH and not is_valid_full(row.ean):
            return "ean", "the check digit does not match: the code seems mistyped"
        return "ean", "no prepayment account has this EAN"
    if row.day >= today:
        return "day", f"{row.day.isoformat()} has not ended yet"
    if row.amount_cents < 0:
        return "amount", "a consumption cannot be negative"
    if row.amount_cents > most_cents:
        return "amount", (f"more than {most_cents // 100},{most_cents % 100:02d} € in a day "
                          "(DAY_CONSUMPTION_MAX)")
    return None


# ---- the imports' staging: their input waits on disk, not on the heap -----------------------

T = TypeVar("T")


def _batches(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


@contextmanager
def _scratch_database() -> Iterator[sqlite3.Connection]:
    """A SQLite file of one import's own, deleted when the import ends. Plain sqlite3 whatever
    the ledger's database: a private file, so staging takes none of the ledger's locks."""
    with tempfile.TemporaryDirectory(prefix="saldo-import-") as folder:
        db = sqlite3.connect(Path(folder) / "staged.db", isolation_level=None)
        try:
            # Thrown away on any failure: nothing to recover, so no journal and no fsync.
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            # One transaction, never committed: in autocommit each row would write its pages.
            db.execute("BEGIN")
            yield db
        finally:
            db.close()


# Each EAN's first row, pickled whole: a later row is compared with it as the dataclass it was.
_STAGED_ACCOUNTS = "CREATE TABLE accounts (ean TEXT PRIMARY KEY, row BLOB NOT NULL)"
_STAGE_ACCOUNT = "INSERT INTO accounts (ean, row) VALUES (?, ?)"
_STAGED_ACCOUNTS_IN_ORDER = "SELECT row FROM accounts ORDER BY rowid"  # the file's order
_STAGED_LOOKUP = 500  # values in one IN list: older SQLite builds take at most 999


def _staged_accounts(staged: sqlite3.Connection, eans: list[str]) -> dict[str, AccountInput]:
    """The rows staged already for these EANs."""
    found: dict[str, AccountInput] = {}
    for start in range(0, len(eans), _STAGED_LOOKUP):
        some = eans[start:start + _STAGED_LOOKUP]
        found.update((ean, pickle.loads(row)) for ean, row in staged.execute(
            f"SELECT ean, row FROM accounts WHERE ean IN ({', '.join('?' * len(some))})", some))
    return found


# One row per (account, day): a later line's values replace an earlier one's, while the day
# keeps the place of its first line (`place`), the order it is posted in within its account:
# the repayments and the lines crossed follow the file's order.
_STAGED_DAYS = """CREATE TABLE days (
    account_id INTEGER NOT NULL, day TEXT NOT NULL, place INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL, quantity TEXT, unit TEXT, line INTEGER,
    PRIMARY KEY (account_id, day)) WITHOUT ROWID"""
_STAGE_DAY = """INSERT INTO days (account_id, day, place, amount_cents, quantity, unit, line)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (account_id, day) DO UPDATE SET amount_cents = excluded.amount_cents,
    quantity = excluded.quantity, unit = excluded.unit, line = excluded.line"""
# By account: each write transaction then reads a narrow range of accounts.
_STAGED_DAYS_IN_ORDER = """SELECT account_id, day, amount_cents, quantity, unit, line
    FROM days ORDER BY account_id, place"""


@functools.cache
def _ids_by(key_column: str):
    """Account ids by one key column; the keys are expanded into the IN list at each call."""
    a = schema.accounts
    column = a.c[key_column]
    return select(column, a.c.id).where(column.in_(bindparam("keys", expanding=True)))


class _StagedDay(NamedTuple):
    account_id: int
    day: str  # YYYY-MM-DD
    amount_cents: int
    quantity: str | None
    unit: str | None
    line: int | None


@dataclass(frozen=True)
class _ConsumptionState:
    """What a piece of a consumption import is reckoned from, as read, compared row for row."""

    account_rows: list[tuple]
    debt_rows: list[tuple]
    posted_rows: list[tuple]

    def accounts(self) -> dict[int, "Account"]:
        """Built afresh each time: the reckoning changes them, the rows stay as read."""
        accounts = {row[0]: account_from_row(row) for row in self.account_rows}
        for id_, account_id, book, daily, outstanding in self.debt_rows:
            accounts[account_id].debts.append(Debt(id_, book, daily, outstanding))
        return accounts

    def posted_days(self) -> dict[tuple[int, str], tuple[int, int]]:
        """(account, day) → (amount, revision)."""
        return {(account_id, day): (amount, revision)
                for account_id, day, amount, revision in self.posted_rows}

    @classmethod
    def read_sqlite(cls, conn: sqlite3.Connection, rows: list[_StagedDay]) -> "_ConsumptionState":
        """As Ledger._consumption_state reads it, on the raw SQLite driver."""
        values = {"ids": json.dumps(sorted({row.account_id for row in rows})),
                  "days": json.dumps(sorted({row.day for row in rows}))}
        return cls(*[statement.run(conn, **values).fetchall()
                     for statement in _consumption_state_sqlite()])

    def of(self, rows: list[_StagedDay]) -> "_ConsumptionState":
        """The part that `rows` depend on."""
        ids = {row.account_id for row in rows}
        days = {row.day for row in rows}
        return _ConsumptionState([r for r in self.account_rows if r[0] in ids],
                                 [r for r in self.debt_rows if r[1] in ids],
                                 [r for r in self.posted_rows if r[0] in ids and r[1] in days])


def _in_list(column, name: str):
    return column.in_(bindparam(name, expanding=True))


def _in_json_array(column, name: str):
    # One compiled statement for any number of values (SQLite's json_each).
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))


@functools.cache
def _consumption_state_statements(one_of=_in_list) -> tuple:
    """Built once and compiled once (SQLAlchemy caches them): they are read under the write
    lock, where compiling them at each batch cost about a third of its time."""
    a, d, t = schema.accounts, schema.debts, schema.consumption_days
    return (
        select(*ACCOUNT_COLUMNS).where(one_of(a.c.id, "ids")).order_by(a.c.id),
        select(d.c.id, d.c.account_id, d.c.book, d.c.daily_cents, d.c.outstanding_cents)
        .where(one_of(d.c.account_id, "ids"), d.c.outstanding_cents > 0)
        .order_by(d.c.account_id, d.c.id),
        select(t.c.account_id, t.c.day, t.c.amount_cents, t.c.revision)
        .where(one_of(t.c.account_id, "ids"), one_of(t.c.day, "days"))
        .order_by(t.c.account_id, t.c.day),
    )


@functools.cache
def _consumption_state_sqlite() -> tuple[Statement, ...]:
    """The same reads for the raw SQLite driver (ConsumptionState.read_sqlite)."""
    dialect = sqlite_dialect(paramstyle="named")
    compiled = [statement.compile(dialect=dialect)
                for statement in _consumption_state_statements(_in_json_array)]
    return tuple(Statement(str(c), dict(c.params)) for c in compiled)


def _by_whole_accounts(rows: list[_StagedDay], size: int) -> Iterator[list[_StagedDay]]:
    """Consecutive pieces of about `size` rows, an account's rows never split between two."""
    piece: list[_StagedDay] = []
    for row in rows:
        if len(piece) >= size and row.account_id != piece[-1].account_id:
            yield piece
            piece = []
        piece.append(row)
    if piece:
        yield piece


class Lookup(NamedTuple):
    """One look-up of the audit trail."""

    at: datetime
    ean: str | None
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class Resident:
    """An account under a CPAS's mandate, as its staff see it."""

    name: str | None
    view: BalanceView


class Ledger:
    """The prepayment ledger over one database."""

    def __init__(self, store: Store, *, ndp: NonDisconnectionPeriod | None = None,
                 ean_prefix: str | None = None,
                 day_consumption_max_cents: int = DAY_CONSUMPTION_MAX_CENTS,
                 adjustment_max_cents: int = ADJUSTMENT_MAX_CENTS):
        """`store`: the database as every part of the ledger uses it (ledger/store.py)."""
        self.store = store
        self.day_consumption_max_cents = day_consumption_max_cents
        self.adjustment_max_cents = adjustment_max_cents
        self.ndp = ndp or NonDisconnectionPeriod()
        self._ean_prefix = ean_prefix
        self._shared_prefix: str | None = None
        self.outbox = Outbox(store)
        self.access = Access(store)
        self.cpas = CpasDesk(store, self)
        self._reader = account_reader(store)  # the balance line's look-up

    # What the other packages and the tests read of the store.
    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @property
    def clock(self) -> Clock:
        return self.store.clock

    @property
    def trail(self) -> AuditTrail:
        return self.store.trail

    @classmethod
    async def open(cls, database_url: str, *, clock: Clock | None = None,
                   background: bool = False, **options) -> "Ledger":
        """`background`: a process nobody waits on (an import, the worker): on SQLite its
        writers let every other process's go first (ledger/turnstile.py)."""
        store = await Store.open(database_url, clock=clock, background=background)
        ledger = cls(store, **options)
        try:
            # The holiday calendar loads on first use (~100 ms): here, not in a request.
            await asyncio.to_thread(ledger.ndp.load_holidays, ledger.clock.now())
        except BaseException:
            await store.close()
            raise
        return ledger

    async def close(self) -> None:
        await self.store.close()

    async def upgrade(self) -> int:
        return await self.store.upgrade()

    # ---- finding accounts -------------------------------------------------------------------

    async def ean_prefix(self) -> str | None:
        """The network's 5-digit prefix: configured, or the one the accounts share."""
        if self._ean_prefix:
            return self._ean_prefix
        if self._shared_prefix is None:  # a scan of every account: once, until accounts change
            async with self.store.reading() as conn:
                self._shared_prefix = (await conn.execute(
                    select(func.substr(schema.accounts.c.ean, 1, 5).label("p"))
                    .group_by("p").order_by(func.count().desc()).limit(1))).scalar()
        return self._shared_prefix

    async def _account_ids(self, ean_texts: Iterable[str]) -> dict[str, int]:
        """Account ids by the 13 or 18 digits given; a code that matches none is left out.

        An account's id and EAN never change, so this is read outside the write transactions.
        """
        texts = set(ean_texts)
        short = {text for text in texts if len(text) == SHORT_LENGTH}
        full = texts - short
        a = schema.accounts
        async with self.store.reading() as conn:
            # The key column and the ids, as pairs: dict() builds the lookup at C speed.
            by_short = await self._id_lookup(conn, a.c.ean13, short)
            by_full = await self._id_lookup(conn, a.c.ean, full)
        ids = {text: by_short[text] for text in short if text in by_short}
        ids.update((text, by_full[text]) for text in full if text in by_full)
        return ids

    @staticmethod
    async def _id_lookup(conn: AsyncConnection, column, keys: set[str]) -> dict[str, int]:
        # IN lists of CHUNK keys, never a pass over the whole table: an import looks up a
        # batch at a time, and every pass would read every account.
        statement = _ids_by(column.name)
        ordered = sorted(keys)
        found: dict[str, int] = {}
        for start in range(0, len(ordered), CHUNK):
            found.update((await conn.execute(statement,
                                             {"keys": ordered[start:start + CHUNK]})).all())
        return found

    def _settle(self, writes: Writes, account: Account, new_balance: int, now: datetime,
                at: str) -> None:
        if account.supply is Supply.ON and not crosses_a_line(
                account.balance_cents, new_balance, account.threshold_cents):
            account.balance_cents = new_balance
        else:
            meter, events = settle(account.meter, new_balance, now, self.ndp)
            account.apply(meter)
            writes.emit(account.id, events)
        account.as_of = at
        writes.accounts[account.id] = account

    # ---- accounts and activation ------------------------------------------------------------

    async def import_accounts(self, rows: Iterable[AccountInput]) -> ImportReport:
        """Create the accounts (activating their prepayment) or update their details.

        The rows are read a batch at a time and wait in a scratch file, so an input of any
        length is never held whole; nothing is written before the last row is read."""
        report = ImportReport()
        prefix: str | None = None
        prefix_read = False
        with _scratch_database() as staged:
            staged.execute(_STAGED_ACCOUNTS)
            for batch in _batches(rows, STAGING_BATCH):
                if not prefix_read and any(len(row.ean) == SHORT_LENGTH for row in batch):
                    prefix, prefix_read = await self.ean_prefix(), True
                self._stage_accounts(staged, batch, prefix, report)
            waiting = staged.execute(_STAGED_ACCOUNTS_IN_ORDER)
            # Read and written under the lock, so in short transactions on SQLite (see
            # WRITE_BATCH and _consumption_chunk).
            size = WRITE_BATCH if self.engine.dialect.name == "sqlite" else CHUNK
            while chunk := waiting.fetchmany(size):
                async with self.store.writing() as conn:
                    await self._import_account_chunk(
                        conn, [pickle.loads(row) for (row,) in chunk], report)
        report.errors.sort(key=lambda error: error.line or 0)
        if report.new:
            self._shared_prefix = None
        return report

    def _stage_accounts(self, staged: sqlite3.Connection, rows: list[AccountInput],
                        prefix: str | None, report: ImportReport) -> None:
        """Stages each EAN's first row; a later row for it is unchanged or refused."""
        completed: list[AccountInput | RowError] = []
        for row in rows:
            try:
                completed.append(self._complete(row, prefix))
            except InvalidInput as error:
                completed.append(RowError(row.line, error.field, error.message))
        firsts = _staged_accounts(staged, sorted({row.ean for row in completed
                                                  if isinstance(row, AccountInput)}))
        new: list[AccountInput] = []
        for row in completed:
            if isinstance(row, RowError):
                report.errors.append(row)
                continue
            first = firsts.get(row.ean)
            if first is None:
                firsts[row.ean] = row
                new.append(row)
            elif first == replace(row, line=first.line):
                report.unchanged += 1
            else:  # refused on every run, so that a replay changes nothing
                report.errors.append(RowError(row.line, "ean",
                                              f"listed twice with other details (line {first.line})"))
        staged.executemany(_STAGE_ACCOUNT, [(row.ean, pickle.dumps(row, pickle.HIGHEST_PROTOCOL))
                                            for row in new])

    def _complete(self, row: AccountInput, prefix: str | None) -> AccountInput:
        check_account_texts(row)
        ean = row.ean
        if len(ean) == SHORT_LENGTH:
            if not prefix:
                raise InvalidInput("ean", "give the 18 digits: no network prefix is known yet",
                                   "ean.prefix_unknown")
            ean = with_prefix(prefix, ean)
        known("energy", row.energy, ENERGIES)
        known("language", row.language, LANGUAGES)
        if row.power_limiter and row.energy == "gas":
            raise InvalidInput("power_limiter", "only an electricity meter has a power limiter",
                               "power_limiter.not_electricity")
        notify = row.notify or (Notify.SMS_AND_EMAIL if row.mobile and row.email else
                                Notify.SMS if row.mobile else Notify.EMAIL if row.email else
                                Notify.NONE)
        known("notify", notify, NOTIFY_CHOICES)
        if "sms" in notify and not row.mobile:
            raise InvalidInput("notify", f"{notify!r} needs a mobile number", "notify.needs_mobile",
                               value=notify)
        if "email" in notify and not row.email:
            raise InvalidInput("notify", f"{notify!r} needs an e-mail address",
                               "notify.needs_email", value=notify)
        threshold = row.threshold_cents if row.threshold_cents is not None else DEFAULT_THRESHOLD_CENTS
        if not 0 <= threshold <= TOPUP_MAX_CENTS:
            raise InvalidInput("low_credit_threshold", "must lie between 0,00 and 250,00 €",
                               "threshold.out_of_range", low_cents=0, high_cents=TOPUP_MAX_CENTS)
        most = self.adjustment_max_cents
        if row.transferred_cents is not None and not -most <= row.transferred_cents <= most:
            raise InvalidInput("transferred_balance", "lies beyond an agent's adjustment "
                               "(ADJUSTMENT_MAX)", "amount.out_of_range", low_cents=-most,
                               high_cents=most)
        if row.activated_at and row.activated_at > self.clock.now():
            raise InvalidInput("activated_at", "lies in the future", "date.in_the_future")
        return replace(row, ean=ean, notify=notify, threshold_cents=threshold, line=row.line)

    async def _import_account_chunk(self, conn: AsyncConnection, rows: list[AccountInput],
                                    report: ImportReport) -> None:
        t = schema.accounts
        existing = {r.ean: r for r in await conn.execute(
            select(t).where(t.c.ean13.in_([short_code(row.ean) for row in rows])))}
        taken_13 = {short_code(ean): ean for ean in existing}
        now = self.clock.now()
        new: dict[str, AccountInput] = {}
        profile_updates: list[tuple] = []
        for row in rows:
            profile = (row.language, row.name, row.mobile, row.email, row.notify,
                       row.threshold_cents, row.power_limiter, row.cpas)
            old = existing.get(row.ean)
            if old is None and (taken_13.get(short_code(row.ean), row.ean) != row.ean):
                report.errors.append(RowError(row.line, "ean", "another EAN ends with the same 13 digits"))
            elif old is None:
                new[row.ean] = row
                taken_13[short_code(row.ean)] = row.ean
            elif old.energy != row.energy:
                report.errors.append(RowError(row.line, "energy",
                                              f"this EAN is a {old.energy} meter, not {row.energy}"))
            elif row.transferred_cents is not None and row.transferred_cents != old.transferred_cents:
                report.errors.append(RowError(row.line, "transferred_balance",
                                              "the account is activated already; its transferred "
                                              "balance cannot change"))
            elif row.activated_at is not None and to_text(row.activated_at) != old.activated_at:
                report.errors.append(RowError(row.line, "activated_at",
                                              f"the account was activated at {old.activated_at} "
                                              "(UTC); that cannot change"))
            elif (old.language, old.name, old.mobile, old.email, old.notify, old.threshold_cents,
                  bool(old.power_limiter), old.cpas) == profile:
                report.unchanged += 1
            else:
                profile_updates.append((*profile, name_key(row.name), old.id))
                report.updated += 1
        await update_many(conn, t, "id", ("language", "name", "mobile", "email", "notify",
                                          "threshold_cents", "power_limiter", "cpas",
                                          "name_key"), profile_updates)
        if not new:
            return
        await self._activate(conn, list(new.values()), now)
        report.new += len(new)

    async def _activate(self, conn: AsyncConnection, rows: list[AccountInput], now: datetime) -> None:
        """Activation (seed 003): balance max(B, 20 €), debt max(0, 20 € − B) repaid 1 €/day."""
        t = schema.accounts
        plans = []
        for row in rows:
            at = to_text(row.activated_at or now)
            transferred = row.transferred_cents or 0
            balance = max(transferred, START_CREDIT_CENTS)
            plans.append((row, at, transferred, balance, balance - transferred))
        await insert_many(conn, t, (
            "ean", "ean13", "energy", "language", "name", "mobile", "email", "notify",
            "threshold_cents", "power_limiter", "cpas", "activated_at", "activated_on",
            "transferred_cents", "balance_cents", "supply", "as_of", "name_key"), (
            (row.ean, short_code(row.ean), row.energy, row.language, row.name, row.mobile,
             row.email, row.notify, row.threshold_cents, row.power_limiter, row.cpas, at,
             from_text(at).astimezone(BRUSSELS).date().isoformat(), row.transferred_cents, balance,
             Supply.ON.value, at, name_key(row.name))
            for row, at, _, balance, _ in plans))
        ids = {r.ean: r.id for r in await conn.execute(
            select(t.c.id, t.c.ean).where(t.c.ean.in_([row.ean for row in rows])))}
        writes = Writes()
        debts = []
        for row, at, transferred, balance, debt in plans:
            account_id = ids[row.ean]
            book = balance_book(account_id)
            writes.post(account_id, "transfer", BUDGET_METER_TRANSFERS, book, transferred, at,
                        f"transfer:{row.ean}")
            if debt:
                debt_book = start_debt_book(account_id)
                debts.append((account_id, debt_book, "start_credit", debt, START_CREDIT_DAILY_CENTS,
                              debt, at))
                writes.post(account_id, "start_credit", debt_book, book, debt, at,
                            start_credit_reference(row.ean))
            writes.emit(account_id, [PrepaymentActivated(
                ean=row.ean, energy=row.energy, language=row.language,
                at=from_text(at), balance_cents=balance, debt_cents=debt,
                daily_repayment_cents=START_CREDIT_DAILY_CENTS if debt else 0,
                transferred_cents=transferred)])
        await insert_many(conn, schema.debts, ("account_id", "book", "kind", "principal_cents",
                                               "daily_cents", "outstanding_cents", "created_at"),
                          debts)
        await writes.flush(conn)

    # ---- consumption ------------------------------------------------------------------------

    async def post_consumption(self, rows: Iterable[ConsumptionInput]) -> ImportReport:
        """Charge each day's consumption and that day's debt repayments. Replays post nothing;
        another amount for a day already posted reverses the old posting and posts the new.

        The rows are checked a batch at a time and wait in a scratch file, so an input of any
        length is never held whole; nothing is written before the last row is read."""
        report = ImportReport()
        today = self.clock.now().astimezone(BRUSSELS).date()
        with _scratch_database() as staged:
            staged.execute(_STAGED_DAYS)
            valid = 0
            for batch in _batches(rows, STAGING_BATCH):
                valid = await self._stage_consumption(staged, batch, today, valid, report)
            (days,) = staged.execute("SELECT count(*) FROM days").fetchone()
            report.superseded = valid - days  # lines a later line for the same day replaced
            waiting = staged.execute(_STAGED_DAYS_IN_ORDER)
            while chunk := waiting.fetchmany(CHUNK):
                await self._consumption_chunk(list(map(_StagedDay._make, chunk)), report)
        report.errors.sort(key=lambda error: error.line or 0)
        return report

    async def _stage_consumption(self, staged: sqlite3.Connection, rows: list[ConsumptionInput],
                                 today: date, valid: int, report: ImportReport) -> int:
        """Stages a batch's valid rows, numbered on from `valid` (the valid rows before it);
        returns the valid rows counted with this batch's."""
        ids = await self._account_ids(row.ean for row in rows)
        checked = []
        for row in rows:
            error = _consumption_error(row, ids, today, self.day_consumption_max_cents)
            if error:
                report.errors.append(RowError(row.line, *error))
                continue
            checked.append((ids[row.ean], row.day.isoformat(), valid + len(checked),
                            row.amount_cents, row.quantity, row.unit, row.line))
        staged.executemany(_STAGE_DAY, checked)
        return valid + len(checked)

    async def _consumption_chunk(self, rows: list[_StagedDay], report: ImportReport) -> None:
        """Read and reckoned without the write lock, then written WRITE_BATCH rows at a time
        (whole accounts), each batch checked under the lock against the rows it was reckoned
        from — and reckoned again there if one changed meanwhile (a top-up, another import).
        So the lock is held for a few milliseconds at a time: a balance look-up's audit
        record, in this process or another, never waits for a whole chunk."""
        async with self.store.reading() as conn:
            seen = await self._consumption_state(conn, rows)
        # On PostgreSQL a transaction costs more (36 ms for 100 rows here) and the line's audit
        # appends do not take the writers' lock: there, short batches only made top-ups wait.
        size = WRITE_BATCH if self.store.raw_writes else len(rows)
        for batch in _by_whole_accounts(rows, size):
            before = seen.of(batch)
            done = ImportReport()
            writes = self._consumption_writes(batch, before, done)
            if self.store.raw_writes:  # SQLite: read again, checked and written in one hand-over
                done = await self.store.writing_raw(functools.partial(
                    self._write_consumption_sqlite, batch, before, writes, done))
            else:
                async with self.store.writing() as conn:
                    now = await self._consumption_state(conn, batch)
                    if now != before:
                        done = ImportReport()
                        writes = self._consumption_writes(batch, now, done)
                    await writes.flush(conn)
            report.add(done)

    def _write_consumption_sqlite(self, batch: list[_StagedDay], before: "_ConsumptionState",
                                  writes: "Writes", done: ImportReport,
                                  conn: sqlite3.Connection) -> ImportReport:
        """In the write transaction, on the raw SQLite driver: through SQLAlchemy's async
        adapter a batch took some twenty hand-overs to the driver's thread, ~3.5 ms of the ~6
        it held the lock (bench/line_isolation.py)."""
        now = _ConsumptionState.read_sqlite(conn, batch)
        if now != before:
            done = ImportReport()
            writes = self._consumption_writes(batch, now, done)
        writes.flush_sqlite(conn)
        return done

    async def _consumption_state(self, conn: AsyncConnection, rows: list[_StagedDay]
                                 ) -> "_ConsumptionState":
        """The rows the reckoning of `rows` depends on, as read: their accounts, open debts
        and the days already posted."""
        values = {"ids": sorted({row.account_id for row in rows}),
                  "days": sorted({row.day for row in rows})}
        return _ConsumptionState(*[[tuple(row) for row in await conn.execute(statement, values)]
                                   for statement in _consumption_state_statements()])

    def _consumption_writes(self, rows: list[_StagedDay], state: "_ConsumptionState",
                            report: ImportReport) -> "Writes":
        accounts = state.accounts()
        posted = state.posted_days()
        writes = Writes()
        now = self.clock.now()
        at = to_text(now)
        for row in rows:  # one row per (account, day): the staging made sure
            account_id = row.account_id
            account = accounts[account_id]
            day = row.day
            if day < account.activated_on:
                report.errors.append(RowError(row.line, "day", "lies before prepayment was activated"))
                continue
            before = posted.get((account_id, day))
            if before and before[0] == row.amount_cents:
                report.unchanged += 1
                continue
            balance = account.balance_cents
            book = balance_book(account_id)
            if before:  # a correction: reverse the day's posting, post the new amount
                old_amount, old_revision = before
                old_reference = consumption_reference(account_id, day, old_revision)
                writes.post(account_id, "reversal", ENERGY_SOLD, book, old_amount, at,
                            reversal_reference(old_reference), day, old_reference)
                balance += old_amount
                revision = old_revision + 1
                writes.changed_days.append((row.amount_cents, revision, row.quantity, row.unit,
                                            account_id, day))
                report.corrected += 1
            else:  # a new day: its consumption and that day's repayment of each open debt
                revision = 0
                repaid = 0
                for debt in account.debts:
                    take = min(debt.daily_cents, debt.outstanding_cents)
                    if take > 0:
                        writes.post(account_id, "repayment", book, debt.book, take, at,
                                    repayment_reference(debt.book, day), day)
                        debt.outstanding_cents -= take
                        writes.debts[debt.id] = debt
                        repaid += take
                balance -= repaid
                writes.new_days.append((account_id, day, row.amount_cents, repaid, revision,
                                        row.quantity, row.unit))
                report.new += 1
            writes.post(account_id, "consumption", book, ENERGY_SOLD, row.amount_cents, at,
                        consumption_reference(account_id, day, revision), day)
            balance -= row.amount_cents
            if balance < -LARGEST_CENTS:
                report.errors.append(RowError(row.line, "amount", "the balance cannot go lower"))
                continue
            self._settle(writes, account, balance, now, at)
        return writes

    # ---- top-ups and payment plans ----------------------------------------------------------

    async def top_up(self, ean_text: str, amount_cents: int, channel: str, reference: str,
                     reason: str | None = None, *, actor: str = "system",
                     issuer: str | None = None) -> TopUpResult:
        """Record a payment; `actor` (who recorded it) goes to the audit trail with it, and so
        does a refusal (which field, or which conflict). `issuer`: whose numbering the reference
        follows, when several share a channel (each CPAS office numbers its own receipts)."""
        try:
            return await self._top_up(ean_text, amount_cents, channel, reference, reason,
                                      actor=actor, issuer=issuer)
        except LedgerError as refused:
            try:
                ean = short_or_full(ean_text)
            except InvalidInput:
                ean = None
            outcome = {InvalidInput: f"refused:{getattr(refused, 'field', '')}",
                       UnknownAccount: "unknown",
                       ReferenceConflict: "conflict"}.get(type(refused), "refused")
            detail = (reference or "").replace("\x00", "").strip()[:200] or None
            await self.audit(actor=actor, action="topup", ean=ean, outcome=outcome,
                             detail=detail)
            raise

    async def _top_up(self, ean_text: str, amount_cents: int, channel: str, reference: str,
                      reason: str | None, *, actor: str, issuer: str | None) -> TopUpResult:
        known("channel", channel, TOPUP_CHANNELS)
        reference = (reference or "").strip()
        if not reference:
            raise InvalidInput("reference", "a top-up needs its payment reference",
                               "reference.missing")
        check_text("reference", reference)
        check_text("reason", reason)
        if issuer is not None:
            check_text("issuer", issuer)
        if channel == AGENT:
            if amount_cents == 0:
                raise InvalidInput("amount", "an agent's adjustment cannot be zero",
                                   "amount.zero_adjustment")
            if not (reason or "").strip():
                raise InvalidInput("reason", "an agent's adjustment needs a reason",
                                   "reason.missing")
            most = self.adjustment_max_cents
            if not -most <= amount_cents <= most:
                raise InvalidInput("amount", f"an agent's adjustment lies between "
                                   f"-{most // 100},{most % 100:02d} € and "
                                   f"{most // 100},{most % 100:02d} € (ADJUSTMENT_MAX)",
                                   "amount.out_of_range", low_cents=-most, high_cents=most)
        elif not TOPUP_MIN_CENTS <= amount_cents <= TOPUP_MAX_CENTS:
            raise InvalidInput("amount", "a top-up lies between 5,00 € and 250,00 €",
                               "amount.out_of_range", low_cents=TOPUP_MIN_CENTS,
                               high_cents=TOPUP_MAX_CENTS)
        if reference.isascii() and reference.isdigit() and len(reference) in (SHORT_LENGTH,
                                                                              FULL_LENGTH):
            # Terminals quote the 13 digits to find the meter; as a key it would swallow every
            # later top-up of that meter. Refused whether or not such a meter exists, before
            # looking: the answer must not tell a caller which EANs are there.
            raise InvalidInput("reference", "must identify this payment (a receipt or "
                               "transaction number), not a meter (13 or 18 digits)",
                               "reference.is_the_meter")
        key = str(TopUpReference(channel, reference, issuer))
        if self.store.raw_writes:  # SQLite: the whole transaction in one hand-over to a thread
            ean, result = await self.store.writing_raw(functools.partial(
                self._top_up_sqlite, ean_text, amount_cents, channel, reference, key, reason))
        else:
            async with self.store.writing() as conn:
                account = await must_load(conn, ean_text)
                p = schema.postings
                earlier = (await conn.execute(
                    select(p.c.account_id, p.c.amount_cents, p.c.from_book)
                    .where(p.c.reference == key))).first()
                writes, result = self._top_up_writes(account, earlier, amount_cents, channel,
                                                     reference, key, reason)
                await writes.flush(conn)
                ean = account.ean
        # Committed: its record goes to the trail before anyone is told (ledger/audit.py).
        await self.audit(actor=actor, action="topup", ean=ean,
                         outcome="replayed" if result.replayed else "recorded", detail=key)
        return result

    def _top_up_sqlite(self, ean_text: str, amount_cents: int, channel: str, reference: str,
                       key: str, reason: str | None, conn: sqlite3.Connection
                       ) -> tuple[str, TopUpResult]:
        """_top_up's transaction on the raw SQLite driver: the write lock is held ~1 ms, where
        SQLAlchemy's async adapter took some fifty hand-overs between threads and held it 7 ms —
        and a balance-line answer waits for it (bench/line_isolation.py)."""
        statements = point_read_statements()
        account = statements.account(conn, short_or_full(ean_text))
        if account is None:
            raise UnknownAccount(ean_text)
        earlier = statements.posting_by_reference.run(conn, reference=key).fetchone()
        writes, result = self._top_up_writes(account, earlier, amount_cents, channel, reference,
                                             key, reason)
        writes.flush_sqlite(conn)
        return account.ean, result

    def _top_up_writes(self, account: Account, earlier: tuple | None, amount_cents: int,
                       channel: str, reference: str, key: str, reason: str | None
                       ) -> tuple[Writes, TopUpResult]:
        """What a top-up writes, given the account and the posting already under its key (its
        account, amount and source book), if any: nothing but the audit record for a replay."""
        writes = Writes()
        if earlier:
            earlier_account, earlier_amount, earlier_from = earlier
            signed = earlier_amount if earlier_from != balance_book(account.id) else -earlier_amount
            if earlier_account != account.id or signed != amount_cents:
                raise ReferenceConflict(reference)
            return writes, TopUpResult(account.balance_cents, replayed=True)
        now = self.clock.now()
        at = to_text(now)
        source = AGENT_ADJUSTMENTS if channel == AGENT else topup_book(channel)
        writes.post(account.id, "topup", source, balance_book(account.id), amount_cents, at, key,
                    detail=reason)
        new_balance = account.balance_cents + amount_cents
        if not -LARGEST_CENTS <= new_balance <= LARGEST_CENTS:
            raise InvalidInput("amount", "the balance would leave what the ledger holds",
                               "amount.out_of_range", low_cents=-LARGEST_CENTS,
                               high_cents=LARGEST_CENTS)
        if amount_cents > 0:  # one event: its confirmation, saying what it left
            account.last_topup_at, account.last_topup_cents = at, amount_cents
            account.last_topup_channel = channel
            account.more_than_balance = True
            meter, events = rules_top_up(account.meter, amount_cents, now, self.ndp,
                                         channel=channel)
            account.apply(meter)
            account.as_of = at
            writes.accounts[account.id] = account
            writes.emit(account.id, events)
        else:
            self._settle(writes, account, new_balance, now, at)
        return writes, TopUpResult(new_balance, replayed=False)

    async def add_payment_plan(self, ean_text: str, amount_cents: int, daily_cents: int,
                               reference: str) -> bool:
        """An earlier debt repaid `daily_cents` a posted day, like the start credit. False on
        replay; ReferenceConflict if the reference was used for another plan."""
        if amount_cents <= 0:
            raise InvalidInput("amount", "a debt must be more than 0,00 €", "debt.not_positive")
        if not 0 < daily_cents <= amount_cents:
            raise InvalidInput("daily", "the daily repayment must lie between 0,01 € and the debt",
                               "daily.out_of_range", low_cents=1, high_cents=amount_cents)
        if not reference.strip():
            raise InvalidInput("reference", "a payment plan needs a reference", "reference.missing")
        check_text("reference", reference.strip())
        if amount_cents > LARGEST_CENTS:
            raise InvalidInput("amount", "lies beyond what the ledger holds", "amount.out_of_range",
                               low_cents=1, high_cents=LARGEST_CENTS)
        async with self.store.writing() as conn:
            account = await must_load(conn, ean_text)
            book = plan_debt_book(account.id, reference.strip())
            d = schema.debts
            earlier = (await conn.execute(select(d.c.principal_cents, d.c.daily_cents)
                                          .where(d.c.book == book))).first()
            if earlier:
                if tuple(earlier) != (amount_cents, daily_cents):
                    raise ReferenceConflict(reference)
                return False
            at = to_text(self.clock.now())
            await insert_many(conn, d, ("account_id", "book", "kind", "principal_cents",
                                        "daily_cents", "outstanding_cents", "created_at"),
                              [(account.id, book, "payment_plan", amount_cents, daily_cents,
                                amount_cents, at)])
            writes = Writes()
            writes.post(account.id, "debt", book, PRIOR_DEBTS, amount_cents, at, plan_reference(book))
            await writes.flush(conn)
            return True

    # ---- time passing -----------------------------------------------------------------------

    async def tick(self) -> int:
        """Cut off the meters whose non-disconnection period has ended. Returns how many."""
        now = self.clock.now()
        async with self.store.writing() as conn:
            rows = await conn.execute(select(*ACCOUNT_COLUMNS).where(
                schema.accounts.c.supply == Supply.PENDING.value))
            writes = Writes()
            for row in rows:
                account = account_from_row(row)
                meter, events = end_pending(account.meter, now, self.ndp)
                if events:
                    account.apply(meter)
                    writes.accounts[account.id] = account
                    writes.emit(account.id, events)
            await writes.flush(conn)
            return len(writes.accounts)

    # ---- reading ----------------------------------------------------------------------------

    async def balance_view(self, ean_text: str, *, actor: str, purpose: str = "balance",
                           detail: str | None = None) -> BalanceView:
        """The balance view of one account. Every call, found or not, is written to the audit trail."""
        try:
            ean = short_or_full(ean_text)
        except InvalidInput:
            await self.audit(actor=actor, action=purpose, ean=None, outcome="invalid", detail=detail)
            raise
        account, outflows = await self._reader.account_and_outflows(ean)
        await self.audit(actor=actor, action=purpose, ean=account.ean if account else ean,
                         outcome="found" if account else "unknown", detail=detail)
        if account is None:
            raise UnknownAccount(ean_text)
        return self._view_of(account, outflows)

    def _view_of(self, account: Account, outflows: list[int]) -> BalanceView:
        debts = [(debt.outstanding_cents, debt.daily_cents) for debt in account.debts]
        last = None
        if account.last_topup_at:
            last = LastTopUp(from_text(account.last_topup_at), account.last_topup_cents,
                             account.last_topup_channel)
        return build_view(meter=account.meter, as_of=from_text(account.as_of), now=self.clock.now(),
                          ndp=self.ndp, debts=debts, last_topup=last, daily_outflows_cents=outflows)

    async def residents(self, cpas: str, *, actor: str, sort: str = "attention",
                        query: str = "", offset: int = 0, limit: int = 50) -> "ResidentsPage":
        """One page of the accounts a CPAS has under mandate, each with its balance view, in
        the order asked (who needs help first by default); the search, the order and the
        counts by state are the database's (ledger.cpas), so a request reads `limit` accounts
        whatever the CPAS's size. The look is audited: one record per resident shown."""
        page, eans = await self.store.reading_aside(lambda conn: self._read_residents(
            conn, cpas, sort=sort, query=query, offset=offset, limit=limit))
        # Each resident shown is a view of that resident's data: one record each, in one write.
        at = to_text(self.clock.now())
        await self.trail.record_many([(at, actor, "cpas-residents", ean, "listed", cpas)
                                      for ean in eans])
        return page

    async def _read_residents(self, conn: AsyncConnection, cpas: str, *, sort: str, query: str,
                              offset: int, limit: int) -> tuple["ResidentsPage", list[str]]:
        """The page, and its residents' EANs: on the listings' loop, through their engine."""
        from .cpas import ResidentsPage, residents_order
        a, t = schema.accounts, schema.consumption_days
        ids, total, counts = await residents_order(self, conn, cpas, sort=sort, query=query,
                                                   offset=offset, limit=limit)
        names = dict(await fetch_rows(conn, select(a.c.id, a.c.name).where(a.c.id.in_(ids))))
        accounts = await load_accounts(conn, ids)
        newest_first = func.row_number().over(partition_by=t.c.account_id,
                                              order_by=t.c.day.desc()).label("n")
        recent = (select(t.c.account_id, (t.c.amount_cents + t.c.repaid_cents).label("out"),
                         newest_first).where(t.c.account_id.in_(ids)).subquery())
        outflows: dict[int, list[int]] = {id_: [] for id_ in ids}
        for account_id, out in await fetch_rows(conn, select(recent.c.account_id, recent.c.out)
                                                .where(recent.c.n <= OUTFLOW_WINDOW_DAYS)
                                                .order_by(recent.c.account_id, recent.c.n)):
            outflows[account_id].append(out)
        page = ResidentsPage([Resident(names[id_], self._view_of(accounts[id_], outflows[id_]))
                              for id_ in ids], total, counts, offset, limit)
        return page, [accounts[id_].ean for id_ in ids]

    async def audit(self, *, actor: str, action: str, ean: str | None, outcome: str,
                    detail: str | None = None) -> None:
        """Returns once the record is committed (grouped with the others that came meanwhile)."""
        await self.store.audit(actor=actor, action=action, ean=ean, outcome=outcome,
                               detail=detail)

    async def lookups_by(self, actor: str, action: str, since: datetime) -> list[Lookup]:
        """What one actor looked up since a moment, oldest first, as the audit trail has it. The
        balance line's limits and its "repeat" read this: every server of the line writes the
        trail before it answers, so every server sees the same calls."""
        return [Lookup(*row) for row in await self.trail.recent_by(actor, action, since)]

    async def audit_trail(self, limit: int = 100) -> list[dict]:
        return await self.trail.latest(limit)

    async def events_after(self, after_id: int = 0, limit: int = 1000) -> list[tuple[int, Event]]:
        e = schema.events
        async with self.store.reading() as conn:
            rows = await conn.execute(select(e.c.id, e.c.name, e.c.payload)
                                      .where(e.c.id > after_id).order_by(e.c.id).limit(limit))
            return [(r.id, event_from_row(r.name, r.payload)) for r in rows]

    async def trial_balance(self) -> dict[str, int]:
        """Every book's total (money in minus money out). They sum to zero."""
        p = schema.postings
        async with self.store.reading() as conn:
            totals: Counter[str] = Counter()
            for r in await conn.execute(select(p.c.to_book, func.sum(p.c.amount_cents))
                                        .group_by(p.c.to_book)):
                totals[r[0]] += int(r[1])
            for r in await conn.execute(select(p.c.from_book, func.sum(p.c.amount_cents))
                                        .group_by(p.c.from_book)):
                totals[r[0]] -= int(r[1])
        return dict(totals)

    async def cached_balances(self) -> dict[str, int]:
        """Each book as the accounts and debts tables cache it, to compare with trial_balance()."""
        a, d = schema.accounts, schema.debts
        async with self.store.reading() as conn:
            cached = {balance_book(r.id): r.balance_cents
                      for r in await conn.execute(select(a.c.id, a.c.balance_cents))}
            cached.update({r.book: -r.outstanding_cents
                           for r in await conn.execute(select(d.c.book, d.c.outstanding_cents))})
        return cached

    async def ready(self) -> tuple[bool, str]:
        """Whether the database answers and its schema is this code's: (ready, why not)."""
        try:
            async with self.store.reading() as conn:
                version = await conn.run_sync(schema.current_version)
        except Exception as error:  # any driver's failure means the same: not ready
            return False, f"database unreachable ({type(error).__name__})"
        if version != schema.SCHEMA_VERSION:
            return False, f"schema {version}, this code needs {schema.SCHEMA_VERSION}"
        return True, "ok"

    async def count_accounts(self) -> int:
        async with self.store.reading() as conn:
            return (await conn.execute(select(func.count()).select_from(schema.accounts))).scalar_one()

    async def count_consumption_days(self) -> int:
        """Posted consumption days, every account's (a day corrected is still one day)."""
        async with self.store.reading() as conn:
            return (await conn.execute(
                select(func.count()).select_from(schema.consumption_days))).scalar_one()

    async def get_meta(self, key: str) -> str | None:
        m = schema.meta
        async with self.store.reading() as conn:
            return (await conn.execute(select(m.c.value).where(m.c.key == key))).scalar()

    async def set_meta(self, key: str, value: str) -> None:
        m = schema.meta
        async with self.store.writing() as conn:
            await conn.execute(m.delete().where(m.c.key == key))
            await conn.execute(m.insert().values(key=key, value=value))
