"""SQLite without SQLAlchemy's async adapter, for the balance line's hot path and for the
writes it waits for.

Through the adapter a look-up and its audit record took ~45 hand-overs between the event loop and
the driver's thread, ~150 µs each on the machines we measured (bench/ivr_webhooks.py), and a
top-up held the write lock 7 ms over some fifty. Here:

- reads of a few indexed rows (~20 µs) run on the event loop itself, on a connection of their
  own — but never wait there: its busy timeout is 0, and on the rare SQLITE_BUSY (a WAL being
  recovered after a crash, an exclusive lock) the same read is done again in a thread that waits;
- writes run in a thread of their own, one hand-over a transaction: a top-up or an import's
  batch, and the audit trail's records when they cannot be written on the event loop at once
  (ledger/audit.py). Waiting for another process's write lock, SQLite's own busy handler sleeps
  1, 2, 5, 10, 15, 20, 25… ms and wakes to find an import's next chunk already begun: an audit
  record, and the caller's answer, waited 200 ms behind an import this way
  (bench/line_isolation.py). These writers ask for the lock again every millisecond instead,
  holding the turnstile meanwhile (ledger/turnstile.py) so that no other writer begins before
  them — except a background process's, which wait behind it.
"""

import asyncio
import itertools
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple, TypeVar

from .db import BATCH_CACHE_KIB
from .turnstile import Turnstile

T = TypeVar("T")
log = logging.getLogger("saldo.ledger")
WAIT_MS = 10_000  # as the SQLAlchemy connections wait (ledger/db.py)
RETRY_EVERY_SECONDS = 0.001
# Audit transactions between two checkpoints of the WAL: a few pages each, so about SQLite's
# own threshold of 1,000 pages.
CHECKPOINT_EVERY = 250
BACKGROUND_CHECKPOINT_PAGES = 10_000


class Connection(sqlite3.Connection):
    """Numbered as opened, its write transactions counted as committed (ThreadWriter): what a
    `Mark` needs to say whether rows read on it may have changed since."""

    opened = 0
    commits = 0


_opened = itertools.count(1)


def connect(path: Path, busy_timeout_ms: int, *, query_only: bool,
            same_thread: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=same_thread,
                           factory=Connection)
    conn.opened = next(_opened)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    if query_only:
        conn.execute("PRAGMA query_only=1")  # a reader: a bug here cannot write
    else:
        conn.execute("PRAGMA synchronous=NORMAL")  # per connection, as ledger/db.py sets it
    return conn


class Mark(NamedTuple):
    """When rows were read on a writer's connection (ThreadWriter.read), as `unchanged_since`
    compares it in a later write transaction on the same connection."""

    opened: int
    data_version: int  # SQLite's: changes when another connection commits, not for this one's
    commits: int  # this connection's commits, every writer's
    own: int  # the commits of the writer that read, as it counts them


def snapshot_mark(conn: sqlite3.Connection, own: int) -> Mark:
    """Taken in the read transaction; `own`: the reading writer's commits so far."""
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    return Mark(getattr(conn, "opened", 0), version, getattr(conn, "commits", 0), own)


def unchanged_since(conn: sqlite3.Connection, mark: Mark | None, own: int) -> bool:
    """In a write transaction on the connection `mark` was taken on: whether nothing but the
    reading writer's own commits (`own` now) has been committed since — by another connection,
    or by another writer on this one (a top-up in the same process)."""
    if mark is None or mark.opened == 0 or mark.opened != getattr(conn, "opened", 0):
        return False
    now = snapshot_mark(conn, own)
    return (now.data_version == mark.data_version
            and now.commits - mark.commits == own - mark.own)


def busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _in_transaction(conn: sqlite3.Connection, begin: str | None,
                    work: Callable[[sqlite3.Connection], T], *, commit: bool) -> T:
    """`begin` None: the transaction is begun already."""
    if begin is not None:
        conn.execute(begin)
    try:
        result = work(conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT" if commit else "ROLLBACK")
    return result


class InlineReader:
    """Runs short read functions `read(connection) -> value` in one snapshot."""

    def __init__(self, path: Path):
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, 0, query_only=True)
        return self._conn

    async def run(self, read: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return _in_transaction(self._connection(), "BEGIN", read, commit=False)
        except sqlite3.OperationalError as error:
            if not busy(error):
                raise
        return await asyncio.to_thread(self._waiting_read, read)

    async def rows(self, sql: str, values: dict) -> list[tuple]:
        """One statement's rows: a statement is its own snapshot, so no transaction is begun
        around it (two fewer round trips into SQLite than `run`)."""
        try:
            return self._connection().execute(sql, values).fetchall()
        except sqlite3.OperationalError as error:
            if not busy(error):
                raise
        return await asyncio.to_thread(self._waiting_read,
                                       lambda conn: conn.execute(sql, values).fetchall())

    def _waiting_read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        conn = connect(self.path, WAIT_MS, query_only=True, same_thread=False)
        try:
            return _in_transaction(conn, "BEGIN", read, commit=False)
        finally:
            conn.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ThreadWriter:
    """Runs write functions `write(connection) -> value` in one transaction each, in a thread of
    its own: within a process they wait one for the other, and ask for the lock only against
    other processes.

    `urgent` (the audit trail's, which a caller's answer waits for): tries the lock first, and
    holds the turnstile if it must wait; never checkpoints the WAL in its commits — SQLite's
    automatic checkpoint runs in the commit that finds the WAL long, and after an import's
    batches that put up to 13 ms on an audit record; a thread of its own checkpoints instead,
    every CHECKPOINT_EVERY commits. Otherwise (a server's top-ups): holds the turnstile while it
    waits; `background` (an import's batches): passes through the turnstile and waits without
    it, behind every other writer.
    """

    def __init__(self, path: Path, *, urgent: bool, background: bool = False):
        if urgent and background:
            raise ValueError("a writer is urgent or background, not both")
        self.path = path
        self.urgent = urgent
        self.background = background
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._turnstile = Turnstile(path)  # its own open file: see Turnstile._file
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint: Future[None] | None = None
        self._commits = 0

    async def start(self) -> None:
        """Starts the thread now, at the caller's CPU priority. A thread is given its creator's,
        and an import lowers its own once the ledger is open (saldo import): the writer that
        holds the lock others wait for must not be the one the machine runs last."""
        await self._run_in_thread(lambda: None)

    async def _run_in_thread(self, function: Callable[[], T]) -> T:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="saldo-sqlite-writer-" + (
                "urgent" if self.urgent else "batches"))
        return await asyncio.get_running_loop().run_in_executor(self._thread, function)

    async def run(self, write: Callable[[sqlite3.Connection], T]) -> T:
        result = await self._run_in_thread(lambda: self._write(write))
        if self.urgent:
            self.committed()
        return result

    async def read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """`read(connection)` in a read transaction on this writer's connection, in its thread,
        after the writes asked for before it: a `snapshot_mark` taken there lets a later write
        tell whether the rows read may have changed (`unchanged_since`)."""
        return await self._run_in_thread(lambda: self._read(read))

    def _read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connection()
        return _in_transaction(self._conn, "BEGIN", read, commit=False)

    def committed(self) -> None:
        """Counts a commit of an urgent writer's file, this one's or another connection's
        (ledger/audit.py writes on the event loop when it can): every CHECKPOINT_EVERY, the WAL
        is checkpointed in a thread."""
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and (self._checkpoint is None
                                                  or self._checkpoint.done()):
            self._commits = 0
            if self._checkpointer is None:
                self._checkpointer = ThreadPoolExecutor(
                    1, thread_name_prefix="saldo-sqlite-checkpoint")
            self._checkpoint = self._checkpointer.submit(self._checkpoint_wal)

    def _connection(self) -> sqlite3.Connection:
        conn = connect(self.path, 0, query_only=False, same_thread=False)
        if self.urgent:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        if self.background:
            conn.execute(f"PRAGMA cache_size=-{BATCH_CACHE_KIB}")  # as ledger/db.py
            # An import's transactions each rewrite many of the same index pages: checkpointed
            # every 1,000 pages (SQLite's default) they are copied over and over. Every 10,000
            # (~40 MB of WAL), 200,000 meter-days' writes took 5.6 s instead of 6.6 s (5.0 s in
            # one transaction).
            conn.execute(f"PRAGMA wal_autocheckpoint={BACKGROUND_CHECKPOINT_PAGES}")
        return conn

    def _write(self, write: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connection()
        try:
            return self._write_on(self._conn, write)
        except sqlite3.InterfaceError:
            # SQLITE_MISUSE from the driver, seen a few times in a hundred thousand writes with
            # two server processes on one file (bench/ivr_webhooks.py --servers 2) and not
            # understood: the transaction was rolled back, so it is written again once on a new
            # connection rather than failing a caller's answer.
            log.warning("sqlite writer: the driver reported a misuse; writing again on a new "
                        "connection")
            self._close_connection()
            self._conn = self._connection()
            return self._write_on(self._conn, write)

    def _write_on(self, conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], T]) -> T:
        self._begin(conn)
        result = _in_transaction(conn, None, write, commit=True)
        conn.commits += 1  # what a Mark counts
        return result

    def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, asked for every millisecond until WAIT_MS have passed, holding the
        turnstile meanwhile (a background writer only passes through it first)."""
        if self.background:
            self._turnstile.pass_through_blocking()
        if self.urgent and self._try_begin(conn):
            return
        deadline = time.monotonic() + WAIT_MS / 1000
        with nullcontext() if self.background else self._turnstile.held():
            while not self._try_begin(conn):
                if time.monotonic() >= deadline:
                    conn.execute("BEGIN IMMEDIATE")  # "database is locked", if it still is
                    return
                time.sleep(RETRY_EVERY_SECONDS)

    @staticmethod
    def _try_begin(conn: sqlite3.Connection) -> bool:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as error:
            if not busy(error):
                raise
            return False

    def _checkpoint_wal(self) -> None:
        """PASSIVE: copies what it can without waiting for readers or writers."""
        try:
            conn = connect(self.path, 0, query_only=False, same_thread=True)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()
        except sqlite3.Error as error:  # the next one will copy what this one did not
            log.warning("sqlite checkpoint: %s", error)

    async def close(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_connection)
            self._thread.shutdown()
            self._thread = None
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.shutdown)
            self._checkpointer = None
        self._turnstile.close()

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
