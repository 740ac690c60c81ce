"""The accounts and consumption days, counted as they are added rather than at each scrape
(migration 12): a count is the sum of its name's rows in row_tally. On PostgreSQL each statement
that adds or removes rows adds a row of its change, and `fold` sums them now and then; on SQLite
each name has one row, kept up to date."""

from sqlalchemy import func, select, text

from . import schema
from .store import Store


async def count(store: Store, name: str) -> int:
    """How many rows the table `name` (one of migrations.COUNTED_TABLES) holds."""
    t = schema.row_tally
    async with store.reading() as conn:
        return int((await conn.execute(
            select(func.coalesce(func.sum(t.c.n), 0)).where(t.c.name == name))).scalar_one())


async def fold(store: Store) -> int:
    """PostgreSQL: the rows of changes summed into one row per name; returns how many rows
    went. Writers add rows meanwhile without the writers' lock, so the rows summed are exactly
    those deleted, in one statement."""
    if store.dialect != "postgresql":
        return 0  # one row per name already
    t = schema.row_tally
    folded_already = select(func.count() <= func.count(func.distinct(t.c.name)))
    async with store.reading() as conn:  # each tick: no write transaction for nothing
        if (await conn.execute(folded_already)).scalar_one():
            return 0
    async with store.writing() as conn:
        return (await conn.execute(text(
            "WITH gone AS (DELETE FROM row_tally RETURNING name, n), "
            "summed AS (INSERT INTO row_tally (name, n) "
            "SELECT name, sum(n) FROM gone GROUP BY name) "
            "SELECT count(*) FROM gone"))).scalar_one()
