"""The database as the ledger's parts use it: one object, made when the ledger opens and given
to each part (the ledger's operations, the outbox, access, the CPAS desk), so none of them
reaches into another for its connections.

It holds the engines, the writers' order, the audit trail (with its group commit) and the
clock, and opens each kind of transaction one way:

- `writing()`: a write transaction, in the writers' order — one writer at a time in this process,
  and on SQLite a server's writers before an import's or the worker's (ledger/turnstile.py);
- `writing_raw(write)`: SQLite only, one write transaction as one function on the raw driver, in
  one hand-over to the writers' thread (ledger/rawsqlite.py): the lock held only while it runs;
- `reading()`: a read transaction;
- `reading_raw(read)`: SQLite only, a read transaction on `writing_raw`'s connection, where a
  mark lets a later `writing_raw` tell whether anything else was committed since;
- `reading_aside(read)`: a long read nobody waits on (a residents listing), one at a time, on an
  event loop and an engine of its own (ledger/side_loop.py), off the loop that answers the line.

The audit trail appends in transactions of its own (ledger/audit.py).
"""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import schema
from .audit import AuditTrail, DatabaseAuditTrail, FileAuditTrail
from .clock import Clock, SystemClock
from .db import create_engine, reading, sqlite_path, writing
from .errors import InvalidInput
from .rawpostgres import PostgresPool
from .rawsqlite import InlineReader, ThreadWriter
from .side_loop import SideLoop
from .turnstile import Turnstile

T = TypeVar("T")


class Store:
    def __init__(self, engine: AsyncEngine, *, listing_engine: AsyncEngine,
                 sqlite_file: Path | None = None, clock: Clock | None = None,
                 background: bool = False):
        """`background`: a process nobody waits on (an import, the worker): on SQLite its writers
        let every other process's go first (ledger/turnstile.py)."""
        self.engine = engine
        # PostgreSQL: a server's own asyncpg connections for the balance line's look-ups and the
        # audit trail (ledger/rawpostgres.py), opened by `open`.
        self.line_connections: PostgresPool | None = None
        self.clock = clock or SystemClock()
        self.background = background
        # On SQLite the balance line's look-ups bypass the async adapter.
        self.inline_reads = InlineReader(sqlite_file) if sqlite_file else None
        # An import's batches and top-ups on SQLite: one hand-over to a thread each, the lock held
        # ~1 ms.
        self._raw_writes = (ThreadWriter(sqlite_file, urgent=False, background=background)
                            if sqlite_file else None)
        # A server's writers go before a background process's, whatever process (turnstile.py).
        self._turnstile = Turnstile(sqlite_file) if sqlite_file else None
        # SQLite: in a file of its own, where its records do not wait for these writers.
        self.trail: AuditTrail = (FileAuditTrail(sqlite_file) if sqlite_file
                                  else DatabaseAuditTrail(engine))
        # One writer at a time in this process: waiting here is cheap, while SQLite's busy
        # handler sleeps with a growing back-off.
        self._write_lock = asyncio.Lock()
        # One long read at a time in this process: each sorts a CPAS's accounts, and more at
        # once would take the cores the balance line answers on.
        self._asides = asyncio.Semaphore(1)
        self._listing_engine = listing_engine
        self._listing_loop = SideLoop("saldo-listings")

    @classmethod
    async def open(cls, database_url: str, *, clock: Clock | None = None,
                   background: bool = False) -> "Store":
        """Connected, its schema brought up to date, its trail and writers started."""
        path = sqlite_path(database_url)
        if path is not None and not path.parent.is_dir():
            # Said before connecting: a failed connect leaves aiosqlite a thread to clean up.
            raise InvalidInput("DATABASE_URL", f"the folder {path.parent} does not exist",
                               "database.folder_missing", folder=str(path.parent))
        store = cls(create_engine(database_url, batch=background), sqlite_file=path,
                    listing_engine=create_engine(database_url, giving_way=True), clock=clock,
                    background=background)
        try:
            await store.upgrade()  # the first connection: SQLAlchemy's errors say what is wrong
            if path is None and not background:
                store.line_connections = await PostgresPool.open(database_url)
                store.trail.direct = store.line_connections
            await store.trail.start()  # after the upgrade: it takes over an older file's trail
            if store._raw_writes:
                await store._raw_writes.start()  # at the opener's priority: see its start
        except BaseException:
            # Closed here, not left to the garbage collector: aiosqlite's threads would then
            # report to an event loop that may be gone.
            await store.close()
            raise
        return store

    async def close(self) -> None:
        await self.trail.close()
        if self.line_connections:
            await self.line_connections.close()
        if self.inline_reads:
            self.inline_reads.close()
        if self._raw_writes:
            await self._raw_writes.close()
        if self._turnstile:
            self._turnstile.close()
        if self._listing_loop.started:  # its engine's connections are that loop's
            await self._listing_loop.close(self._listing_engine.dispose)
        else:
            await self._listing_engine.dispose()
        await self.engine.dispose()

    async def upgrade(self) -> int:
        """The migrations not yet applied (ledger/migrations.py), under the writers' order."""
        async with self.writing() as conn:
            return await conn.run_sync(schema.upgrade)

    async def audit(self, *, actor: str, action: str, ean: str | None, outcome: str,
                    detail: str | None = None) -> None:
        """One record of who looked at or changed whose data; returns once it is committed
        (grouped with the others that came meanwhile)."""
        await self.trail.record(self.clock.now(), actor, action, ean, outcome, detail)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def raw_writes(self) -> bool:
        """Whether `writing_raw` is there (SQLite)."""
        return self._raw_writes is not None

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        turnstile = self._turnstile  # SQLite's (ledger/turnstile.py)
        async with self._write_lock:
            if turnstile:  # a background writer passes through it, the others hold it to BEGIN
                await (turnstile.pass_through() if self.background else turnstile.take())
            try:
                async with writing(self.engine) as conn:
                    if turnstile:
                        turnstile.give_back()
                    yield conn
            finally:
                if turnstile:
                    turnstile.give_back()

    async def writing_raw(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """SQLite: `write(connection)` as one write transaction in the writers' thread."""
        if self._raw_writes is None:
            raise RuntimeError("raw writes are SQLite's only")
        async with self._write_lock:
            return await self._raw_writes.run(write)

    async def reading_raw(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """SQLite: `read(connection)` in one read transaction on `writing_raw`'s connection and
        thread, after the writes asked for before it (see rawsqlite.Mark)."""
        if self._raw_writes is None:
            raise RuntimeError("raw reads are SQLite's only")
        return await self._raw_writes.read(read)

    def reading(self):
        """`async with store.reading() as conn:` a read transaction."""
        return reading(self.engine)

    async def reading_aside(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`read(connection)` on the listings' loop and engine, one at a time; its result here."""
        async def on_the_side() -> T:
            async with reading(self._listing_engine) as conn:
                return await read(conn)

        async with self._asides:
            return await self._listing_loop.run(on_the_side)
