"""Balance look-ups read inline on the event loop; they must never stall it, and must see what
other processes wrote."""

import asyncio
import sqlite3

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from ledger import Ledger, NonDisconnectionPeriod
from ledger.db import WRITERS_LOCK
from ledger.rawsqlite import InlineReader, ThreadWriter
from tests.databases import postgres_server
from tests.integration.test_ledger import EAN, activate, view


def lock_out_other_connections(path) -> sqlite3.Connection:
    """A connection in exclusive locking mode: nobody else can even read until it lets go."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
    blocker.execute("BEGIN EXCLUSIVE")
    blocker.execute("INSERT INTO meta (key, value) VALUES ('test-lock', 'x')")
    blocker.execute("COMMIT")
    return blocker


def let_go(blocker: sqlite3.Connection) -> None:
    blocker.execute("PRAGMA locking_mode=NORMAL")
    blocker.execute("SELECT count(*) FROM meta").fetchall()  # the mode changes on next access
    blocker.close()


@pytest.mark.parametrize("one_statement", [False, True], ids=["run", "rows"])
async def test_a_read_waiting_for_a_lock_leaves_the_event_loop_free(tmp_path, one_statement):
    path = tmp_path / "locked.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    setup.close()
    blocker = lock_out_other_connections(path)  # before any other connection, as it must be
    reader = InlineReader(path)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    asyncio.get_running_loop().call_later(0.5, let_go, blocker)
    try:
        read = (reader.rows("SELECT count(*) FROM meta", {}) if one_statement else
                reader.run(lambda conn: conn.execute("SELECT count(*) FROM meta").fetchall()))
        [(count,)] = await asyncio.wait_for(read, 10)
    finally:
        ticker.cancel()
        reader.close()
    assert count == 1  # read after the lock was let go, so it sees the blocker's row
    assert ticks >= 20  # and the loop went on meanwhile: the read waited in a thread


async def test_a_look_up_sees_what_another_process_just_wrote(ledger, database_url, clock):
    await activate(ledger)
    assert (await view(ledger)).balance_cents == 2000
    other = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        await other.top_up(EAN, 1500, "terminal", "T-1", actor="test")
    finally:
        await other.close()
    after = await view(ledger)
    assert (after.balance_cents, after.last_topup.amount_cents) == (3500, 1500)


async def test_concurrent_look_ups_each_leave_an_audit_record(ledger):
    await activate(ledger)
    views = await asyncio.gather(*(ledger.balance_view(EAN, actor=f"caller-{i}", detail=f"call:{i}")
                                   for i in range(40)))
    assert {v.balance_cents for v in views} == {2000}
    trail = await ledger.audit_trail(100)
    assert sorted(r["detail"] for r in trail if r["actor"].startswith("caller-")) == sorted(
        f"call:{i}" for i in range(40))


@pytest.mark.skipif(postgres_server() is None, reason="PostgreSQL only: SQLite has one writer")
async def test_a_look_up_does_not_wait_for_another_writer_on_postgresql(ledger, database_url):
    """The look-up's audit record is only appended: a long write elsewhere (an import's chunk,
    holding the writers' lock) must not hold the caller's answer."""
    await activate(ledger)
    url = make_url(database_url)
    writer = await asyncpg.connect(user=url.username, password=url.password, host=url.host,
                                   port=url.port, database=url.database)
    try:
        transaction = writer.transaction()
        await transaction.start()
        await writer.execute(f"SELECT pg_advisory_xact_lock({WRITERS_LOCK})")
        seen = await asyncio.wait_for(view(ledger), 5)  # found and audited
        blocked = asyncio.create_task(ledger.top_up(EAN, 1000, "terminal", "R-1"))
        await asyncio.sleep(0.3)
        assert not blocked.done()  # a ledger write does wait: the lock is the one it takes
        await transaction.rollback()
        await asyncio.wait_for(blocked, 5)
    finally:
        await writer.close()
    assert seen.balance_cents == 2000
    assert "found" in [record["outcome"] for record in await ledger.audit_trail()]


async def test_a_write_the_driver_calls_a_misuse_is_rolled_back_and_written_again(tmp_path, caplog):
    path = tmp_path / "writer.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE audit (outcome TEXT)")
    setup.close()
    writer, tries = ThreadWriter(path, urgent=True), []

    def write(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO audit VALUES ('found')")
        tries.append(conn)
        if len(tries) == 1:
            raise sqlite3.InterfaceError("bad parameter or other API misuse")

    try:
        await writer.run(write)
    finally:
        await writer.close()
    check = sqlite3.connect(path)
    assert check.execute("SELECT outcome FROM audit").fetchall() == [("found",)]  # once
    check.close()
    assert tries[0] is not tries[1]  # on a new connection
    assert "writing again" in caplog.text


async def test_the_unknown_codes_of_every_server_count_toward_one_ceiling(ledger, database_url,
                                                                          clock):
    """The ceiling on unknown codes a minute (all callers) is read from the audit trail: codes
    typed on one server count on the other at once."""
    from datetime import timedelta

    from ivr.app import ALL_CALLERS, UNKNOWN_CODE
    from ivr.limits import CEILING_WINDOW, LookupRules, ceiling_until

    rules = LookupRules(unknown_codes_per_minute=3)
    other = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        for n, server in enumerate((ledger, other, ledger)):
            await server.audit(actor=ALL_CALLERS, action=UNKNOWN_CODE, ean=None,
                               outcome="unknown", detail=f"call:CA{n}")
            clock.advance(timedelta(seconds=10))
        for server in (ledger, other):
            now = clock.now()
            seen = await server.lookups_by(ALL_CALLERS, UNKNOWN_CODE, since=now - CEILING_WINDOW)
            assert ceiling_until([lookup.at for lookup in seen], now, rules) == (
                now - timedelta(seconds=30) + CEILING_WINDOW)
    finally:
        await other.close()


async def test_several_actors_read_at_once_are_each_read_alone(ledger, clock):
    """The caller's limits and the line's ceiling are read in one statement
    (Ledger.lookups_by_each): for each (actor, action, since), what lookups_by gives alone —
    oldest first, none before `since`, another actor's or action's never."""
    from datetime import timedelta

    start = clock.now()
    for n in range(6):
        actor = ("ivr:a", "ivr:b")[n % 2]
        await ledger.audit(actor=actor, action=("ivr-balance", "ivr-pace")[n % 3 == 0],
                           ean=None, outcome=f"outcome{n}", detail=f"call:CA{n}")
        clock.advance(timedelta(seconds=10))
    for n, actor in enumerate(("ivr:a", "ivr:b", "ivr:a"), start=6):  # in the same second
        await ledger.audit(actor=actor, action="ivr-balance", ean=None, outcome=f"outcome{n}",
                           detail=f"call:CA{n}")
    wanted = [("ivr:a", "ivr-balance", start), ("ivr:b", "ivr-balance", start + timedelta(seconds=15)),
              ("ivr:a", "ivr-pace", start - timedelta(days=1)), ("ivr:c", "ivr-balance", start),
              ("ivr:a", "ivr-balance", start + timedelta(seconds=5))]
    each = await ledger.lookups_by_each(*wanted)
    alone = [await ledger.lookups_by(actor, action, since=since) for actor, action, since in wanted]
    assert each == alone
    assert [[lookup.outcome for lookup in lookups] for lookups in each] == [
        ["outcome2", "outcome4", "outcome6", "outcome8"], ["outcome5", "outcome7"], ["outcome0"],
        [], ["outcome2", "outcome4", "outcome6", "outcome8"]]


async def test_the_lines_fast_read_is_the_engines_read(database_url, clock):
    """The balance line's own read (inline on SQLite, one asyncpg statement on PostgreSQL) gives
    what the SQLAlchemy path gives: the account, its open debts in order, its last days newest
    first — by 13 or 18 digits, and nothing for an unknown code."""
    from datetime import timedelta

    from ledger import AccountInput, ConsumptionInput
    from ledger.accounts import SqlAlchemyReader, account_reader
    from tests.conftest import make_ean

    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        await ledger.import_accounts([AccountInput(make_ean(n), "gas", "fr",
                                                   transferred_cents=-1234 * n,
                                                   activated_at=clock.now() - timedelta(days=12))
                                      for n in (1, 2)])
        today = clock.now().date()
        await ledger.post_consumption([ConsumptionInput(make_ean(1), today - timedelta(days=d),
                                                        100 + d) for d in range(1, 11)])
        await ledger.add_payment_plan(make_ean(1), 9000, 150, "PLAN-1")
        fast, engine = account_reader(ledger.store), SqlAlchemyReader(ledger.store)
        assert type(fast) is not SqlAlchemyReader
        for ean in (make_ean(1), make_ean(1)[-13:], make_ean(2), make_ean(99)):
            assert await fast.account_and_outflows(ean) == await engine.account_and_outflows(ean)
        account, outflows = await fast.account_and_outflows(make_ean(1))
        assert len(account.debts) == 2 and len(outflows) == 7 and outflows[0] >= 101
        assert (await fast.account_and_outflows(make_ean(99))) == (None, [])
    finally:
        await ledger.close()


async def test_the_first_look_ups_after_a_start_scan_for_the_network_prefix_once(ledger,
                                                                                   monkeypatch):
    """The shared EAN prefix is read with a scan of every account: the look-ups that come at
    once after a start must not each scan (64 at once peaked a server at twice its memory,
    bench/serve_memory.py)."""
    await activate(ledger)
    store = ledger.store
    reading, scans = store.reading, []

    def counting_reading():
        scans.append(1)
        return reading()

    monkeypatch.setattr(store, "reading", counting_reading)
    prefixes = await asyncio.gather(*(ledger.ean_prefix() for _ in range(20)))
    assert prefixes == [EAN[:5]] * 20
    assert len(scans) == 1
