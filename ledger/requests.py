"""What a customer asks for by phone: the balance line's information sent by SMS (menu 4).

One write transaction: the account is read, its mobile on file looked at, and the request
recorded as an event, which the outbox turns into one SMS to that mobile — never to the number
that called, unless it is that one. A webhook Twilio sends again (same call) records nothing more.
"""

import json

from sqlalchemy import select

from . import schema
from .accounts import Writes, must_load, view_of
from .calendar import NonDisconnectionPeriod
from .events import BalanceRequested
from .store import Store

QUEUED, ALREADY, NO_MOBILE = "queued", "already", "no_mobile"


async def meters_of_mobile(store: Store, mobile: str) -> list[tuple[str, str]]:
    """(EAN, energy) of every account whose mobile on file is `mobile` (E.164), by EAN."""
    a = schema.accounts
    async with store.reading() as conn:
        rows = await conn.execute(select(a.c.ean, a.c.energy).where(a.c.mobile == mobile)
                                  .order_by(a.c.ean))
        return [(row.ean, row.energy) for row in rows]


async def request_balance_sms(store: Store, ndp: NonDisconnectionPeriod, ean_text: str, *,
                              language: str, request: str) -> str:
    """QUEUED, ALREADY (this call asked already) or NO_MOBILE (nothing on file to send to);
    UnknownAccount if no account has this EAN."""
    a, e = schema.accounts, schema.events
    now = store.clock.now()
    async with store.writing() as conn:
        account = await must_load(conn, ean_text)
        mobile = (await conn.execute(select(a.c.mobile).where(a.c.id == account.id))).scalar()
        if not mobile:
            return NO_MOBILE
        # Written under the writers' order, so two deliveries of one webhook cannot both pass.
        earlier = await conn.execute(select(e.c.id).where(
            e.c.account_id == account.id, e.c.name == BalanceRequested.__name__,
            e.c.payload.contains(f'"request": {json.dumps(request)}', autoescape=True)))
        if earlier.first() is not None:
            return ALREADY
        view = view_of(account, [], now=now, ndp=ndp)
        writes = Writes()
        writes.emit(account.id, [BalanceRequested(
            ean=account.ean, energy=account.energy, language=language, at=now,
            balance_cents=view.balance_cents, state=view.state.value, as_of=view.as_of,
            minimum_topup_cents=view.minimum_topup_cents or 0,
            disconnect_at=view.disconnect_at, power_limiter=view.power_limiter,
            request=request)])
        await writes.flush(conn)
    return QUEUED
