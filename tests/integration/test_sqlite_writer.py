"""The balance line's SQLite writer waits for another process's write lock by asking again every
millisecond (not SQLite's growing sleeps), holding the turnstile meanwhile so that no other
writer begins before it (a background process's writers only pass through it), and gives up with SQLite's own error in the end. It leaves the WAL's
checkpoints to a thread of its own."""

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ledger import rawsqlite
from ledger.rawsqlite import ThreadWriter
from ledger.turnstile import Turnstile


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


@contextmanager
def another_writer(path) -> Iterator[threading.Event]:
    """A new database whose write lock another connection holds (having written 1) until the
    event given is set, or the block ends."""
    _table(path)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, held, release))
    holder.start()
    held.wait(5)
    try:
        yield release
    finally:
        release.set()
        holder.join()


async def test_the_writer_gets_in_as_soon_as_the_other_transaction_ends(tmp_path):
    path = tmp_path / "ledger.db"
    writer = ThreadWriter(path, urgent=True)
    with another_writer(path) as release:
        try:
            write = asyncio.ensure_future(writer.run(
                lambda conn: conn.execute("INSERT INTO records VALUES (2)")))
            await asyncio.sleep(0.05)
            assert not write.done()  # waiting for the other transaction, not failing
            release.set()
            await write
        finally:
            await writer.close()
    with sqlite3.connect(path) as conn:
        assert [n for (n,) in conn.execute("SELECT n FROM records ORDER BY n")] == [1, 2]


async def test_the_writer_gives_up_after_its_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(rawsqlite, "WAIT_MS", 50)
    path = tmp_path / "ledger.db"
    writer = ThreadWriter(path, urgent=True)
    with another_writer(path):
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await writer.run(lambda conn: conn.execute("INSERT INTO records VALUES (2)"))
        finally:
            await writer.close()
    with sqlite3.connect(path) as conn:
        assert [n for (n,) in conn.execute("SELECT n FROM records")] == [1]


async def test_while_the_urgent_writer_waits_no_other_writer_begins(tmp_path):
    path = tmp_path / "ledger.db"
    urgent, batches = ThreadWriter(path, urgent=True), ThreadWriter(path, urgent=False)
    other_process = Turnstile(path)
    with another_writer(path) as release:
        try:
            audit = asyncio.ensure_future(urgent.run(
                lambda conn: conn.execute("INSERT INTO records VALUES (2)")))
            await asyncio.sleep(0.05)
            passing = asyncio.ensure_future(other_process.pass_through())
            batch = asyncio.ensure_future(batches.run(
                lambda conn: conn.execute("INSERT INTO records VALUES (3)")))
            await asyncio.sleep(0.05)
            assert not (audit.done() or passing.done() or batch.done())
            release.set()
            await asyncio.wait_for(asyncio.gather(audit, passing, batch), 5)
        finally:
            other_process.close()
            await urgent.close()
            await batches.close()
    with sqlite3.connect(path) as conn:
        # in the order they went in: the audit record first, then the batch
        assert [n for (n,) in conn.execute("SELECT n FROM records ORDER BY rowid")] == [1, 2, 3]


async def test_a_servers_waiting_writer_goes_before_a_background_processs(tmp_path):
    """A top-up waiting for an import's batch holds the turnstile: the import's next batch (in
    its own process) waits behind it, not the other way round."""
    path = tmp_path / "ledger.db"
    top_ups = ThreadWriter(path, urgent=False)
    import_batches = Turnstile(path)  # as a background process's writer passes through it
    with another_writer(path) as release:
        try:
            top_up = asyncio.ensure_future(top_ups.run(
                lambda conn: conn.execute("INSERT INTO records VALUES (2)")))
            await asyncio.sleep(0.05)
            next_batch = asyncio.ensure_future(import_batches.pass_through())
            await asyncio.sleep(0.05)
            assert not (top_up.done() or next_batch.done())
            release.set()
            await asyncio.wait_for(asyncio.gather(top_up, next_batch), 5)
        finally:
            import_batches.close()
            await top_ups.close()


async def test_a_background_writer_waits_without_holding_the_turnstile(tmp_path):
    path = tmp_path / "ledger.db"
    import_batches = ThreadWriter(path, urgent=False, background=True)
    other_process = Turnstile(path)
    with another_writer(path) as release:
        try:
            batch = asyncio.ensure_future(import_batches.run(
                lambda conn: conn.execute("INSERT INTO records VALUES (2)")))
            await asyncio.sleep(0.05)
            await asyncio.wait_for(other_process.pass_through(), 1)  # not held by the batch
            assert not batch.done()
            release.set()
            await asyncio.wait_for(batch, 5)
        finally:
            other_process.close()
            await import_batches.close()


def _wal_frames(path) -> tuple[int, int]:
    """(frames in the WAL, frames copied back) — PASSIVE, as a checkpoint would find them."""
    with sqlite3.connect(path) as conn:
        _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return frames, copied


async def test_the_audit_writer_leaves_checkpoints_to_its_own_thread(tmp_path, monkeypatch):
    path = tmp_path / "ledger.db"
    _table(path)
    keeper = sqlite3.connect(path)  # the database stays open, as a server keeps it
    monkeypatch.setattr(rawsqlite, "CHECKPOINT_EVERY", 10**9)
    writer = ThreadWriter(path, urgent=True)
    try:
        for _ in range(300):  # some 1,200 pages: SQLite's own threshold is 1,000
            await writer.run(lambda conn: conn.execute(
                "INSERT INTO records VALUES (?)", (b"x" * 16_000,)))
        frames, _ = _wal_frames(path)
        assert frames > 1000  # no commit of the writer checkpointed
        monkeypatch.setattr(rawsqlite, "CHECKPOINT_EVERY", 1)
        await writer.run(lambda conn: conn.execute("INSERT INTO records VALUES (1)"))
        await asyncio.wrap_future(writer._checkpoint)
        frames_after, copied = _wal_frames(path)
        assert copied == frames_after
    finally:
        await writer.close()
        keeper.close()
