"""The database edge: engine from a URL, write transactions, and executemany on the hot path."""

import os
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Table, any_, bindparam, event, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .rawpostgres import as_arrays, unnest_insert

_WRITE = "saldo_write"
_APPEND_ONLY = "saldo_append_only"


POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def async_url(database_url: str):
    """'sqlite:///saldo.db' or 'postgresql://…' (also the 'postgres://' hosting platforms give)
    → the URL of the async driver: aiosqlite or asyncpg."""
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    if url.drivername in POSTGRES_SCHEMES:
        return url.set(drivername="postgresql+asyncpg")
    raise ValueError(f"DATABASE_URL: unsupported database {url.drivername!r} "
                     "(use sqlite:///FILE or postgresql://…)")


def sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    return Path(url.database) if url.drivername.startswith("sqlite") and url.database else None


# SQLite's page cache per connection, in KiB. A batch process (an import) touches many pages
# once; a server's connections read a few pages each, which the operating system's file cache
# keeps anyway — at 64 MiB each, a server's dozen connections grew it to 366 MB at its peak
# after 20,000 look-ups in a ledger of 200,000 accounts (bench/serve_memory.py).
BATCH_CACHE_KIB = 65_536
SERVER_CACHE_KIB = 4_096


def create_engine(database_url: str, *, giving_way: bool = False,
                  batch: bool = False) -> AsyncEngine:
    """`giving_way`: for long reads nobody is waiting on (a residents listing), one at a time; on
    SQLite the driver's thread of each connection runs at BACKGROUND_NICENESS. `batch`: for a
    process nobody waits on (an import, the worker): on SQLite, a larger page cache."""
    # hide_parameters: an error message must never carry a customer's EAN, name or number.
    url = async_url(database_url)
    # PostgreSQL: ten connections kept, ten more at a peak — two servers and two workers stay
    # at 80, within the server's default 100; SQLAlchemy's default (5) opened and closed
    # connections under load (bench/ivr_webhooks.py, README).
    # A listing engine (giving_way) serves one listing at a time (ledger.Store.reading_aside).
    pooling = ({} if url.get_backend_name() == "sqlite" else
               {"pool_size": 1, "max_overflow": 0} if giving_way else
               {"pool_size": 10, "max_overflow": 10})
    engine = create_async_engine(url, hide_parameters=True, **pooling)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine, giving_way, BATCH_CACHE_KIB if batch else SERVER_CACHE_KIB)
    else:
        _serialise_postgres_writers(engine)
    return engine


# Any constant will do: the one lock every ledger write transaction takes on PostgreSQL.
WRITERS_LOCK = 0x5A1D0


def _serialise_postgres_writers(engine: AsyncEngine) -> None:
    """The ledger reads balances and debts, then writes them: two writers at once, in two
    processes, would lose an update. SQLite lets one writer in at a time (BEGIN IMMEDIATE);
    on PostgreSQL every write transaction takes one advisory lock, held until it ends."""

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        options = conn.get_execution_options()
        if options.get(_WRITE, False) and not options.get(_APPEND_ONLY, False):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITERS_LOCK})")


# A residents listing sorts a CPAS's accounts, some 50 ms of a core at 20,000: at the default
# priority it took the cores a balance-line answer and the writers it waits for run on
# (bench/line_isolation.py).
BACKGROUND_NICENESS = 10


def _give_way() -> None:
    """Lowers the CPU priority of the calling thread: on Linux a nice value is a thread's."""
    if sys.platform.startswith("linux"):
        os.setpriority(os.PRIO_PROCESS, 0, max(BACKGROUND_NICENESS,
                                               os.getpriority(os.PRIO_PROCESS, 0)))


def _tune_sqlite(engine: AsyncEngine, giving_way: bool, cache_kib: int) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Own the transactions ourselves (pysqlite's implicit BEGIN gets them wrong).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        if giving_way:
            # A function SQLite calls runs in the thread that runs the statement: the driver's
            # own thread for this connection, which alone gives way.
            dbapi_connection.create_function("saldo_give_way", 0, _give_way)
            cursor.execute("SELECT saldo_give_way()")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn):
        # A writer takes the lock up front, so two processes never deadlock upgrading a read lock.
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One write transaction: everything inside commits together or not at all."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{_WRITE: True})
        async with conn.begin():
            yield conn


@asynccontextmanager
async def appending(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction that only adds rows nobody reads in order to write (audit records):
    on PostgreSQL it does not wait for the writers' lock — a balance-line answer waits for its
    audit record, and must not wait for an import's chunk. SQLite has one writer whatever."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{_WRITE: True, _APPEND_ONLY: True})
        async with conn.begin():
            yield conn


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        async with conn.begin():
            yield conn


_sql_cache: dict[tuple[str, str, str, tuple[str, ...]], str] = {}


def _compiled(dialect: Dialect, key: tuple[str, str, tuple[str, ...]], build) -> str:
    full_key = (dialect.name, *key)
    if full_key not in _sql_cache:
        _sql_cache[full_key] = str(build().compile(dialect=dialect))
    return _sql_cache[full_key]


def insert_sql(dialect: Dialect, table: Table, columns: Sequence[str]) -> str:
    """The dialect's INSERT of `columns`, for rows of plain tuples in that order."""
    return _compiled(dialect, ("insert", table.name, tuple(columns)),
                     lambda: _insert_in_table_order(table, columns))


def update_sql(dialect: Dialect, table: Table, key: Sequence[str], columns: Sequence[str]) -> str:
    """The dialect's UPDATE of `columns` where the `key` columns match, for rows of plain tuples:
    (value of each column…, value of each key column…)."""
    # ordered_values: the SET clause in the rows' order (values() would use the table's)
    return _compiled(
        dialect, ("update", table.name, (*key, "=", *columns)),
        lambda: update(table).where(*(table.c[k] == bindparam(f"_key_{k}") for k in key))
        .ordered_values(*((table.c[c], bindparam(c)) for c in columns)))


def any_of(column, name: str):
    """PostgreSQL: `column = ANY(:name)`, the values bound as one array, so the statement is
    compiled once for any number of them (an expanding IN list is rendered again at each call:
    a third of the PostgreSQL import's time in SQLAlchemy)."""
    return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))


def in_json_array(column, name: str):
    """SQLite: `column IN (SELECT value FROM json_each(:name))`, the values bound as one JSON
    array, so the statement is compiled once for any number of them."""
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))


async def insert_many(conn: AsyncConnection, table: Table, columns: Sequence[str],
                      rows: Iterable[tuple]) -> None:
    """executemany of plain tuples: SQLAlchemy builds the dialect's SQL once, the driver runs it.
    On PostgreSQL the rows go as one statement of arrays instead (ledger/rawpostgres.py): asyncpg's
    executemany runs a statement per row, and the kept counts' triggers with it (migration 12)."""
    rows = list(rows)
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(unnest_insert(table, tuple(columns)), as_arrays(rows))
    else:
        await conn.exec_driver_sql(insert_sql(conn.dialect, table, columns), rows)


def _insert_in_table_order(table: Table, columns: Sequence[str]):
    # The compiled INSERT lists its columns in the table's order, and the rows are positional.
    in_table_order = [c.name for c in table.columns if c.name in set(columns)]
    if list(columns) != in_table_order:
        raise ValueError(f"insert_many into {table.name}: give the columns in the table's order, "
                         f"{in_table_order}")
    return insert(table).values({c: bindparam(c) for c in columns})


async def update_many(conn: AsyncConnection, table: Table, key: str, columns: Sequence[str],
                      rows: Iterable[tuple]) -> None:
    """Rows are (value of each column…, key value)."""
    rows = list(rows)
    if rows:
        await conn.exec_driver_sql(update_sql(conn.dialect, table, (key,), columns), rows)


async def fetch_rows(conn: AsyncConnection, statement) -> list[tuple]:
    """All rows of a SELECT as plain tuples. On SQLite the driver fetches them in its own
    thread, skipping SQLAlchemy's per-row Result machinery — the import's hot path reads
    hundreds of thousands of rows."""
    if conn.dialect.name != "sqlite":
        return [tuple(row) for row in await conn.execute(statement)]
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.params  # a property that builds the whole dict at each call
    params = [values[name] for name in compiled.positiontup or ()]
    raw = await conn.get_raw_connection()
    return list(await raw.driver_connection.execute_fetchall(str(compiled), params))
