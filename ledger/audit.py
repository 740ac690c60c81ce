"""The audit trail: who looked at or changed whose data, when, and what came of it (seed 002).

Every balance look-up writes its record before the caller hears anything, so the trail's writes
are on the free line's path, and they must not wait for the ledger's writers:

- PostgreSQL keeps the trail in the ledger's database, appended outside the writers' lock
  (ledger/db.py, `appending`);
- SQLite has one write lock a file, so there the trail is a file of its own beside the ledger's,
  `<database>-audit`. In the ledger's file an audit record waited behind an import's batch or a
  top-up, then for its thread's turn on a busy machine: the line's loaded p99 was 1.5-1.9 times
  its p99 alone (bench/line_isolation.py). Here nobody holds the lock but other audit writers,
  for a few rows, so a record is written on the event loop itself (~0.1 ms, no fsync in WAL
  mode with synchronous=NORMAL) and only goes to a thread that waits on the rare SQLITE_BUSY.

A top-up's record is written once its transaction has committed, before its answer: on SQLite
the two are in two files and cannot commit together, and both databases do the same.
"""

import asyncio
import functools
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, case, func, insert, literal_column, select, union_all
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from . import schema
from .clock import from_text, to_text
from .db import appending, insert_many, reading
from .groupcommit import GroupCommit
from .rawpostgres import Compiled, PostgresPool, compiled
from .rawsqlite import InlineReader, ThreadWriter, busy, connect

# A record: (at, actor, action, ean, outcome, detail), `at` as ledger.clock.to_text writes it.
Record = tuple[str, str, str, str | None, str, str | None]
COLUMNS = ("at", "actor", "action", "ean", "outcome", "detail")
ATTEMPT = "attempt"
# Any constant will do: PostgreSQL's lock for counting attempts (AuditTrail.take_turn).
ATTEMPTS_LOCK = 0x5A1D1


def _statements() -> dict:
    """The trail's reads, by name, their values bound by name."""
    u = schema.audit
    actor, action, since = bindparam("actor"), bindparam("action"), bindparam("since")
    of_actor = (u.c.actor == actor, u.c.action == action, u.c.at > since)
    return {
        "recent_by": select(u.c.at, u.c.ean, u.c.outcome, u.c.detail).where(*of_actor)
        .order_by(u.c.at, u.c.id),
        "attempts_by": select(func.coalesce(func.sum(case((u.c.outcome == ATTEMPT, 1),
                                                          else_=-1)), 0)).where(*of_actor),
        "latest": select(*(u.c[name] for name in ("id", *COLUMNS))).order_by(u.c.id.desc())
        .limit(bindparam("limit")),
    }


def _recent_by_each(count: int):
    """`recent_by` for `count` (actor, action, since) at once, their values bound as actor0,
    action0, since0…: each row says which it answers (`wanted`). One statement: one snapshot,
    one round trip. Unordered: SQLite sorted each part in a temporary tree (87 µs for a
    caller's twelve look-ups, against 51 µs unsorted, bench/ivr_webhooks.py's trail); the few
    rows are sorted by the caller."""
    u = schema.audit
    arms = [select(literal_column(str(i)).label("wanted"), u.c.at, u.c.ean, u.c.outcome,
                   u.c.detail, u.c.id)
            .where(u.c.actor == bindparam(f"actor{i}"), u.c.action == bindparam(f"action{i}"),
                   u.c.at > bindparam(f"since{i}"))
            for i in range(count)]
    return union_all(*arms)


def _wanted_at_id(row: tuple) -> tuple:
    return row[0], row[1], row[5]


@functools.cache
def _built(name: str, count: int = 1):
    """A read by name; "recent_by_each" for `count` at once."""
    return _recent_by_each(count) if name == "recent_by_each" else _statements()[name]


@functools.cache
def _compiled_for_sqlite(name: str, count: int = 1) -> tuple[str, dict]:
    """The same, compiled once for the raw driver: (SQL, the values SQLAlchemy bound itself)."""
    statement = _built(name, count).compile(dialect=sqlite_dialect(paramstyle="named"))
    return str(statement), dict(statement.params)


@functools.cache
def _compiled_for_postgres(name: str, count: int = 1) -> Compiled:
    return compiled(_built(name, count))


class AuditTrail(ABC):
    """Records are grouped: those that come while one write is under way go into the next
    (ledger/groupcommit.py), and `record` returns once its own is committed."""

    def __init__(self) -> None:
        self._records: GroupCommit[Record] = GroupCommit(self._append)

    async def record(self, at: datetime, actor: str, action: str, ean: str | None, outcome: str,
                     detail: str | None = None) -> None:
        await self._records.add((to_text(at), actor, action, ean, outcome, detail))

    async def record_many(self, records: list[Record]) -> None:
        await self._records.add_many(records)

    async def recent_by(self, actor: str, action: str, since: datetime
                        ) -> list[tuple[datetime, str | None, str, str | None]]:
        """(at, ean, outcome, detail) of what `actor` did as `action` since a moment, oldest
        first."""
        rows = await self._rows("recent_by", actor=actor, action=action, since=to_text(since))
        return [(from_text(at), ean, outcome, detail) for at, ean, outcome, detail in rows]

    async def recent_by_each(self, wanted: Sequence[tuple[str, str, datetime]]
                             ) -> list[list[tuple[datetime, str | None, str, str | None]]]:
        """`recent_by` of each (actor, action, since), read at once."""
        values = {}
        for i, (actor, action, since) in enumerate(wanted):
            values |= {f"actor{i}": actor, f"action{i}": action, f"since{i}": to_text(since)}
        found: list[list] = [[] for _ in wanted]
        rows = await self._rows("recent_by_each", len(wanted), **values)
        rows.sort(key=_wanted_at_id)  # as recent_by orders them: by time, then as written
        for which, at, ean, outcome, detail, _ in rows:
            found[which].append((from_text(at), ean, outcome, detail))
        return found

    async def take_turn(self, actor: str, action: str, since: datetime, at: datetime,
                        most: int) -> bool:
        """Records an attempt of `actor` at `action`, unless `most` are counted since a moment
        already (each attempt counts one, each other outcome of that actor and action takes one
        off): counted and recorded in one transaction, so attempts sent at once each find the
        others'."""
        return await self._take_turn((to_text(at), actor, action, None, ATTEMPT, None),
                                     to_text(since), most)

    async def latest(self, limit: int = 100) -> list[dict]:
        """The last `limit` records, newest first."""
        rows = await self._rows("latest", limit=limit)
        return [dict(zip(("id", *COLUMNS), row)) for row in rows]

    async def close(self) -> None:
        await self._records.drain()

    async def start(self) -> None:
        """Creates what the trail needs."""

    @abstractmethod
    async def _append(self, records: list[Record]) -> None: ...

    @abstractmethod
    async def _rows(self, name: str, count: int = 1, **values) -> list[tuple]: ...

    @abstractmethod
    async def _take_turn(self, attempt: Record, since: str, most: int) -> bool: ...


class DatabaseAuditTrail(AuditTrail):
    """In the ledger's own database (PostgreSQL). A server's appends and reads — the balance
    line's, each answer waiting on them — go on its asyncpg connections when it has them
    (ledger/rawpostgres.py): one round trip each, outside the writers' lock."""

    def __init__(self, engine: AsyncEngine):
        super().__init__()
        self._engine = engine
        self.direct: PostgresPool | None = None  # set once the store has opened them

    async def _append(self, records: list[Record]) -> None:
        if self.direct:
            await self.direct.insert(schema.audit, COLUMNS, records)
            return
        async with appending(self._engine) as conn:
            await insert_many(conn, schema.audit, COLUMNS, records)

    async def _rows(self, name: str, count: int = 1, **values) -> list[tuple]:
        if self.direct:
            return [tuple(row) for row in await self.direct.fetch(
                _compiled_for_postgres(name, count), **values)]
        async with reading(self._engine) as conn:
            return [tuple(row) for row in await conn.execute(_built(name, count), values)]

    async def _take_turn(self, attempt: Record, since: str, most: int) -> bool:
        _, actor, action, *_ = attempt
        async with appending(self._engine) as conn:
            if conn.dialect.name == "postgresql":  # SQLite has one writer whatever
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ATTEMPTS_LOCK})")
            counted = (await conn.execute(_built("attempts_by"), {
                "actor": actor, "action": action, "since": since})).scalar()
            if counted >= most:
                return False
            await insert_many(conn, schema.audit, COLUMNS, [attempt])
            return True


_INSERT = str(insert(schema.audit).values({c: bindparam(c) for c in COLUMNS})
              .compile(dialect=sqlite_dialect()))  # positional: rows are Records
# The trail's file states its own DDL, frozen as released (5 December 2026), as the ledger's
# migrations do (ledger/migrations.py): a column added to schema.audit later needs its own step.
_SCHEMA = ("CREATE TABLE IF NOT EXISTS audit (id INTEGER NOT NULL, at VARCHAR(20) NOT NULL, "
           "actor VARCHAR(120) NOT NULL, action VARCHAR(40) NOT NULL, ean VARCHAR(18), "
           "outcome VARCHAR(40) NOT NULL, detail TEXT, PRIMARY KEY (id))",
           "CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, at)")


def audit_file(database: Path) -> Path:
    return database.with_name(database.name + "-audit")


class FileAuditTrail(AuditTrail):
    """In a SQLite file of its own beside the ledger's (`audit_file`)."""

    def __init__(self, database: Path):
        super().__init__()
        self.database = database
        self.path = audit_file(database)
        self._reads = InlineReader(self.path)
        self._waiting_writes = ThreadWriter(self.path, urgent=True)
        self._inline: sqlite3.Connection | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self._create_and_adopt)
        await self._waiting_writes.start()

    def _create_and_adopt(self) -> None:
        """Creates the file, and moves into it the records the ledger's file holds: the whole
        trail of a ledger file of an earlier version (the table stays there, empty, as the
        ledger's migrations made it). The records keep their ids, so a move cut short between
        its copy and its delete is done again whole at the next start."""
        conn = connect(self.path, 10_000, query_only=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("ATTACH DATABASE ? AS ledger", (str(self.database),))
            if conn.execute("SELECT 1 FROM ledger.sqlite_master WHERE type = 'table' AND name = "
                            "'audit'").fetchone() and conn.execute(
                    "SELECT 1 FROM ledger.audit LIMIT 1").fetchone():
                columns = ", ".join(("id", *COLUMNS))
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"INSERT OR IGNORE INTO main.audit ({columns}) "
                             f"SELECT {columns} FROM ledger.audit")
                conn.execute("COMMIT")
                # Apart: in WAL mode a transaction over two files is not atomic across them.
                conn.execute("DELETE FROM ledger.audit")
            conn.execute("DETACH DATABASE ledger")
        finally:
            conn.close()

    async def _rows(self, name: str, count: int = 1, **values) -> list[tuple]:
        sql, fixed = _compiled_for_sqlite(name, count)
        return await self._reads.rows(sql, {**fixed, **values})

    async def _write(self, write):
        """`write(connection)` in one transaction: on the event loop when the lock is free at
        once, else in the thread that waits for it."""
        if self._inline is None:
            self._inline = connect(self.path, 0, query_only=False)
            self._inline.execute("PRAGMA wal_autocheckpoint=0")  # ThreadWriter checkpoints
        conn = self._inline
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if not busy(error):
                raise
            return await self._waiting_writes.run(write)
        try:
            result = write(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._waiting_writes.committed()
        return result

    async def _append(self, records: list[Record]) -> None:
        await self._write(lambda conn: conn.executemany(_INSERT, records))

    async def _take_turn(self, attempt: Record, since: str, most: int) -> bool:
        _, actor, action, *_ = attempt
        sql, fixed = _compiled_for_sqlite("attempts_by")

        def take(conn: sqlite3.Connection) -> bool:
            (counted,) = conn.execute(sql, {**fixed, "actor": actor, "action": action,
                                            "since": since}).fetchone()
            if counted >= most:
                return False
            conn.execute(_INSERT, attempt)
            return True

        return await self._write(take)

    async def close(self) -> None:
        await super().close()
        self._reads.close()
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        await self._waiting_writes.close()
