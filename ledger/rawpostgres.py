"""PostgreSQL on the balance line's path, on asyncpg itself: the look-up's read and the audit
trail's reads and appends — what SQLite has in ledger/rawsqlite.py.

Through SQLAlchemy's async engine a look-up cost about 3 ms of a server's CPU, most of it Python
around the database (the greenlet hops of its async adapter, compiling, the pool's checkouts),
against 0.65 ms on SQLite's inline reads (bench/ivr_webhooks.py, 2 December 2026). Here each
statement is compiled once (SQLAlchemy still writes it, from ledger/schema.py), asyncpg prepares
it once per connection, and a call is one round trip on a connection of a pool opened at start:
a fixed number, none opened or closed while the line answers.
"""

import functools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url

# The line's own connections, each process. A look-up holds one for one round trip (~0.2 ms);
# at 2,000 look-ups a second that is under one connection busy on average: four absorb the
# bursts of 64 callers at once (measured: bench/ivr_webhooks.py, docs/benchmarks.md).
LINE_CONNECTIONS = 4


class Compiled(NamedTuple):
    """A statement as asyncpg takes it: its SQL with $1, $2…, and where each value comes from."""

    sql: str
    names: tuple[str, ...]  # the bound parameters' names, in order
    fixed: Mapping[str, object]  # the values SQLAlchemy bound itself (LIMIT, constants)

    def values(self, given: Mapping[str, object]) -> list:
        return [given[name] if name in given else self.fixed[name] for name in self.names]


def compiled(statement) -> Compiled:
    result = statement.compile(dialect=asyncpg_dialect())
    return Compiled(str(result), tuple(result.positiontup or ()), dict(result.params))


def _arrays(table: Table, columns: Sequence[str]) -> str:
    dialect = asyncpg_dialect()
    return ", ".join(f"${n}::{table.c[name].type.compile(dialect=dialect)}[]"
                     for n, name in enumerate(columns, start=1))


@functools.cache
def unnest_insert(table: Table, columns: tuple[str, ...]) -> str:
    """INSERT … SELECT FROM unnest($1::type[], …): a column's values as one array each, so that
    any number of rows is one statement and one round trip."""
    # In the arrays' order, so that ids are given in the rows' order, as executemany gives them.
    names = ", ".join(f'"{name}"' for name in columns)
    return (f"INSERT INTO {table.name} ({names}) "
            f"SELECT {names} FROM unnest({_arrays(table, columns)}) WITH ORDINALITY "
            f"AS v({names}, row_number) ORDER BY row_number")


@functools.cache
def unnest_update(table: Table, key: tuple[str, ...], columns: tuple[str, ...]) -> str:
    """UPDATE … FROM unnest(…) of rows (value of each column…, value of each key column…), as
    db.update_sql's rows: any number of rows in one statement (the keys must be distinct)."""
    names = (*columns, *key)
    quoted = ", ".join(f'"{name}"' for name in names)
    return (f"UPDATE {table.name} SET "
            + ", ".join(f'"{name}" = v."{name}"' for name in columns)
            + f" FROM unnest({_arrays(table, names)}) AS v({quoted}) WHERE "
            + " AND ".join(f'{table.name}."{name}" = v."{name}"' for name in key))


def as_arrays(rows: Sequence[Sequence]) -> tuple[list, ...]:
    """Rows as one list of values per column: unnest_insert's and unnest_update's arguments."""
    return tuple(map(list, zip(*rows)))


def dsn(database_url: str) -> str:
    """'postgresql+asyncpg://…' or 'postgres://…' → what asyncpg connects to."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


async def _unchanged(_connection: asyncpg.Connection) -> None:
    """Nothing to reset when a connection comes back: these statements change no session state
    (asyncpg's default resets with a round trip of its own, each time)."""


class PostgresPool:
    """A fixed pool of asyncpg connections, opened at start and kept."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    @classmethod
    async def open(cls, database_url: str, size: int = LINE_CONNECTIONS) -> "PostgresPool":
        pool = await asyncpg.create_pool(dsn(database_url), min_size=size, max_size=size,
                                         max_inactive_connection_lifetime=0, reset=_unchanged)
        return cls(pool)

    async def fetch(self, statement: Compiled, **values) -> list[asyncpg.Record]:
        async with self._pool.acquire() as conn:
            return await conn.fetch(statement.sql, *statement.values(values))

    async def fetch_one(self, sql: str, *values) -> asyncpg.Record | None:
        async with self._pool.acquire() as conn:
            return await conn.fetchrow(sql, *values)

    async def insert(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """The rows (values in the columns' order), in one statement: one round trip, one
        transaction, whatever their number."""
        async with self._pool.acquire() as conn:
            await conn.execute(unnest_insert(table, tuple(columns)), *zip(*rows))

    async def close(self) -> None:
        await self._pool.close()
