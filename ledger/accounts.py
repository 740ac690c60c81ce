"""An account as the ledger's operations hold it while they work: read with its open debts,
changed by the rules, written back with the postings and events of one transaction (`Writes`).
The balance line's look-up reads it through one interface (`AccountReader`), with a path per
database where one is faster.

Inside the ledger only; other packages see the balance view (ledger/view.py).
"""

import asyncio
import functools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .calendar import NonDisconnectionPeriod
from .clock import from_text, to_text
from .db import any_of, fetch_rows, in_json_array, insert_many, insert_sql, update_sql
from .ean import SHORT_LENGTH, short_or_full
from .errors import UnknownAccount
from .events import Event
from .rawpostgres import PostgresPool, as_arrays, unnest_update
from .rawsqlite import InlineReader
from .rules import Meter, Supply, crosses_a_line, settle
from .store import Store
from .view import OUTFLOW_WINDOW_DAYS, BalanceView, LastTopUp, build_view


@dataclass
class Debt:
    id: int
    book: str
    daily_cents: int
    outstanding_cents: int


@dataclass(slots=True)
class Account:
    id: int
    ean: str
    energy: str
    language: str
    balance_cents: int
    threshold_cents: int
    power_limiter: bool
    supply: Supply
    pending_since: datetime | None
    as_of: str
    last_topup_at: str | None
    last_topup_cents: int | None
    last_topup_channel: str | None
    activated_on: str  # YYYY-MM-DD in Brussels
    debts: list[Debt] = field(default_factory=list)
    more_than_balance: bool = False  # an update must write more than balance and as_of

    @property
    def meter(self) -> Meter:
        return Meter(ean=self.ean, energy=self.energy, language=self.language,
                     balance_cents=self.balance_cents, threshold_cents=self.threshold_cents,
                     power_limiter=self.power_limiter, supply=self.supply,
                     pending_since=self.pending_since)

    def apply(self, meter: Meter) -> None:
        if (meter.supply, meter.pending_since) != (self.supply, self.pending_since):
            self.more_than_balance = True
        self.balance_cents = meter.balance_cents
        self.supply = meter.supply
        self.pending_since = meter.pending_since


class Writes:
    """What one transaction writes, gathered so each table gets one executemany."""

    def __init__(self) -> None:
        self.postings: list[tuple] = []
        self.events: list[tuple] = []
        self.accounts: dict[int, Account] = {}
        self.debts: dict[int, Debt] = {}
        self.new_days: list[tuple] = []
        self.changed_days: list[tuple] = []

    def post(self, account_id: int, kind: str, from_book: str, to_book: str, amount_cents: int,
             at: str, reference: str, day: str | None = None, reverses: str | None = None,
             detail: str | None = None) -> None:
        if amount_cents < 0:
            from_book, to_book, amount_cents = to_book, from_book, -amount_cents
        if amount_cents:
            self.postings.append((account_id, kind, from_book, to_book, amount_cents, at, day,
                                  reference, reverses, detail))

    def emit(self, account_id: int, events: Iterable[Event]) -> None:
        self.events.extend((account_id, e.name, to_text(e.at), e.payload()) for e in events)

    def planned(self) -> list[tuple[Table, tuple[str, ...], tuple[str, ...], list[tuple]]]:
        """(table, key columns — none for an insert —, columns, rows), in the order written;
        an update's rows are (value of each column…, value of each key column…)."""
        whole = [a for a in self.accounts.values() if a.more_than_balance]
        days = schema.consumption_days
        planned = [
            (schema.postings, (), _POSTING_COLUMNS, self.postings),
            (schema.accounts, ("id",), _WHOLE_ACCOUNT_COLUMNS,
             [(a.balance_cents, a.supply.value,
               to_text(a.pending_since) if a.pending_since else None,
               a.as_of, a.last_topup_at, a.last_topup_cents, a.last_topup_channel, a.id)
              for a in whole]),
            # Most days only move the balance: a narrower update is cheaper.
            (schema.accounts, ("id",), ("balance_cents", "as_of"),
             [(a.balance_cents, a.as_of, a.id)
              for a in self.accounts.values() if not a.more_than_balance]),
            (schema.debts, ("id",), ("outstanding_cents",),
             [(d.outstanding_cents, d.id) for d in self.debts.values()]),
            (days, (), DAY_COLUMNS, self.new_days),
            # corrections: (amount, revision, quantity, unit, account_id, day)
            (days, ("account_id", "day"), ("amount_cents", "revision", "quantity", "unit"),
             self.changed_days),
            (schema.events, (), ("account_id", "name", "at", "payload"), self.events),
        ]
        return [plan for plan in planned if plan[3]]

    def statements(self, dialect: Dialect) -> list[tuple[str, list[tuple]]]:
        """Each table's statement and its rows, in the order they are written."""
        return [(update_sql(dialect, table, key, columns) if key
                 else insert_sql(dialect, table, columns), rows)
                for table, key, columns, rows in self.planned()]

    async def flush(self, conn: AsyncConnection) -> None:
        if conn.dialect.name == "postgresql":
            # One statement a table, its rows as arrays: asyncpg's executemany sends each row
            # as a statement of its own (bench/ledger_batch.py --database-url).
            for table, key, columns, rows in self.planned():
                if key:
                    await conn.exec_driver_sql(unnest_update(table, key, columns),
                                               as_arrays(rows))
                else:
                    await insert_many(conn, table, columns, rows)
            return
        for sql, rows in self.statements(conn.dialect):
            await conn.exec_driver_sql(sql, rows)

    def flush_sqlite(self, conn: sqlite3.Connection) -> None:
        for sql, rows in self.statements(SQLITE):
            conn.executemany(sql, rows)


_POSTING_COLUMNS = ("account_id", "kind", "from_book", "to_book", "amount_cents", "at", "day",
                    "reference", "reverses", "detail")
_WHOLE_ACCOUNT_COLUMNS = ("balance_cents", "supply", "pending_since", "as_of", "last_topup_at",
                          "last_topup_cents", "last_topup_channel")
DAY_COLUMNS = ("account_id", "day", "amount_cents", "repaid_cents", "revision", "quantity",
                "unit")
SQLITE = sqlite_dialect()


ACCOUNT_COLUMNS = (
    schema.accounts.c.id, schema.accounts.c.ean, schema.accounts.c.energy,
    schema.accounts.c.language, schema.accounts.c.balance_cents, schema.accounts.c.threshold_cents,
    schema.accounts.c.power_limiter, schema.accounts.c.supply, schema.accounts.c.pending_since,
    schema.accounts.c.as_of, schema.accounts.c.last_topup_at, schema.accounts.c.last_topup_cents,
    schema.accounts.c.last_topup_channel, schema.accounts.c.activated_on,
)



def recent_days(statement, account_id):
    t = schema.consumption_days
    return (statement.where(t.c.account_id == account_id).order_by(t.c.day.desc())
            .limit(OUTFLOW_WINDOW_DAYS))


class Statement(NamedTuple):
    sql: str
    fixed: dict  # the values SQLAlchemy bound itself (LIMIT, constants)

    def run(self, conn, **values):
        return conn.execute(self.sql, {**self.fixed, **values})


@dataclass(frozen=True)
class PointReads:
    """The balance line's statements and a top-up's, compiled once for the raw SQLite driver."""

    account_by_ean13: Statement
    account_by_ean: Statement
    open_debts: Statement
    recent_outflows: Statement
    posting_by_reference: Statement

    def account(self, conn, ean: str) -> Account | None:
        """With its open debts."""
        by = self.account_by_ean13 if len(ean) == SHORT_LENGTH else self.account_by_ean
        row = by.run(conn, ean=ean).fetchone()
        if row is None:
            return None
        account = account_from_row(row)
        account.debts.extend(Debt(id_, book, daily, outstanding) for id_, book, daily, outstanding
                             in self.open_debts.run(conn, id=account.id))
        return account

    def read(self, conn, ean: str) -> tuple[Account | None, list[int]]:
        account = self.account(conn, ean)
        if account is None:
            return None, []
        return account, [total for (total,) in self.recent_outflows.run(conn, id=account.id)]


@functools.cache
def point_read_statements() -> PointReads:
    a, d, t, p = schema.accounts, schema.debts, schema.consumption_days, schema.postings
    dialect = sqlite_dialect(paramstyle="named")

    def compiled(statement) -> Statement:
        result = statement.compile(dialect=dialect)
        return Statement(str(result), dict(result.params))

    return PointReads(
        account_by_ean13=compiled(select(*ACCOUNT_COLUMNS).where(a.c.ean13 == bindparam("ean"))),
        account_by_ean=compiled(select(*ACCOUNT_COLUMNS).where(a.c.ean == bindparam("ean"))),
        open_debts=compiled(select(d.c.id, d.c.book, d.c.daily_cents, d.c.outstanding_cents)
                            .where(d.c.account_id == bindparam("id"), d.c.outstanding_cents > 0)
                            .order_by(d.c.id)),
        recent_outflows=compiled(recent_days(select(t.c.amount_cents + t.c.repaid_cents),
                                              bindparam("id"))),
        posting_by_reference=compiled(select(p.c.account_id, p.c.amount_cents, p.c.from_book)
                                      .where(p.c.reference == bindparam("reference"))),
    )



_SUPPLY = {member.value: member for member in Supply}  # a dict beats Enum() on the hot path


def account_from_row(row) -> Account:
    (id_, ean, energy, language, balance, threshold, limiter, supply, pending_since, as_of,
     topup_at, topup_cents, topup_channel, activated_on) = row
    return Account(id_, ean, energy, language, balance, threshold, bool(limiter), _SUPPLY[supply],
                    from_text(pending_since) if pending_since else None, as_of, topup_at,
                    topup_cents, topup_channel, activated_on)




def view_of(account: Account, outflows: list[int], *, now: datetime,
            ndp: NonDisconnectionPeriod) -> BalanceView:
    """The account's balance view at `now`, from its last days' outflows (newest first)."""
    debts = [(debt.outstanding_cents, debt.daily_cents) for debt in account.debts]
    last = None
    if account.last_topup_at:
        last = LastTopUp(from_text(account.last_topup_at), account.last_topup_cents,
                         account.last_topup_channel)
    return build_view(meter=account.meter, as_of=from_text(account.as_of), now=now, ndp=ndp,
                      debts=debts, last_topup=last, daily_outflows_cents=outflows)


async def load_accounts(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Account]:
    """The accounts' current state and open debts, read inside the write transaction."""
    if not ids:
        return {}
    a, d = schema.accounts, schema.debts
    low, high = min(ids), max(ids)
    dense = high - low < 4 * len(ids) + 100  # a range scan then reads few extra rows
    which_accounts = a.c.id.between(low, high) if dense else a.c.id.in_(sorted(set(ids)))
    which_debts = d.c.account_id.between(low, high) if dense else d.c.account_id.in_(
        sorted(set(ids)))
    accounts = {row[0]: account_from_row(row) for row in
                await fetch_rows(conn, select(*ACCOUNT_COLUMNS).where(which_accounts))}
    for id_, account_id, book, daily, outstanding in await fetch_rows(conn,
            select(d.c.id, d.c.account_id, d.c.book, d.c.daily_cents, d.c.outstanding_cents)
            .where(which_debts, d.c.outstanding_cents > 0).order_by(d.c.account_id, d.c.id)):
        if account_id in accounts:
            accounts[account_id].debts.append(Debt(id_, book, daily, outstanding))
    return accounts

async def load_account(conn: AsyncConnection, ean_text: str) -> Account | None:
    ean = short_or_full(ean_text)
    a = schema.accounts
    column = a.c.ean13 if len(ean) == SHORT_LENGTH else a.c.ean
    row = (await conn.execute(select(a.c.id).where(column == ean))).first()
    return (await load_accounts(conn, [row[0]]))[row[0]] if row else None

async def must_load(conn: AsyncConnection, ean_text: str) -> Account:
    account = await load_account(conn, ean_text)
    if account is None:
        raise UnknownAccount(ean_text)
    return account


def settle_account(writes: Writes, account: Account, new_balance: int, now: datetime, at: str,
                   ndp: NonDisconnectionPeriod) -> None:
    """The account at its new balance; the lines it crossed, if any, as the rules say."""
    if account.supply is Supply.ON and not crosses_a_line(
            account.balance_cents, new_balance, account.threshold_cents):
        account.balance_cents = new_balance
    else:
        meter, events = settle(account.meter, new_balance, now, ndp)
        account.apply(meter)
        writes.emit(account.id, events)
    account.as_of = at
    writes.accounts[account.id] = account


# ---- finding accounts by their code ----

# Keys in one IN list: an import looks up a batch at a time, never with a pass over the table.
IN_LIST_KEYS = 1000


@functools.cache
def _ids_by(key_column: str):
    """Account ids by one key column, the keys one array (PostgreSQL)."""
    a = schema.accounts
    column = a.c[key_column]
    return select(column, a.c.id).where(any_of(column, "keys"))


@functools.cache
def _ids_by_json(key_column: str) -> str:
    """The same for the raw SQLite driver: the keys as one JSON array."""
    a = schema.accounts
    column = a.c[key_column]
    statement = select(column, a.c.id).where(in_json_array(column, "keys"))
    return str(statement.compile(dialect=sqlite_dialect(paramstyle="named")))


async def account_ids(store: Store, ean_texts: Iterable[str]) -> dict[str, int]:
    """Account ids by the 13 or 18 digits given; a code that matches none is left out.

    An account's id and EAN never change, so this is read outside the write transactions.
    """
    texts = set(ean_texts)
    short = {text for text in texts if len(text) == SHORT_LENGTH}
    full = texts - short
    a = schema.accounts
    if store.raw_writes:  # SQLite: on the raw driver, in the writers' thread, between writes
        by_short, by_full = await store.reading_raw(lambda conn: (
            _id_lookup_sqlite(conn, "ean13", short), _id_lookup_sqlite(conn, "ean", full)))
    else:
        async with store.reading() as conn:
            # The key column and the ids, as pairs: dict() builds the lookup at C speed.
            by_short = await _id_lookup(conn, a.c.ean13, short)
            by_full = await _id_lookup(conn, a.c.ean, full)
    ids = {text: by_short[text] for text in short if text in by_short}
    ids.update((text, by_full[text]) for text in full if text in by_full)
    return ids


def _id_lookup_sqlite(conn: sqlite3.Connection, key_column: str, keys: set[str]
                      ) -> dict[str, int]:
    if not keys:
        return {}
    return dict(conn.execute(_ids_by_json(key_column), {"keys": json.dumps(sorted(keys))}))


async def _id_lookup(conn: AsyncConnection, column, keys: set[str]) -> dict[str, int]:
    # IN_LIST_KEYS keys at a time, never a pass over the whole table: an import looks up a
    # batch at a time, and every pass would read every account.
    statement = _ids_by(column.name)
    ordered = sorted(keys)
    found: dict[str, int] = {}
    for start in range(0, len(ordered), IN_LIST_KEYS):
        found.update((await conn.execute(statement,
                                         {"keys": ordered[start:start + IN_LIST_KEYS]})).all())
    return found


class NetworkPrefix:
    """The network's 5-digit EAN prefix: configured, or the one the accounts share (read once,
    until accounts change)."""

    def __init__(self, store: Store, configured: str | None):
        self._store = store
        self._configured = configured
        self._shared: str | None = None
        # One scan at a time: the first calls after a start come at once (64 at the bench's
        # start, each scanning 200,000 accounts on a connection of its own: the server's memory
        # peaked at 232 MB instead of about 110, bench/serve_memory.py).
        self._scanning = asyncio.Lock()

    async def get(self) -> str | None:
        if self._configured:
            return self._configured
        if self._shared is None:
            async with self._scanning:
                if self._shared is None:  # a scan of every account: once, until they change
                    async with self._store.reading() as conn:
                        self._shared = (await conn.execute(
                            select(func.substr(schema.accounts.c.ean, 1, 5).label("p"))
                            .group_by("p").order_by(func.count().desc()).limit(1))).scalar()
        return self._shared

    def forget(self) -> None:
        self._shared = None


# ---- one read path for the balance line's look-up, behind one interface ---------------------

class AccountReader(Protocol):
    """One account with its open debts, and what left its balance on each of its last posted
    days, newest first — read in one snapshot, outside any write transaction."""

    async def account_and_outflows(self, ean: str) -> tuple[Account | None, list[int]]: ...


class InlineSqliteReader:
    """SQLite: the statements compiled once, run on the raw driver on the event loop
    (ledger/rawsqlite.py), without SQLAlchemy's async adapter."""

    def __init__(self, inline: InlineReader):
        self._inline = inline
        self._statements = point_read_statements()

    async def account_and_outflows(self, ean: str) -> tuple[Account | None, list[int]]:
        return await self._inline.run(lambda conn: self._statements.read(conn, ean))


class SqlAlchemyReader:
    """Any database, through SQLAlchemy's engine."""

    def __init__(self, store: Store):
        self._store = store

    async def account_and_outflows(self, ean: str) -> tuple[Account | None, list[int]]:
        async with self._store.reading() as conn:
            account = await load_account(conn, ean)
            if account is None:
                return None, []
            t = schema.consumption_days
            return account, [amount + repaid for amount, repaid in await fetch_rows(
                conn, recent_days(select(t.c.amount_cents, t.c.repaid_cents), account.id))]


class AsyncpgReader:
    """PostgreSQL: the account, its open debts and its last days in one statement — one round
    trip, one snapshot — on the line's own asyncpg connections (ledger/rawpostgres.py)."""

    def __init__(self, pool: PostgresPool):
        self._pool = pool

    async def account_and_outflows(self, ean: str) -> tuple[Account | None, list[int]]:
        key = "ean13" if len(ean) == SHORT_LENGTH else "ean"
        row = await self._pool.fetch_one(_lookup_sql(key), ean)
        if row is None:
            return None, []
        *columns, debts, outflows = row
        account = account_from_row(columns)
        account.debts.extend(Debt(*debt) for debt in debts)
        return account, list(outflows)


@functools.cache
def _lookup_sql(key: str) -> str:
    columns = ", ".join(f"a.{column.name}" for column in ACCOUNT_COLUMNS)
    return (f"SELECT {columns}, "
            "ARRAY(SELECT ROW(d.id, d.book, d.daily_cents, d.outstanding_cents) FROM debts d "
            "WHERE d.account_id = a.id AND d.outstanding_cents > 0 ORDER BY d.id), "
            "ARRAY(SELECT t.amount_cents + t.repaid_cents FROM consumption_days t "
            f"WHERE t.account_id = a.id ORDER BY t.day DESC LIMIT {OUTFLOW_WINDOW_DAYS}) "
            f"FROM accounts a WHERE a.{key} = $1")


def account_reader(store: Store) -> AccountReader:
    """The fastest path the store's database has."""
    if store.inline_reads:
        return InlineSqliteReader(store.inline_reads)
    if store.line_connections:
        return AsyncpgReader(store.line_connections)
    return SqlAlchemyReader(store)
