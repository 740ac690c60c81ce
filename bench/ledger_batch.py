"""One day of consumption for N accounts through the real import path, beside its floor.

    python bench/ledger_batch.py [--accounts N] [--profile] [--database-url URL]

Timed: the consumption CSV on disk → ledger.stream_consumption → Ledger.post_consumption, as
`saldo import consumption` does it (a background process).
Baselines, same run and database: the writes-only floor — the driver alone writing exactly the
rows the import wrote (read back from the ledger afterwards, written into a copy of the ledger
taken before it), in one transaction, with no parsing and no reads; the import must reach
TARGET_FLOOR_RATIO of it. And one plain `executemany` of the (ean, day, amount) rows into a bare
table (an older target). With --database-url (a PostgreSQL server's URL) the ledger is a new
database there, its copy a database made from it as a template, the driver asyncpg.
Setup (accounts, files) is not timed. Everything lives in a temporary directory.
"""

import argparse
import asyncio
import cProfile
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# Benchmark the working tree's ledger, whatever is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from ledger import Ledger, SettableClock, read_accounts, stream_consumption  # noqa: E402
from ledger import schema  # noqa: E402
from ledger.rawpostgres import as_arrays, unnest_insert, unnest_update  # noqa: E402
from made_up import (  # noqa: E402 - bench/ is the script's folder
    belgian_amount,
    describe_postgres,
    is_postgres,
    make_ean,
    postgres_connection,
    print_profile,
    require,
    scratch_database,
    write_accounts_csv,
)

# A fixed "now" keeps runs comparable; the consumption day is the day before.
NOW = datetime(2025, 3, 12, 6, 0, tzinfo=UTC)
CONSUMPTION_DAY = date(2025, 3, 11)
ACTIVATED_ON = CONSUMPTION_DAY - timedelta(days=6)
HEAVY_USER_EVERY = 100  # these cross the 5 € threshold, so the event path runs too
TARGET_RATE = 50_000
TARGET_RATIO = 0.25
TARGET_FLOOR_RATIO = 0.7  # issue 17: the import at least 0.7 of the writes-only floor's speed
# The connection settings the ledger applies (ledger/db.py).
LEDGER_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON")


@dataclass(frozen=True)
class MeterDay:
    ean: str
    day: str
    amount_cents: int


# ---- made-up input ------------------------------------------------------------------------------



def make_meter_days(count: int) -> list[MeterDay]:
    rng = random.Random(2025)
    return [MeterDay(make_ean(i), CONSUMPTION_DAY.isoformat(), day_amount(rng, i))
            for i in range(1, count + 1)]


def day_amount(rng: random.Random, serial: int) -> int:
    if serial % HEAVY_USER_EVERY == 0:
        return rng.randint(15_00, 19_99)
    return rng.randint(30, 9_99)






def write_consumption_csv(path: Path, meter_days: list[MeterDay]) -> None:
    lines = ["ean;day;amount"]
    lines += [f"{m.ean};{m.day};{belgian_amount(m.amount_cents)}" for m in meter_days]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- plain sqlite3 ------------------------------------------------------------------------------

def connect_plain(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we write BEGIN and COMMIT ourselves, as the ledger does.
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in LEDGER_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    return conn


def timed(action: Callable[..., object], *args) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def plain_insert_seconds(path: Path, meter_days: list[MeterDay]) -> float:
    conn = connect_plain(path)
    conn.execute("CREATE TABLE consumption (ean TEXT, day TEXT, amount_cents INTEGER)")
    rows = [(m.ean, m.day, m.amount_cents) for m in meter_days]

    def insert() -> None:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO consumption VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")

    seconds = timed(insert)
    conn.close()
    return seconds


def snapshot(source: Path, copy: Path) -> None:
    """A copy of the ledger before the import: the informative baseline writes into it."""
    src, dst = sqlite3.connect(source), sqlite3.connect(copy)
    src.backup(dst)
    dst.close()
    src.close()


# What the import writes, read back as the difference between the ledger and its snapshot.
# Each entry: label, the plain SQL the import's write amounts to, the query of its rows.
WRITTEN = (
    ("postings insert",
     "INSERT INTO postings (account_id, kind, from_book, to_book, amount_cents, at, day, "
     "reference, reverses, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
     "SELECT account_id, kind, from_book, to_book, amount_cents, at, day, reference, reverses, "
     "detail FROM after.postings WHERE id > (SELECT coalesce(max(id), 0) FROM main.postings) "
     "ORDER BY id"),
    ("accounts update",
     "UPDATE accounts SET balance_cents = ?, as_of = ? WHERE id = ?",
     "SELECT a.balance_cents, a.as_of, a.id FROM after.accounts a "
     "JOIN main.accounts m ON m.id = a.id WHERE a.as_of IS NOT m.as_of ORDER BY a.id"),
    ("debts update",
     "UPDATE debts SET outstanding_cents = ? WHERE id = ?",
     "SELECT a.outstanding_cents, a.id FROM after.debts a JOIN main.debts m ON m.id = a.id "
     "WHERE a.outstanding_cents IS NOT m.outstanding_cents ORDER BY a.id"),
    ("consumption_days insert",
     "INSERT INTO consumption_days (account_id, day, amount_cents, repaid_cents, revision, "
     "quantity, unit) VALUES (?, ?, ?, ?, ?, ?, ?)",
     "SELECT a.account_id, a.day, a.amount_cents, a.repaid_cents, a.revision, "
     "a.quantity, a.unit FROM after.consumption_days a "
     "WHERE NOT EXISTS (SELECT 1 FROM main.consumption_days m "
     "WHERE m.account_id = a.account_id AND m.day = a.day)"),
    ("events insert",
     "INSERT INTO events (account_id, name, at, payload) VALUES (?, ?, ?, ?)",
     "SELECT account_id, name, at, payload FROM after.events "
     "WHERE id > (SELECT coalesce(max(id), 0) FROM main.events) ORDER BY id"),
)


def written_rows(conn: sqlite3.Connection, ledger_file: Path) -> list[list[tuple]]:
    """The rows of each entry of WRITTEN, read before the clock starts."""
    conn.execute("ATTACH DATABASE ? AS after", (str(ledger_file),))
    rows = [conn.execute(query).fetchall() for _, _, query in WRITTEN]
    conn.execute("DETACH DATABASE after")
    return rows


def replay_seconds(snapshot_file: Path, ledger_file: Path) -> list[tuple[str, int | None, float]]:
    """Writes the import's rows into the snapshot, one transaction: (label, rows, seconds)."""
    conn = connect_plain(snapshot_file)
    rows_per_write = written_rows(conn, ledger_file)
    timings = [("begin", None, timed(conn.execute, "BEGIN"))]
    for (label, sql, _), rows in zip(WRITTEN, rows_per_write, strict=True):
        timings.append((label, len(rows), timed(conn.executemany, sql, rows)))
    timings.append(("commit", None, timed(conn.execute, "COMMIT")))
    conn.close()
    return timings


# ---- the ledger ---------------------------------------------------------------------------------

def sqlite_url(db_file: Path) -> str:
    return f"sqlite:///{db_file}"


async def open_ledger(database_url: str) -> Ledger:
    # As `saldo import` opens it: a background process, whose writers give way to a server's.
    return await Ledger.open(database_url, clock=SettableClock(NOW), background=False)


async def create_accounts(database_url: str, accounts_csv: Path, count: int) -> None:
    ledger = await open_ledger(database_url)
    try:
        parsed = read_accounts(accounts_csv)
        report = await ledger.import_accounts(parsed.rows)
        require(report.new == count and not parsed.errors and not report.errors,
                f"account setup: {report.new} of {count} created, "
                f"errors {(parsed.errors + report.errors)[:3]}")
    finally:
        await ledger.close()


async def import_seconds(database_url: str, consumption_csv: Path, count: int,
                         profiler: cProfile.Profile | None) -> float:
    ledger = await open_ledger(database_url)
    try:
        start = time.perf_counter()
        with profiler or nullcontext():
            parsed = stream_consumption(consumption_csv)
            report = await ledger.post_consumption(parsed.rows)
        seconds = time.perf_counter() - start
    finally:
        await ledger.close()
    errors = parsed.errors + report.errors
    require(report.new == count and not errors,
            f"import path: {report.new} of {count} posted, {len(errors)} errors {errors[:3]}")
    return seconds




# ---- PostgreSQL ---------------------------------------------------------------------------------

def postgres_sql(sql: str) -> str:
    """sqlite3's `?` placeholders as asyncpg's `$n`."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


async def postgres_written_rows(ledger_url: str, snapshot_url: str) -> list[list[tuple]]:
    """The rows of each entry of WRITTEN, as the difference between the ledger and its copy."""
    before, after = (await postgres_connection(snapshot_url),
                     await postgres_connection(ledger_url))
    try:
        last_posting = await before.fetchval("SELECT coalesce(max(id), 0) FROM postings")
        last_event = await before.fetchval("SELECT coalesce(max(id), 0) FROM events")
        as_of = dict(await before.fetch("SELECT id, as_of FROM accounts"))
        owed = dict(await before.fetch("SELECT id, outstanding_cents FROM debts"))
        days = {tuple(r) for r in await before.fetch("SELECT account_id, day FROM consumption_days")}
        return [
            [tuple(r) for r in await after.fetch(
                "SELECT account_id, kind, from_book, to_book, amount_cents, at, day, reference, "
                "reverses, detail FROM postings WHERE id > $1 ORDER BY id", last_posting)],
            [tuple(r) for r in await after.fetch(
                "SELECT balance_cents, as_of, id FROM accounts ORDER BY id")
             if r["as_of"] != as_of[r["id"]]],
            [tuple(r) for r in await after.fetch(
                "SELECT outstanding_cents, id FROM debts ORDER BY id")
             if r["outstanding_cents"] != owed[r["id"]]],
            [tuple(r) for r in await after.fetch(
                "SELECT account_id, day, amount_cents, repaid_cents, revision, quantity, unit "
                "FROM consumption_days ORDER BY account_id, day")
             if (r["account_id"], r["day"]) not in days],
            [tuple(r) for r in await after.fetch(
                "SELECT account_id, name, at, payload FROM events WHERE id > $1 ORDER BY id",
                last_event)],
        ]
    finally:
        await before.close()
        await after.close()


async def postgres_replay_seconds(ledger_url: str, snapshot_url: str, *, unnest: bool = False
                                  ) -> list[tuple[str, int | None, float]]:
    """Writes the import's rows into the copy with asyncpg, one transaction: as replay_seconds.
    `unnest`: each table's rows as one statement of arrays, as the import itself writes them on
    PostgreSQL (ledger/rawpostgres.py), instead of executemany."""
    rows_per_write = await postgres_written_rows(ledger_url, snapshot_url)
    conn = await postgres_connection(snapshot_url)
    try:
        transaction = conn.transaction()
        start = time.perf_counter()
        await transaction.start()
        timings: list[tuple[str, int | None, float]] = [
            ("begin", None, time.perf_counter() - start)]
        for (label, sql, _), rows, (table, key, columns) in zip(
                WRITTEN, rows_per_write, UNNESTED, strict=True):
            start = time.perf_counter()
            if not unnest:
                await conn.executemany(postgres_sql(sql), rows)
            elif rows:
                await conn.execute(unnest_update(table, key, columns) if key
                                   else unnest_insert(table, columns), *as_arrays(rows))
            timings.append((label, len(rows), time.perf_counter() - start))
        start = time.perf_counter()
        await transaction.commit()
        timings.append(("commit", None, time.perf_counter() - start))
    finally:
        await conn.close()
    return timings


# WRITTEN's writes as ledger/rawpostgres.py's statements: (table, key columns, columns).
UNNESTED = (
    (schema.postings, (), ("account_id", "kind", "from_book", "to_book", "amount_cents", "at",
                           "day", "reference", "reverses", "detail")),
    (schema.accounts, ("id",), ("balance_cents", "as_of")),
    (schema.debts, ("id",), ("outstanding_cents",)),
    (schema.consumption_days, (), ("account_id", "day", "amount_cents", "repaid_cents",
                                   "revision", "quantity", "unit")),
    (schema.events, (), ("account_id", "name", "at", "payload")),
)


async def postgres_plain_seconds(snapshot_url: str, meter_days: list[MeterDay]) -> float:
    conn = await postgres_connection(snapshot_url)
    try:
        await conn.execute("CREATE TABLE plain_consumption (ean TEXT, day TEXT, "
                           "amount_cents INTEGER)")
        rows = [(m.ean, m.day, m.amount_cents) for m in meter_days]
        start = time.perf_counter()
        async with conn.transaction():
            await conn.executemany("INSERT INTO plain_consumption VALUES ($1, $2, $3)", rows)
        seconds = time.perf_counter() - start
        await conn.execute("DROP TABLE plain_consumption")
    finally:
        await conn.close()
    return seconds


async def postgres_copy(server_url: str, ledger_url: str, copy_name: str, *, drop: bool) -> None:
    admin = await postgres_connection(server_url)
    try:
        if drop:
            await admin.execute(f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)')
        else:
            await admin.execute(f'CREATE DATABASE "{copy_name}" TEMPLATE '
                                f'"{make_url(ledger_url).database}"')
    finally:
        await admin.close()


def run_postgres(count: int, server_url: str, profiler: cProfile.Profile | None) -> "Figures":
    meter_days = make_meter_days(count)
    with tempfile.TemporaryDirectory(prefix="saldo-bench-") as tmp, \
            scratch_database(server_url, Path(tmp)) as ledger_url:
        print(f"database: {describe_postgres(ledger_url)}, a new database of its own")
        folder = Path(tmp)
        write_accounts_csv(folder / "accounts.csv", [m.ean for m in meter_days], ACTIVATED_ON)
        write_consumption_csv(folder / "consumption.csv", meter_days)
        asyncio.run(create_accounts(ledger_url, folder / "accounts.csv", count))
        copies = [make_url(ledger_url).database + suffix for suffix in ("_before", "_before2")]
        snapshot_url, unnest_url = (make_url(ledger_url).set(database=name).render_as_string(
            hide_password=False) for name in copies)
        for name in copies:
            asyncio.run(postgres_copy(server_url, ledger_url, name, drop=False))
        try:
            plain_s = asyncio.run(postgres_plain_seconds(snapshot_url, meter_days))
            import_s = asyncio.run(import_seconds(ledger_url, folder / "consumption.csv", count,
                                                  profiler))
            replay = asyncio.run(postgres_replay_seconds(ledger_url, snapshot_url))
            unnested = asyncio.run(postgres_replay_seconds(ledger_url, unnest_url, unnest=True))
        finally:
            for name in copies:
                asyncio.run(postgres_copy(server_url, ledger_url, name, drop=True))
    return Figures(count, import_s, plain_s, replay, "asyncpg", unnested)


# ---- the run ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    count: int
    import_s: float
    plain_s: float
    replay: list[tuple[str, int | None, float]]
    driver: str = "plain sqlite3"
    # PostgreSQL: the same rows as one statement of arrays a table (informative)
    unnested: list[tuple[str, int | None, float]] | None = None


def run(count: int, profiler: cProfile.Profile | None) -> Figures:
    meter_days = make_meter_days(count)
    with tempfile.TemporaryDirectory(prefix="saldo-bench-") as tmp:
        folder = Path(tmp)
        ledger_file, snapshot_file = folder / "ledger.db", folder / "snapshot.db"
        write_accounts_csv(folder / "accounts.csv", [m.ean for m in meter_days], ACTIVATED_ON)
        write_consumption_csv(folder / "consumption.csv", meter_days)
        asyncio.run(create_accounts(sqlite_url(ledger_file), folder / "accounts.csv", count))
        snapshot(ledger_file, snapshot_file)
        plain_s = plain_insert_seconds(folder / "plain.db", meter_days)
        import_s = asyncio.run(import_seconds(sqlite_url(ledger_file), folder / "consumption.csv",
                                              count, profiler))
        replay = replay_seconds(snapshot_file, ledger_file)
    return Figures(count, import_s, plain_s, replay)


def per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}"


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def report(f: Figures) -> None:
    import_rate, plain_rate = f.count / f.import_s, f.count / f.plain_s
    ratio = import_rate / plain_rate
    print(f"import path: {f.count} meter-days in {f.import_s:.2f} s = "
          f"{per_second(f.count, f.import_s)} meter-days/s")
    print(f"{f.driver} executemany into a bare table: {f.count} rows in {f.plain_s:.2f} s = "
          f"{per_second(f.count, f.plain_s)} rows/s")
    print(f"ratio: {ratio:.2f} (target >= {TARGET_RATIO}): {met(ratio >= TARGET_RATIO)}")
    print(f"target {TARGET_RATE:,} meter-days/s: {met(import_rate >= TARGET_RATE)}")
    report_replay(f)
    floor_s = sum(seconds for _, _, seconds in f.replay)
    floor_ratio = floor_s / f.import_s
    print(f"the import against its writes-only floor, same run: {floor_s:.2f} / {f.import_s:.2f}"
          f" s = {floor_ratio:.2f} (target >= {TARGET_FLOOR_RATIO}): "
          f"{met(floor_ratio >= TARGET_FLOOR_RATIO)}")
    if f.unnested:
        print("informative: the same rows written as the import writes them on PostgreSQL, one "
              "statement of arrays a table (unnest):")
        unnested_s = print_writes(f.unnested)
        print(f"  {'total':<24} {'':13} {unnested_s:6.2f} s: the import against it "
              f"{unnested_s / f.import_s:.2f}")


def print_writes(timings: list[tuple[str, int | None, float]]) -> float:
    """Each write's line (label, rows, seconds); returns their total."""
    for label, rows, seconds in timings:
        rows_text = f"{rows:>8} rows" if rows is not None else " " * 13
        print(f"  {label:<24} {rows_text} {seconds:6.2f} s")
    return sum(seconds for _, _, seconds in timings)


def report_replay(f: Figures) -> None:
    print(f"the writes-only floor: {f.driver} executemany of the rows the import writes"
          " (writes only: no parsing, no reads; one transaction):")
    total = print_writes(f.replay)
    print(f"  {'total':<24} {'':13} {total:6.2f} s = {per_second(f.count, total)} "
          f"meter-days/s; the import path takes {f.import_s / total:.1f}x that")


def print_machine() -> None:
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200_000, help="meter-days to post")
    parser.add_argument("--database-url", metavar="URL",
                        help="a PostgreSQL server's URL; the ledger is a new database there")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of the timed import path (slows it down)")
    args = parser.parse_args()
    require(args.accounts > 0, "--accounts must be at least 1")
    profiler = cProfile.Profile() if args.profile else None
    print_machine()
    if args.database_url is not None:
        require(is_postgres(args.database_url), "--database-url takes a PostgreSQL server's URL")
        report(run_postgres(args.accounts, args.database_url, profiler))
    else:
        report(run(args.accounts, profiler))
    if profiler:
        print_profile(profiler, "profile of the import path (event-loop thread only: SQLite "
                      "runs in aiosqlite's thread and shows here as the loop waiting)", top=25)


if __name__ == "__main__":
    main()
