"""The balance line's SQLite writer waits for another process's write lock by asking again every
millisecond (not SQLite's growing sleeps), and gives up with SQLite's own error in the end."""

import asyncio
import sqlite3
import threading

import pytest

from ledger import rawsqlite
from ledger.rawsqlite import ThreadWriter


def _table(path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE records (n INTEGER)")


def _hold_lock(path, held: threading.Event, release: threading.Event) -> None:
    """An importer's transaction, in a connection (and thread) of its own."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO records VALUES (1)")
    held.set()
    release.wait(10)
    conn.execute("COMMIT")
    conn.close()


async def test_the_writer_gets_in_as_soon_as_the_other_transaction_ends(tmp_path):
    path = tmp_path / "ledger.db"
    _table(path)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, held, release))
    holder.start()
    held.wait(5)
    writer = ThreadWriter(path)
    try:
        write = asyncio.ensure_future(writer.run(
            lambda conn: conn.execute("INSERT INTO records VALUES (2)")))
        await asyncio.sleep(0.05)
        assert not write.done()  # waiting for the other transaction, not failing
        release.set()
        await write
    finally:
        holder.join()
        await writer.close()
    with sqlite3.connect(path) as conn:
        assert [n for (n,) in conn.execute("SELECT n FROM records ORDER BY n")] == [1, 2]


async def test_the_writer_gives_up_after_its_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(rawsqlite, "WAIT_MS", 50)
    path = tmp_path / "ledger.db"
    _table(path)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, held, release))
    holder.start()
    held.wait(5)
    writer = ThreadWriter(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await writer.run(lambda conn: conn.execute("INSERT INTO records VALUES (2)"))
    finally:
        release.set()
        holder.join()
        await writer.close()
    with sqlite3.connect(path) as conn:
        assert [n for (n,) in conn.execute("SELECT n FROM records")] == [1]
