"""What a customer asks for by phone: the balance line's information sent by SMS (menu 4), and
the low-credit alert changed (menu 5) by a caller on the number on file.

One write transaction: the account is read, its mobile on file looked at, and the request
recorded as an event, which the outbox turns into one SMS to that mobile — never to the number
that called, unless it is that one. A webhook Twilio sends again (same call) records nothing more.
"""

import json
from datetime import datetime

from sqlalchemy import select

from . import schema
from .accounts import Account, Writes, must_load, view_of
from .calendar import NonDisconnectionPeriod
from .domain import Notify
from .errors import InvalidInput
from .events import AlertsChanged, BalanceRequested
from .store import Store

QUEUED, ALREADY, NO_MOBILE = "queued", "already", "no_mobile"
CHANGED, UNCHANGED = "changed", "unchanged"


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
        writes = Writes()
        writes.emit(account.id, [balance_requested(account, now=now, ndp=ndp, language=language,
                                                   request=request)])
        await writes.flush(conn)
    return QUEUED


def balance_requested(account: Account, *, now: datetime, ndp: NonDisconnectionPeriod,
                      language: str, request: str) -> BalanceRequested:
    """What the balance line would say of this account now, as the event of its SMS."""
    view = view_of(account, [], now=now, ndp=ndp)
    return BalanceRequested(
        ean=account.ean, energy=account.energy, language=language, at=now,
        balance_cents=view.balance_cents, state=view.state.value, as_of=view.as_of,
        minimum_topup_cents=view.minimum_topup_cents or 0, disconnect_at=view.disconnect_at,
        power_limiter=view.power_limiter, request=request)


# What a caller may choose on the line for the low-credit alert.
ALERT_THRESHOLDS_CENTS = (500, 1000, 1500, 2000)
ALERT_CHANNELS = (Notify.SMS, Notify.EMAIL, Notify.SMS_AND_EMAIL)


async def alert_preferences(store: Store, ean_text: str) -> tuple[int, str, bool]:
    """The account's low-credit threshold, its channels, and whether an e-mail is on file."""
    a = schema.accounts
    async with store.reading() as conn:
        account = await must_load(conn, ean_text)
        row = (await conn.execute(select(a.c.threshold_cents, a.c.notify, a.c.email)
                                  .where(a.c.id == account.id))).one()
    return row.threshold_cents, row.notify, bool(row.email)


async def set_alerts(store: Store, ean_text: str, *, threshold_cents: int | None,
                     notify: str | None, language: str, request: str) -> str:
    """The threshold and/or the channels changed, and an event that confirms it by SMS to the
    mobile on file, in one write transaction: CHANGED; ALREADY when this request set them so
    before, UNCHANGED when they were so. Refused (InvalidInput) outside the choices, or e-mail
    without an address on file."""
    if threshold_cents is not None and threshold_cents not in ALERT_THRESHOLDS_CENTS:
        raise InvalidInput("threshold", "one of the line's choices", "value.refused")
    if notify is not None and notify not in ALERT_CHANNELS:
        raise InvalidInput("notify", "one of the line's choices", "value.refused")
    a, e = schema.accounts, schema.events
    now = store.clock.now()
    async with store.writing() as conn:
        account = await must_load(conn, ean_text)
        row = (await conn.execute(select(a.c.threshold_cents, a.c.notify, a.c.email)
                                  .where(a.c.id == account.id))).one()
        if notify in (Notify.EMAIL, Notify.SMS_AND_EMAIL) and not row.email:
            raise InvalidInput("notify", "no e-mail address on file", "notify.needs_email",
                               value=notify)
        threshold = threshold_cents if threshold_cents is not None else row.threshold_cents
        channels = notify if notify is not None else row.notify
        if (threshold, channels) == (row.threshold_cents, row.notify):
            # Already so: set by this call's webhook delivered before (Twilio sends it again),
            # or chosen as it was. Nothing written, nothing sent.
            earlier = await conn.execute(select(e.c.payload).where(
                e.c.account_id == account.id, e.c.name == AlertsChanged.__name__,
                e.c.payload.contains(f'"request": {json.dumps(request)}', autoescape=True)))
            return ALREADY if earlier.first() is not None else UNCHANGED
        await conn.execute(a.update().where(a.c.id == account.id).values(
            threshold_cents=threshold, notify=channels))
        writes = Writes()
        writes.emit(account.id, [AlertsChanged(
            ean=account.ean, energy=account.energy, language=language, at=now,
            balance_cents=account.balance_cents, threshold_cents=threshold, notify=channels,
            request=request)])
        await writes.flush(conn)
    return CHANGED
