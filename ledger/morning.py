"""The CPAS's morning list: each working day (not at weekends, not on public holidays) at an
hour of the configuration, every CPAS with an e-mail address on file is sent the residents who
need a call today — going without (ledger/hardship.py), cut off or limited, a cut announced, in
emergency credit — counts first, the most urgent first. Nothing on a day with nobody to list,
unless the CPAS asked for the list every day. Once a day, whatever the number of workers.
"""

from datetime import datetime, time

from sqlalchemy import select

from . import schema
from .accounts import Writes
from .calendar import NonDisconnectionPeriod
from .clock import BRUSSELS, to_text
from .cpas import resident_views
from .domain import ATTENTION_ORDER, DailyList
from .ean import masked
from .events import CpasDailyList
from .hardship import refresh
from .store import Store

LISTED_STATES = ("disconnected", "power_limited", "disconnection_pending", "emergency")
# accounts.care_order: 0 going without, then 1 + the rank in ATTENTION_ORDER.
LAST_LISTED_CARE = ATTENTION_ORDER.index("emergency") + 1
MOST_IN_ONE_EMAIL = 100
VIEWS_AT_ONCE = 1000  # accounts read per statement: PostgreSQL takes 32767 parameters
SENT_ON = "morning_list_day"  # meta: the day the lists went
DEFAULT_HOUR = time(8, 0)


def is_working_day(moment: datetime, ndp: NonDisconnectionPeriod) -> bool:
    day = moment.astimezone(BRUSSELS).date()
    return day.weekday() < 5 and not ndp.is_public_holiday(day)


async def send_morning_lists(store: Store, ndp: NonDisconnectionPeriod, *,
                             hour: time = DEFAULT_HOUR) -> int:
    """The lists due now, as events (one per CPAS); returns how many."""
    now = store.clock.now()
    local = now.astimezone(BRUSSELS)
    if not is_working_day(now, ndp) or local.time() < hour:
        return 0
    day = local.date().isoformat()
    m, c = schema.meta, schema.cpas_contacts
    async with store.reading() as conn:
        if (await conn.execute(select(m.c.value).where(m.c.key == SENT_ON))).scalar() == day:
            return 0
    await refresh(store)
    # Read outside the write transaction: a long list must not hold the line's writes back.
    lists: list[tuple[CpasDailyList, list[str]]] = []  # each list and its residents' EANs
    async with store.reading() as conn:
        for contact in (await conn.execute(select(c).where(c.c.email.is_not(None))
                                           .order_by(c.c.cpas))).all():
            listed = await _listed(conn, contact.cpas, now, ndp)
            if not listed and contact.daily_list != DailyList.ALWAYS:
                continue
            counts = {"going_without": sum(r.going_without for r in listed)}
            counts.update({state: sum(r.view.state.value == state for r in listed)
                           for state in LISTED_STATES})
            shown = listed[:MOST_IN_ONE_EMAIL]
            lists.append((CpasDailyList(
                to=contact.email, language=contact.language, at=now, cpas=contact.cpas, day=day,
                counts=counts, residents=[_entry(r) for r in shown],
                more=len(listed) - len(shown)), [r.view.ean for r in shown]))
    async with store.writing() as conn:
        sent_on = (await conn.execute(select(m.c.value).where(m.c.key == SENT_ON))).first()
        if sent_on and sent_on[0] == day:
            return 0  # another worker was first
        if sent_on:
            await conn.execute(m.update().where(m.c.key == SENT_ON).values(value=day))
        else:
            await conn.execute(m.insert().values(key=SENT_ON, value=day))
        writes = Writes()
        writes.emit(None, [event for event, _ in lists])
        await writes.flush(conn)
    # Each resident in a list is data of theirs given to their CPAS: one record each.
    at = to_text(now)
    await store.trail.record_many([(at, "worker:morning-list", "cpas-morning-list", ean,
                                    "listed", event.cpas) for event, eans in lists for ean in eans])
    return len(lists)


async def _listed(conn, cpas: str, now: datetime, ndp: NonDisconnectionPeriod) -> list:
    """The CPAS's residents to call today, in the residents list's order (ledger/cpas.py) — but
    a cut announced may have become a cut by now: the others ordered as their view says."""
    a = schema.accounts
    ids = [id_ for (id_,) in await conn.execute(
        select(a.c.id).where(a.c.cpas == cpas, a.c.care_order <= LAST_LISTED_CARE)
        .order_by(a.c.care_order, a.c.balance_cents, a.c.name_order, a.c.id))]
    residents = []
    for start in range(0, len(ids), VIEWS_AT_ONCE):
        views, _ = await resident_views(conn, ids[start:start + VIEWS_AT_ONCE], now=now, ndp=ndp)
        residents += [r for r in views
                      if r.going_without or r.view.state.value in LISTED_STATES]
    residents.sort(key=lambda r: -1 if r.going_without
                   else ATTENTION_ORDER.index(r.view.state.value))
    return residents


def _entry(resident) -> dict:
    view = resident.view
    return {"name": resident.name or "", "meter_ref": masked(view.ean), "ean13": view.ean13,
            "energy": view.energy, "state": view.state.value,
            "balance_cents": view.balance_cents, "days_left": view.estimated_days_left,
            "going_without": resident.going_without}
