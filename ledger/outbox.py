"""The durable outbox: events become messages in the transaction that consumes them, and every
message's life — claimed, sent, retried, given up, delivery reports — is written here.

The ledger does not know how messages are worded or sent: who gets what is a `plan` function the
caller hands in (messaging/routing.py), and the senders report outcomes. A message is claimed
(state `sending`) in its own transaction before it is sent, so a crash leaves it `sending`; after
a lease it is claimed again and marked `uncertain`, for the sender to check before sending twice.
"""

import functools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .clock import from_text, to_text
from .contacts import normalise_email, normalise_mobile
from .db import fetch_rows, insert_many, update_many
from .domain import DAILY_LIST_CHOICES, LANGUAGES, Audience, DailyList, known
from .ean import short_or_full
from .errors import InvalidInput, UnknownAccount
from .events import Event, event_from_row
from .limits import check_text
from .store import Store

# How long a claim holds before another worker may take the message over (marked uncertain).
DEFAULT_LEASE = timedelta(minutes=2)
REPORTED_STATES = ("sent", "delivered", "failed", "undeliverable")
# superseded: a later event made it stale before it was sent; it never will be.
# withheld: an SMS to a number that answered STOP after it was queued; never sent.
MESSAGE_STATES = ("queued", "sending", *REPORTED_STATES, "superseded", "withheld")
FINAL_STATES = frozenset({"delivered", "failed", "undeliverable", "superseded", "withheld"})
# Reports move a message forward only: a late "sent" never undoes "delivered".
_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "undeliverable": 3,
         "superseded": 3, "withheld": 3}




@dataclass(frozen=True)
class CpasContact:
    cpas: str
    mobile: str | None
    email: str | None
    language: str
    daily_list: str = DailyList.NEEDED


@dataclass(frozen=True)
class Contacts:
    """What a plan needs to know of an account to address its messages."""

    notify: str  # sms | email | sms+email | none
    mobile: str | None
    email: str | None
    language: str
    cpas: CpasContact | None  # the account's CPAS, when it registered where to be told
    sms_stopped: bool = False  # the mobile answered STOP (ledger/replies.py)


@dataclass(frozen=True)
class NewMessage:
    audience: str
    channel: str
    address: str
    language: str
    not_before: datetime


# Contacts None: an event of no account, which names its own address.
Plan = Callable[[Event, Contacts | None], Iterable[NewMessage]]
# Whether a message still queued about an earlier event (named so) is stale once this later
# event of the same account has happened.
Overtaken = Callable[[Event, str], bool]


def _nothing_overtaken(later: Event, earlier_name: str) -> bool:
    return False


def _subject(account_id: int | None, event: Event) -> object:
    """What a later event may make a queued message stale about: its account, or, for an event
    of no account, the EAN it is about (an installation's appointment); None: nothing."""
    if account_id is not None:
        return account_id
    ean = getattr(event, "ean", None)
    return ("ean", ean) if ean else None


@dataclass(frozen=True)
class OutboxMessage:
    """A claimed message, ready to send."""

    id: int
    event: Event
    audience: str
    channel: str
    address: str
    language: str
    attempts: int  # including this one
    uncertain: bool  # claimed before and never recorded: it may have gone out already
    claimed_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Sent:
    message_id: int
    provider_id: str


@dataclass(frozen=True)
class Retry:
    message_id: int
    error: str
    not_before: datetime


@dataclass(frozen=True)
class GaveUp:
    message_id: int
    error: str
    undeliverable: bool  # permanent (a bad address) rather than retries exhausted


@dataclass(frozen=True)
class Postponed:
    """Claimed but not tried: it may not go out before `not_before` (quiet hours, say)."""

    message_id: int
    not_before: datetime


@dataclass(frozen=True)
class Withheld:
    """Not sent, and never will be: the number answered STOP after the message was queued."""

    message_id: int


Outcome = Sent | Retry | GaveUp | Postponed | Withheld


@dataclass(frozen=True)
class MessageRecord:
    """A message as the portal lists it."""

    id: int
    event_name: str
    event_at: datetime
    audience: str
    channel: str
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    reported_at: datetime | None
    error: str | None
    superseded_by_event: str | None = None  # the name of the event that made it stale


def after_report(current: str, reported: str) -> str | None:
    """The state a delivery report leads to, or None when it changes nothing."""
    if current in FINAL_STATES or _RANK[reported] <= _RANK[current]:
        return None
    return reported


_MESSAGE_COLUMNS = ("event_id", "account_id", "audience", "channel", "address", "language", "state",
                    "attempts", "not_before", "created_at", "fallback_for", "superseded_by")


class Outbox:
    """Reached as `ledger.outbox`; shares the ledger's database, clock and write lock."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _now(self) -> datetime:
        return self._store.clock.now()

    # ---- events → messages --------------------------------------------------------------------

    async def queue(self, plan: Plan, limit: int = 1000,
                    overtaken: Overtaken = _nothing_overtaken) -> tuple[int, int]:
        """Turns the events not yet consumed (up to `limit`) into messages, in one transaction;
        returns how many events were consumed and how many messages queued. A message still
        queued (from this pass or an earlier one) that a later event of its account makes stale
        is `superseded` by it, and never sent."""
        e, a, c, m = schema.events, schema.accounts, schema.cpas_contacts, schema.meta
        stops = schema.sms_stops
        async with self._store.writing() as conn:
            cursor = int((await conn.execute(
                select(m.c.value).where(m.c.key == schema.OUTBOX_CURSOR))).scalar() or 0)
            rows = await fetch_rows(conn, select(
                e.c.id, e.c.account_id, e.c.name, e.c.payload, a.c.notify, a.c.mobile, a.c.email,
                a.c.language, c.c.cpas, c.c.mobile, c.c.email, c.c.language, stops.c.mobile)
                .select_from(e.outerjoin(a, a.c.id == e.c.account_id)
                             .outerjoin(c, c.c.cpas == a.c.cpas)
                             .outerjoin(stops, stops.c.mobile == a.c.mobile))
                .where(e.c.id > cursor).order_by(e.c.id).limit(limit))
            if not rows:
                return 0, 0
            now = to_text(self._now())
            o = schema.outbox
            events = [(row, event_from_row(row[2], row[3])) for row in rows]
            # Per subject (an account, or the EAN of an event of none), what is still queued:
            # [message id or None (new), event name, row].
            waiting: dict[object, list[list]] = {}
            accounts = sorted({row[1] for row in rows if row[1] is not None})
            for id_, account_id, event_name in await fetch_rows(conn, select(
                    o.c.id, o.c.account_id, e.c.name).select_from(o.join(e, e.c.id == o.c.event_id))
                    .where(o.c.state == "queued", o.c.account_id.in_(accounts))):
                waiting.setdefault(account_id, []).append([id_, event_name, None])
            if any(_subject(row[1], event) is not None for row, event in events
                   if row[1] is None):
                for id_, event_name, payload in await fetch_rows(conn, select(
                        o.c.id, e.c.name, e.c.payload).select_from(o.join(e, e.c.id == o.c.event_id))
                        .where(o.c.state == "queued", o.c.account_id.is_(None))):
                    subject = _subject(None, event_from_row(event_name, payload))
                    if subject is not None:
                        waiting.setdefault(subject, []).append([id_, event_name, None])
            messages: list[list] = []
            superseded: list[tuple] = []
            for row, event in events:
                (event_id, account_id, name, _, notify, mobile, email, language,
                 cpas, cpas_mobile, cpas_email, cpas_language, stopped) = row
                subject = _subject(account_id, event)
                still = []
                for item in waiting.get(subject, []) if subject is not None else []:
                    if not overtaken(event, item[1]):
                        still.append(item)
                    elif item[0] is not None:
                        superseded.append(("superseded", event_id, item[0]))
                    else:
                        item[2][6], item[2][11] = "superseded", event_id
                contacts = None if account_id is None else Contacts(
                    notify, mobile, email, language,
                    CpasContact(cpas, cpas_mobile, cpas_email, cpas_language) if cpas else None,
                    sms_stopped=stopped is not None)
                chosen = {}
                for new in plan(event, contacts):
                    chosen[(new.audience, new.channel)] = new  # at most one per pair
                for new in chosen.values():
                    message = [event_id, account_id, new.audience, new.channel, new.address,
                               new.language, "queued", 0, to_text(new.not_before), now, None,
                               None]
                    messages.append(message)
                    still.append([None, name, message])
                if subject is not None:
                    waiting[subject] = still
            await update_many(conn, o, "id", ("state", "superseded_by"), superseded)
            await insert_many(conn, schema.outbox, _MESSAGE_COLUMNS, [tuple(m) for m in messages])
            await conn.execute(update(m).where(m.c.key == schema.OUTBOX_CURSOR)
                               .values(value=str(rows[-1][0])))
            return len(rows), len(messages)

    # ---- sending ------------------------------------------------------------------------------

    async def claim_due(self, limit: int = 100, lease: timedelta = DEFAULT_LEASE
                        ) -> list[OutboxMessage]:
        """Due messages, marked `sending`. One left `sending` longer than `lease` (its sender
        died) is claimed again, as uncertain."""
        o, e = schema.outbox, schema.events
        now = self._now()
        # The first `limit` of each kind, by the due index, then the first `limit` of both: one
        # condition with OR read every due message and sorted them (10 ms a claim with 20,000).
        queued, stale = (select(o.c.id).where(o.c.state == state, when).order_by(
            o.c.not_before, o.c.id).limit(limit).subquery() for state, when in (
                ("queued", o.c.not_before <= to_text(now)),
                ("sending", o.c.claimed_at <= to_text(now - lease))))
        due = union_all(select(queued.c.id), select(stale.c.id)).subquery()
        async with self._store.writing() as conn:
            rows = await fetch_rows(conn, select(
                o.c.id, o.c.state, o.c.audience, o.c.channel, o.c.address, o.c.language,
                o.c.attempts, o.c.created_at, e.c.name, e.c.payload)
                .select_from(due.join(o, o.c.id == due.c.id).join(e, e.c.id == o.c.event_id))
                .order_by(o.c.not_before, o.c.id).limit(limit))
            if not rows:
                return []
            await conn.execute(update(o).where(o.c.id.in_([r[0] for r in rows]))
                               .values(state="sending", attempts=o.c.attempts + 1,
                                       claimed_at=to_text(now)))
        return [OutboxMessage(id_, event_from_row(name, payload), audience, channel, address,
                              language, attempts + 1, state == "sending", now, from_text(created))
                for (id_, state, audience, channel, address, language, attempts, created, name,
                     payload) in rows]

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """What the senders did, in one transaction. Only a message still `sending` changes:
        a late or repeated outcome cannot undo a newer one."""
        if not outcomes:
            return
        o, r = schema.outbox, schema.delivery_reports
        now = to_text(self._now())
        if self._store.raw_writes and all(isinstance(x, Sent) for x in outcomes):
            # The common batch, on SQLite: on the raw driver, in one hand-over (a third of the
            # worker's time went to recording through SQLAlchemy: bench/notify.py).
            reported = await self._store.writing_raw(functools.partial(
                _record_sent, sent=outcomes, now=now))
            if reported:  # delivery reports that came before the send was recorded
                async with self._store.writing() as conn:
                    for provider_id, message_id, status, at in reported:
                        await self._apply_report(conn, message_id, status, at)
            return
        async with self._store.writing() as conn:
            still_sending = {id_ for (id_,) in await fetch_rows(conn, select(o.c.id).where(
                o.c.id.in_(sorted({x.message_id for x in outcomes})), o.c.state == "sending"))}
            current = [x for x in outcomes if x.message_id in still_sending]
            sent = [x for x in current if isinstance(x, Sent)]
            await update_many(conn, o, "id", ("state", "provider_id", "sent_at", "error"),
                              [("sent", x.provider_id, now, None, x.message_id) for x in sent])
            await update_many(conn, o, "id", ("state", "error", "not_before"),
                              [("queued", x.error, to_text(x.not_before), x.message_id)
                               for x in current if isinstance(x, Retry)])
            for postponed in (x for x in current if isinstance(x, Postponed)):
                # Not an attempt: the claim's count is given back.
                await conn.execute(update(o).where(o.c.id == postponed.message_id).values(
                    state="queued", attempts=o.c.attempts - 1,
                    not_before=to_text(postponed.not_before)))
            await update_many(conn, o, "id", ("state",),
                              [("withheld", x.message_id) for x in current
                               if isinstance(x, Withheld)])
            for gave_up in (x for x in current if isinstance(x, GaveUp)):
                await conn.execute(update(o).where(o.c.id == gave_up.message_id).values(
                    state="undeliverable" if gave_up.undeliverable else "failed",
                    error=gave_up.error))
                await self._fall_back(conn, gave_up.message_id)
            if sent:  # delivery reports that came before the send was recorded
                by_provider_id = {x.provider_id: x.message_id for x in sent}
                for provider_id, status, at in await fetch_rows(conn, select(
                        r.c.provider_id, r.c.status, r.c.at).where(
                        r.c.provider_id.in_(sorted(by_provider_id))).order_by(r.c.id)):
                    await self._apply_report(conn, by_provider_id[provider_id], status, at)

    async def report(self, provider_id: str, status: str) -> bool:
        """A delivery report (`sent`, `delivered`, `failed`, `undeliverable`), in any order, any
        number of times. Returns whether it matched a message already recorded as sent."""
        if status not in REPORTED_STATES:
            raise InvalidInput("status", f"{status!r} is not one of {', '.join(REPORTED_STATES)}",
                               "status.unknown", value=status)
        o = schema.outbox
        now = to_text(self._now())
        async with self._store.writing() as conn:
            await insert_many(conn, schema.delivery_reports, ("provider_id", "status", "at"),
                              [(provider_id, status, now)])
            found = (await conn.execute(select(o.c.id).where(o.c.provider_id == provider_id))
                     ).first()
            if found:
                await self._apply_report(conn, found[0], status, now)
            return found is not None

    async def _apply_report(self, conn: AsyncConnection, message_id: int, status: str,
                            at: str) -> None:
        o = schema.outbox
        current = (await conn.execute(select(o.c.state).where(o.c.id == message_id))).scalar_one()
        new = after_report(current, status)
        if new is None:
            return
        await conn.execute(update(o).where(o.c.id == message_id).values(state=new, reported_at=at))
        if new in ("failed", "undeliverable"):
            await self._fall_back(conn, message_id)

    async def _fall_back(self, conn: AsyncConnection, message_id: int) -> None:
        """A customer's message that cannot be delivered goes by the other channel, when the
        customer has one and was not already sent this event there."""
        o, a = schema.outbox, schema.accounts
        row = (await conn.execute(
            select(o.c.event_id, o.c.account_id, o.c.audience, o.c.channel, o.c.language,
                   a.c.mobile, a.c.email)
            .select_from(o.outerjoin(a, a.c.id == o.c.account_id))
            .where(o.c.id == message_id))).one()
        if row.audience != Audience.CUSTOMER:
            return
        other, address = ("email", row.email) if row.channel == "sms" else ("sms", row.mobile)
        if not address:
            return
        exists = (await conn.execute(select(o.c.id).where(
            o.c.event_id == row.event_id, o.c.audience == Audience.CUSTOMER, o.c.channel == other))).first()
        if exists:
            return
        now = to_text(self._now())
        await insert_many(conn, o, _MESSAGE_COLUMNS, [
            (row.event_id, row.account_id, Audience.CUSTOMER, other, address, row.language, "queued", 0,
             now, now, message_id, None)])

    # ---- reading ------------------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        """How many messages are in each state."""
        o = schema.outbox
        async with self._store.reading() as conn:
            return {state: count for state, count in await fetch_rows(
                conn, select(o.c.state, func.count()).group_by(o.c.state))}

    async def counts_by_channel(self) -> dict[tuple[str, str], int]:
        """How many messages are in each state, by channel: {(state, channel): n}, from the
        counts kept as the outbox changes (migration 11): a few rows, however many messages."""
        t = schema.outbox_tally
        async with self._store.reading() as conn:
            return {(state, channel): int(count) for state, channel, count in await fetch_rows(
                conn, select(t.c.state, t.c.channel, func.sum(t.c.n))
                .group_by(t.c.state, t.c.channel).having(func.sum(t.c.n) != 0))}

    async def fold_tally(self) -> int:
        """The outbox's rows of changes summed into one row per state and channel; returns how
        many rows went. Each row counted once: on PostgreSQL, writers that do not take the
        writers' lock may add rows meanwhile, so the rows summed are those deleted."""
        t = schema.outbox_tally
        folded_already = select(func.count() <= func.count(func.distinct(
            t.c.state + " " + t.c.channel)))
        async with self._store.reading() as conn:  # each tick: no write lock taken for nothing
            if (await conn.execute(folded_already)).scalar_one():
                return 0
        async with self._store.writing() as conn:
            if conn.dialect.name == "postgresql":
                folded = await conn.execute(text(
                    "WITH gone AS (DELETE FROM outbox_tally RETURNING state, channel, n), "
                    "summed AS (INSERT INTO outbox_tally (state, channel, n) "
                    "SELECT state, channel, sum(n) FROM gone GROUP BY state, channel "
                    "HAVING sum(n) <> 0) SELECT count(*) FROM gone"))
                return folded.scalar_one()
            # SQLite: one writer at a time, so no row comes between the sums and the delete.
            sums = (await conn.execute(select(t.c.state, t.c.channel, func.sum(t.c.n))
                                       .group_by(t.c.state, t.c.channel)
                                       .having(func.sum(t.c.n) != 0))).all()
            gone = (await conn.execute(t.delete())).rowcount
            if sums:
                await conn.execute(t.insert(), [{"state": state, "channel": channel, "n": n}
                                                for state, channel, n in sums])
            return gone

    async def messages_for(self, ean_text: str, limit: int = 50) -> list[MessageRecord]:
        """The messages about one account, newest first (for the CPAS pages)."""
        o, e, a = schema.outbox, schema.events, schema.accounts
        ean = short_or_full(ean_text)
        column = a.c.ean13 if len(ean) == 13 else a.c.ean
        async with self._store.reading() as conn:
            account = (await conn.execute(select(a.c.id).where(column == ean))).first()
            if account is None:
                raise UnknownAccount(ean_text)
            later = e.alias("later")
            rows = await fetch_rows(conn, select(
                o.c.id, e.c.name, e.c.at, o.c.audience, o.c.channel, o.c.state, o.c.attempts,
                o.c.created_at, o.c.sent_at, o.c.reported_at, o.c.error, later.c.name)
                .select_from(o.join(e, e.c.id == o.c.event_id)
                             .outerjoin(later, later.c.id == o.c.superseded_by))
                .where(o.c.account_id == account[0]).order_by(o.c.id.desc()).limit(limit))
        return [MessageRecord(id_, name, from_text(at), audience, channel, state, attempts,
                              from_text(created), from_text(sent) if sent else None,
                              from_text(reported) if reported else None, error, overtaken_by)
                for (id_, name, at, audience, channel, state, attempts, created, sent, reported,
                     error, overtaken_by) in rows]

    # ---- CPAS contacts ------------------------------------------------------------------------

    async def register_cpas_contact(self, cpas: str, *, mobile: str | None, email: str | None,
                                    language: str, daily_list: str = DailyList.NEEDED
                                    ) -> CpasContact:
        """Where a CPAS is told of its residents' serious events, and whether it wants its
        morning list every working day or only when someone is on it; neither address
        removes it."""
        if not cpas.strip():
            raise InvalidInput("cpas", "a CPAS code is needed", "cpas.missing")
        check_text("cpas", cpas.strip())
        check_text("mobile", mobile)
        check_text("email", email)
        known("language", language, LANGUAGES)
        known("daily_list", daily_list, DAILY_LIST_CHOICES)
        contact = CpasContact(cpas.strip(), normalise_mobile(mobile) if mobile else None,
                              normalise_email(email) if email else None, language, daily_list)
        c = schema.cpas_contacts
        async with self._store.writing() as conn:
            await conn.execute(c.delete().where(c.c.cpas == contact.cpas))
            if contact.mobile or contact.email:
                await conn.execute(c.insert().values(
                    cpas=contact.cpas, mobile=contact.mobile, email=contact.email,
                    language=contact.language, daily_list=contact.daily_list))
        return contact


def _record_sent(conn: sqlite3.Connection, *, sent: Sequence[Sent], now: str
                 ) -> list[tuple[str, int, str, str]]:
    """Outbox.record's sends on SQLite's raw driver; returns the delivery reports already there
    for them, in their order: (provider id, message id, status, at)."""
    ids = sorted({x.message_id for x in sent})
    marks = ", ".join("?" * len(ids))
    still_sending = {id_ for (id_,) in conn.execute(
        f"SELECT id FROM outbox WHERE state = 'sending' AND id IN ({marks})", ids)}
    current = [x for x in sent if x.message_id in still_sending]
    conn.executemany("UPDATE outbox SET state = 'sent', provider_id = ?, sent_at = ?, error = NULL "
                     "WHERE id = ?", [(x.provider_id, now, x.message_id) for x in current])
    by_provider_id = {x.provider_id: x.message_id for x in current}
    if not by_provider_id:
        return []
    marks = ", ".join("?" * len(by_provider_id))
    return [(provider_id, by_provider_id[provider_id], status, at) for provider_id, status, at
            in conn.execute(f"SELECT provider_id, status, at FROM delivery_reports "
                            f"WHERE provider_id IN ({marks}) ORDER BY id", sorted(by_provider_id))]
