"""The households going without: a meter cut off (or limited) twice or more in 30 days, or in
emergency credit for 7 days or more — what UK regulation calls self-disconnection, the sign that
a household goes without energy rather than ask for help. The flag (accounts.going_without) puts
them first in their CPAS's residents list and morning list; the worker refreshes it every hour,
and before the morning lists.
"""

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from . import schema
from .clock import to_text
from .db import fetch_rows
from .store import Store

CUT_EVENTS = ("Disconnected", "PowerLimited")
CUTS_WINDOW = timedelta(days=30)
CUTS_AT_LEAST = 2
EMERGENCY_AT_LEAST = timedelta(days=7)
IDS_PER_STATEMENT = 1000


async def going_without(store: Store, now: datetime) -> set[int]:
    """The accounts that go without now, read outside any write transaction."""
    e, a = schema.events, schema.accounts
    async with store.reading() as conn:
        cut = {id_ for (id_,) in await fetch_rows(conn, select(e.c.account_id).where(
            e.c.name.in_(CUT_EVENTS), e.c.at > to_text(now - CUTS_WINDOW),
            e.c.account_id.is_not(None)).group_by(e.c.account_id)
            .having(func.count() >= CUTS_AT_LEAST))}
        # In emergency credit now (supplied, below zero) since its latest start.
        started = (select(func.max(e.c.at)).where(e.c.account_id == a.c.id,
                                                  e.c.name == "EmergencyCreditStarted")
                   .correlate(a).scalar_subquery())
        long_emergency = {id_ for (id_,) in await fetch_rows(conn, select(a.c.id).where(
            a.c.supply == "on", a.c.balance_cents < 0,
            started <= to_text(now - EMERGENCY_AT_LEAST)))}
    return cut | long_emergency


async def refresh(store: Store) -> int:
    """Sets the flag as it is now; returns how many accounts changed."""
    now = store.clock.now()
    flagged = await going_without(store, now)
    a = schema.accounts
    async with store.writing() as conn:
        current = {id_ for (id_,) in await fetch_rows(conn, select(a.c.id).where(
            a.c.going_without.is_(True)))}
        on, off = sorted(flagged - current), sorted(current - flagged)
        for ids, flag in ((on, True), (off, False)):
            # In slices: PostgreSQL takes at most 32767 parameters in one statement.
            for start in range(0, len(ids), IDS_PER_STATEMENT):
                await conn.execute(update(a).where(a.c.id.in_(ids[start:start + IDS_PER_STATEMENT]))
                                   .values(going_without=flag))
    return len(on) + len(off)
