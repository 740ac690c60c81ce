"""The migrations build what the code reads: a new database, made by running every numbered
migration in order, has exactly the tables, columns, indexes and constraints ledger/schema.py
defines — on SQLite and on PostgreSQL. A column added to schema.py without its migration, or a
migration that reads the live definitions, fails here."""

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from ledger import schema
from ledger.db import create_engine
from ledger.migrations import MIGRATIONS, SCHEMA_VERSION, current_version, upgrade


def _type(column_type, dialect) -> str:
    """A type as the database states it, its collation aside (checked apart)."""
    compiled = column_type.compile(dialect=dialect)
    return compiled.split(" COLLATE ")[0].upper()


def _built(conn) -> dict:
    """What the database holds, table by table."""
    found = inspect(conn)
    built = {}
    for table in found.get_table_names():
        columns = {c["name"]: (_type(c["type"], conn.dialect), c["nullable"], "computed" in c)
                   for c in found.get_columns(table)}
        indexes = {(tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)}
        uniques = {tuple(u["column_names"]) for u in found.get_unique_constraints(table)}
        keys = {(tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in found.get_foreign_keys(table)}
        primary = tuple(found.get_pk_constraint(table)["constrained_columns"])
        built[table] = (columns, indexes | {(u, True) for u in uniques}, keys, primary)
    return built


def _defined(dialect) -> dict:
    """What ledger/schema.py says each table is."""
    defined = {}
    for table in schema.metadata.sorted_tables:
        columns = {c.name: (_type(c.type, dialect), c.nullable and not c.primary_key,
                            c.computed is not None) for c in table.columns}
        indexes = {(tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes}
        uniques = {(tuple(c.name for c in u.columns), True) for u in table.constraints
                   if u.__class__.__name__ == "UniqueConstraint"}
        uniques |= {((c.name,), True) for c in table.columns if c.unique}
        keys = {((f.parent.name,), f.column.table.name, (f.column.name,))
                for f in table.foreign_keys}
        primary = tuple(c.name for c in table.primary_key.columns)
        defined[table.name] = (columns, indexes | uniques, keys, primary)
    return defined


async def test_a_new_database_built_by_the_migrations_is_what_the_code_defines(database_url):
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            assert await conn.run_sync(upgrade) == SCHEMA_VERSION == len(MIGRATIONS)
            assert await conn.run_sync(current_version) == SCHEMA_VERSION
            built = await conn.run_sync(_built)
            dialect = conn.dialect
        defined = _defined(dialect)
        # The audit table stays in the ledger's database though SQLite keeps the trail in a
        # file of its own (ledger/audit.py); schema.py defines it all the same.
        assert set(built) == set(defined)
        for table in defined:
            columns, indexes, keys, primary = built[table]
            want_columns, want_indexes, want_keys, want_primary = defined[table]
            assert columns == want_columns, table
            # SQLite reports a UNIQUE column as a unique index or a constraint, PostgreSQL as
            # both: compare the columns each makes unique or indexed.
            assert {cols for cols, _ in indexes} == {cols for cols, _ in want_indexes}, table
            assert ({cols for cols, unique in indexes if unique}
                    == {cols for cols, unique in want_indexes if unique}), table
            assert keys == want_keys, table
            assert primary == want_primary, table
        async with engine.begin() as conn:
            assert await conn.run_sync(upgrade) == 0  # once only
    finally:
        await engine.dispose()


async def test_the_computed_columns_keep_their_order_in_code_point_order(database_url):
    """PostgreSQL sorts the names of the residents list in the "C" collation, as SQLite and
    Python do; a migration that forgot it would sort 'é' among the e's there only."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
            if conn.dialect.name != "postgresql":
                return
            from sqlalchemy import text
            collation = (await conn.execute(text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'accounts' AND column_name = 'name_order'"))).scalar()
            assert collation == "C"
    finally:
        await engine.dispose()


def migrate_up_to(sync_conn, version: int) -> None:
    for number in range(version):
        MIGRATIONS[number](sync_conn)


async def test_a_database_of_version_8_keeps_its_rows_and_takes_events_of_no_account(
        database_url):
    """Migration 9 lifts NOT NULL from events.account_id and outbox.account_id (SQLite: its
    stored definition, as sqlite.org says) over a database with rows in both."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: migrate_up_to(sync_conn, 8))
            await conn.execute(text(
                "INSERT INTO accounts (id, ean, ean13, energy, language, notify, threshold_cents,"
                " power_limiter, activated_at, activated_on, balance_cents, supply, as_of) VALUES"
                " (1, '541449000000000012', '9000000000012', 'gas', 'fr', 'sms', 500, false,"
                " '2026-11-16T08:00:00Z', '2026-11-16', 2000, 'on', '2026-11-16T08:00:00Z')"))
            await conn.execute(text("INSERT INTO events (id, account_id, name, at, payload) "
                                    "VALUES (1, 1, 'LowCredit', '2026-11-16T08:00:00Z', '{}')"))
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: MIGRATIONS[8](c))
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO events (id, account_id, name, at, payload) "
                                    "VALUES (2, NULL, 'HelpSent', '2026-11-16T09:00:00Z', '{}')"))
            await conn.execute(text(
                "INSERT INTO outbox (event_id, account_id, audience, channel, address, language,"
                " state, attempts, not_before, created_at) VALUES (2, NULL, 'customer', 'sms',"
                " '+32470000001', 'fr', 'queued', 0, '2026-11-16T09:00:00Z',"
                " '2026-11-16T09:00:00Z')"))
            rows = (await conn.execute(text("SELECT id, account_id FROM events ORDER BY id"))).all()
            assert [tuple(row) for row in rows] == [(1, 1), (2, None)]
            with pytest.raises(IntegrityError):  # the foreign key still holds
                async with conn.begin_nested():
                    await conn.execute(text(
                        "INSERT INTO events (account_id, name, at, payload) "
                        "VALUES (99, 'HelpSent', '2026-11-16T09:00:00Z', '{}')"))
            if conn.dialect.name == "sqlite":
                assert (await conn.execute(text("PRAGMA integrity_check"))).scalar() == "ok"
    finally:
        await engine.dispose()


async def test_a_database_of_version_11_starts_its_kept_counts_from_its_rows(database_url):
    """Migration 12 counts the accounts and days there are once, then keeps the counts."""
    engine = create_engine(database_url)
    account = ("INSERT INTO accounts (id, ean, ean13, energy, language, notify, threshold_cents,"
               " power_limiter, activated_at, activated_on, balance_cents, supply, as_of) VALUES"
               " ({id}, '54144900000000{id:04d}', '90000000{id:05d}', 'gas', 'fr', 'sms', 500,"
               " false, '2026-11-16T08:00:00Z', '2026-11-16', 2000, 'on',"
               " '2026-11-16T08:00:00Z')")
    day = ("INSERT INTO consumption_days (account_id, day, amount_cents, repaid_cents, revision)"
           " VALUES ({id}, '2026-11-17', 300, 100, 0)")
    kept = "SELECT name, sum(n) FROM row_tally GROUP BY name ORDER BY name"
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: migrate_up_to(sync_conn, 11))
            for id_ in (1, 2, 3):
                await conn.execute(text(account.format(id=id_)))
            await conn.execute(text(day.format(id=2)))
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: MIGRATIONS[11](c))
        async with engine.begin() as conn:
            assert [tuple(r) for r in await conn.execute(text(kept))] == [
                ("accounts", 3), ("consumption_days", 1)]
            await conn.execute(text(account.format(id=4)))
            await conn.execute(text(day.format(id=4)))
            await conn.execute(text(day.format(id=3)))
            await conn.execute(text("DELETE FROM consumption_days WHERE account_id = 2"))
            assert [tuple(r) for r in await conn.execute(text(kept))] == [
                ("accounts", 4), ("consumption_days", 2)]
    finally:
        await engine.dispose()
