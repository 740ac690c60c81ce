"""SQLite without SQLAlchemy's async adapter, for the balance line's hot path.

Through the adapter a look-up and its audit record took ~45 hand-overs between the event loop and
the driver's thread, ~150 µs each on the machines we measured (bench/ivr_webhooks.py). Here:

- reads of a few indexed rows (~20 µs) run on the event loop itself, on a connection of their
  own — but never wait there: its busy timeout is 0, and on the rare SQLITE_BUSY (a WAL being
  recovered after a crash, an exclusive lock) the same read is done again in a thread that waits;
- short writes (audit records, grouped) run in one thread of their own, one hand-over each.
  Waiting for another process's write lock, SQLite's own busy handler sleeps 1, 2, 5, 10, 15,
  20, 25… ms and wakes to find an import's next chunk already begun: an audit record, and the
  caller's answer, waited 200 ms behind an import this way (bench/line_isolation.py). This
  writer asks for the lock again every millisecond instead, and gets the gap between chunks.
"""

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("saldo.ledger")
WAIT_MS = 10_000  # as the SQLAlchemy connections wait (ledger/db.py)
RETRY_EVERY_SECONDS = 0.001


def _connect(path: Path, busy_timeout_ms: int, *, query_only: bool,
             same_thread: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=same_thread)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    if query_only:
        conn.execute("PRAGMA query_only=1")  # a reader: a bug here cannot write
    else:
        conn.execute("PRAGMA synchronous=NORMAL")  # per connection, as ledger/db.py sets it
    return conn


def _busy(error: sqlite3.OperationalError) -> bool:
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

    async def run(self, read: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = _connect(self.path, 0, query_only=True)
        try:
            return _in_transaction(self._conn, "BEGIN", read, commit=False)
        except sqlite3.OperationalError as error:
            if not _busy(error):
                raise
        return await asyncio.to_thread(self._waiting_read, read)

    def _waiting_read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        conn = _connect(self.path, WAIT_MS, query_only=True, same_thread=False)
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
    its own; the caller holds the process's write lock, so they wait only for other processes."""

    def __init__(self, path: Path):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def run(self, write: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="saldo-sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._write, write)

    def _write(self, write: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = _connect(self.path, 0, query_only=False, same_thread=False)
        try:
            self._begin(self._conn)
            return _in_transaction(self._conn, None, write, commit=True)
        except sqlite3.InterfaceError:
            # SQLITE_MISUSE from the driver, seen a few times in a hundred thousand writes with
            # two server processes on one file (bench/ivr_webhooks.py --servers 2) and not
            # understood: the transaction was rolled back, so it is written again once on a new
            # connection rather than failing a caller's answer.
            log.warning("sqlite writer: the driver reported a misuse; writing again on a new "
                        "connection")
            self._close_connection()
            self._conn = _connect(self.path, 0, query_only=False, same_thread=False)
            self._begin(self._conn)
            return _in_transaction(self._conn, None, write, commit=True)

    @staticmethod
    def _begin(conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, asked for every millisecond until WAIT_MS have passed."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _busy(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(RETRY_EVERY_SECONDS)

    async def close(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_connection)
            self._thread.shutdown()
            self._thread = None

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
