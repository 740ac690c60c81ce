"""The audit trail on SQLite is a file of its own (ledger/audit.py): the balance line's records
never wait for the ledger's writers, and a ledger file of an earlier version hands its trail
over whole."""

import asyncio
import sqlite3

import pytest

from ledger import Ledger, NonDisconnectionPeriod
from ledger.audit import audit_file
from ledger.db import sqlite_path
from tests.integration.test_ledger import EAN, activate, view

pytestmark = pytest.mark.sqlite_only


async def test_a_look_up_is_audited_while_another_process_writes_the_ledger(ledger,
                                                                             database_url):
    """An import's batch or another server's top-up holds the ledger file's write lock; the
    caller's answer waits for its audit record only, and that is written elsewhere."""
    await activate(ledger)
    writer = sqlite3.connect(sqlite_path(database_url), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        seen = await asyncio.wait_for(view(ledger), 1)
        blocked = asyncio.create_task(ledger.top_up(EAN, 1000, "terminal", "R-1", actor="test"))
        await asyncio.sleep(0.3)
        assert not blocked.done()  # a ledger write does wait for that lock
        writer.execute("ROLLBACK")
        await asyncio.wait_for(blocked, 5)
    finally:
        writer.close()
    assert seen.balance_cents == 2000
    trail = await ledger.audit_trail()
    assert [(r["action"], r["outcome"]) for r in trail[:2]] == [("topup", "recorded"),
                                                                ("balance", "found")]


def _records_in_the_ledger_file(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    finally:
        conn.close()


def _as_an_earlier_version_left_it(path, records: list[tuple]) -> None:
    """The trail in the ledger's own file (its table there is the ledger's migrations'), as
    every version before this one kept it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)", records)
    conn.close()


async def test_the_trail_of_an_earlier_version_moves_into_its_file_once(database_url, clock):
    path = sqlite_path(database_url)
    first = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    await first.close()
    for leftover in path.parent.glob(audit_file(path).name + "*"):
        leftover.unlink()  # as if this version had never opened it
    earlier = [(1, "2026-11-30T09:00:00Z", "caller:1a2b", "balance", EAN, "found", "call:1"),
               (2, "2026-11-30T09:05:00Z", "staff:anne", "topup", EAN, "recorded", "topup:T-9")]
    _as_an_earlier_version_left_it(path, earlier)

    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        moved = await ledger.audit_trail()
    finally:
        await ledger.close()
    assert [(r["id"], r["actor"], r["detail"]) for r in moved] == [
        (2, "staff:anne", "topup:T-9"), (1, "caller:1a2b", "call:1")]
    assert _records_in_the_ledger_file(path) == 0

    # A move cut short between its copy and the drop of the old table is done again whole.
    _as_an_earlier_version_left_it(path, earlier)
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        await ledger.audit(actor="cli:operator", action="staff-add", ean=None, outcome="anne")
        again = await ledger.audit_trail()
    finally:
        await ledger.close()
    assert [r["id"] for r in again] == [3, 2, 1]  # nothing twice, and new records after them
    assert _records_in_the_ledger_file(path) == 0


async def test_the_trail_file_is_checkpointed_though_its_records_are_written_on_the_event_loop(
        ledger, database_url, monkeypatch):
    """SQLite's automatic checkpoint is off on the trail's connections (it would run inside a
    caller's answer): a thread copies the WAL back every CHECKPOINT_EVERY commits, whichever
    connection committed, so the WAL does not grow without end."""
    from ledger import rawsqlite

    monkeypatch.setattr(rawsqlite, "CHECKPOINT_EVERY", 10)
    for n in range(300):  # one commit each: each waits for its own
        await ledger.audit(actor=f"caller:{n}", action="balance", ean=None, outcome="invalid",
                           detail="x" * 500)
    await asyncio.sleep(1)  # for the last checkpoint's thread (a 3 MB copy: well within)
    # The records are in the file itself, copied there from the WAL (without the checkpoints
    # the file keeps the few pages its schema took, and the WAL grows with every commit).
    assert audit_file(sqlite_path(database_url)).stat().st_size > 150_000  # 300 × 500 bytes


async def test_the_trail_file_holds_the_table_the_code_writes(ledger, database_url):
    """Its DDL is frozen in ledger/audit.py: the columns must still be schema.audit's."""
    from ledger import schema

    with sqlite3.connect(audit_file(sqlite_path(database_url))) as db:
        columns = [(name, kind, bool(not_null)) for _, name, kind, not_null, _, _
                   in db.execute("PRAGMA table_info(audit)")]
        indexes = {name for _, name, *_ in db.execute("PRAGMA index_list(audit)")}
    assert columns == [(c.name, str(c.type.compile()), not c.nullable or c.primary_key)
                       for c in schema.audit.columns]
    assert {index.name for index in schema.audit.indexes} <= indexes
