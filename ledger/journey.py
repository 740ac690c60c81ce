"""The installation journey (seed 003): the technician's appointment and its reminders, then
the satisfaction survey twenty days after the meter is installed.

An appointments file gives each EAN's window; a later file with the same EAN replaces it or
cancels it (AppointmentChanged: a reminder of the earlier window not yet sent never will be).
The reminders are emitted when due, by the worker's tick: 48 hours before the window (unless it
was booked too late for that to make sense) and 15 minutes before. They go to the mobile on file
of the meter's account when there is one, else to the file's. The survey is asked of every
account activated twenty days ago (up to three days late, when the worker was down), once.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select

from . import schema
from .accounts import NetworkPrefix, Writes
from .clock import from_text, to_text
from .domain import DEFAULT_LANGUAGE
from .ean import SHORT_LENGTH, with_prefix
from .errors import InvalidInput
from .events import AppointmentChanged, InstallationImminent, InstallationReminder, SurveyAsked
from .inputs import AppointmentInput, ImportReport, RowError
from .store import Store

REMINDER_BEFORE = timedelta(hours=48)
IMMINENT_BEFORE = timedelta(minutes=15)
# Booked later than this before the window: no "two days before" reminder, the 15-minute one
# will come.
TOO_LATE_TO_REMIND = timedelta(hours=6)
# The 15-minute reminder is not sent once the window has been open this long (a worker down).
IMMINENT_AT_MOST_LATE = timedelta(minutes=15)
SURVEY_AFTER = timedelta(days=20)
SURVEY_AT_MOST_LATE = timedelta(days=3)


class Journey:
    """Reached as `ledger.journey`."""

    def __init__(self, store: Store, prefix: NetworkPrefix) -> None:
        self._store = store
        self._prefix = prefix

    async def import_appointments(self, rows: Iterable[AppointmentInput]) -> ImportReport:
        """One transaction: each row books, moves or cancels its EAN's appointment."""
        report = ImportReport()
        prefix = await self._prefix.get()
        p = schema.appointments
        now = self._store.clock.now()
        async with self._store.writing() as conn:
            writes = Writes()
            for row in rows:
                try:
                    ean = _full(row.ean, prefix)
                except InvalidInput as error:
                    report.errors.append(RowError(row.line, error.field, error.message))
                    continue
                current = (await conn.execute(select(p).where(p.c.ean == ean))).first()
                if row.cancelled:
                    if current is None or current.cancelled:
                        report.unchanged += 1
                        continue
                    await conn.execute(p.update().where(p.c.ean == ean).values(
                        cancelled=True, imported_at=to_text(now)))
                    writes.emit(None, [AppointmentChanged(
                        ean=ean, language=current.language, at=now, cancelled=True)])
                    report.updated += 1
                    continue
                values = dict(starts_at=to_text(row.starts_at), ends_at=to_text(row.ends_at),
                              mobile=row.mobile, language=row.language or DEFAULT_LANGUAGE,
                              cancelled=False, imported_at=to_text(now))
                if current is None:
                    await conn.execute(p.insert().values(ean=ean, **values))
                    report.new += 1
                    continue
                if not current.cancelled and all(
                        getattr(current, name) == value for name, value in values.items()
                        if name != "imported_at"):
                    report.unchanged += 1
                    continue
                await conn.execute(p.update().where(p.c.ean == ean).values(
                    **values, reminded_at=None, imminent_at=None))
                writes.emit(None, [AppointmentChanged(ean=ean, language=values["language"],
                                                      at=now)])
                report.updated += 1
            await writes.flush(conn)
        return report

    async def remind(self) -> int:
        """Emits what is due now: the reminders of the appointments, the surveys. Returns how
        many messages that makes."""
        now = self._store.clock.now()
        p, a, v = schema.appointments, schema.accounts, schema.surveys
        async with self._store.writing() as conn:
            writes = Writes()
            due = (await conn.execute(
                select(p, a.c.mobile.label("on_file"), a.c.language.label("account_language"))
                .select_from(p.outerjoin(a, a.c.ean == p.c.ean))
                .where(p.c.cancelled.is_(False), p.c.starts_at <= to_text(now + REMINDER_BEFORE),
                       p.c.starts_at > to_text(now - IMMINENT_AT_MOST_LATE),
                       (p.c.reminded_at.is_(None)) | (p.c.imminent_at.is_(None))))).all()
            for row in due:
                starts_at, ends_at = from_text(row.starts_at), from_text(row.ends_at)
                to = row.on_file or row.mobile
                language = row.account_language or row.language
                marks = {}
                if row.reminded_at is None:
                    marks["reminded_at"] = to_text(now)
                    if to and starts_at - now >= TOO_LATE_TO_REMIND:
                        writes.emit(None, [InstallationReminder(
                            ean=row.ean, to=to, language=language, at=now, starts_at=starts_at,
                            ends_at=ends_at)])
                if row.imminent_at is None and starts_at - IMMINENT_BEFORE <= now:
                    marks["imminent_at"] = to_text(now)
                    if to:
                        writes.emit(None, [InstallationImminent(
                            ean=row.ean, to=to, language=language, at=now, starts_at=starts_at,
                            ends_at=ends_at)])
                if marks:
                    await conn.execute(p.update().where(p.c.ean == row.ean).values(**marks))
            reminders = len(writes.events)
            asked = (await conn.execute(
                select(a.c.id, a.c.ean, a.c.energy, a.c.language, a.c.balance_cents)
                .where(a.c.activated_at <= to_text(now - SURVEY_AFTER),
                       a.c.activated_at > to_text(now - SURVEY_AFTER - SURVEY_AT_MOST_LATE),
                       a.c.mobile.is_not(None),
                       ~exists().where(and_(v.c.account_id == a.c.id))))).all()
            for account in asked:
                await conn.execute(v.insert().values(account_id=account.id, asked_at=to_text(now)))
                writes.emit(account.id, [SurveyAsked(
                    ean=account.ean, energy=account.energy, language=account.language, at=now,
                    balance_cents=account.balance_cents)])
            await writes.flush(conn)
            return reminders + len(asked)

    async def survey_answers(self) -> list[tuple[str, str, int | None, datetime | None]]:
        """(the code's last 4 digits, when asked, score, when answered), by when asked."""
        v, a = schema.surveys, schema.accounts
        async with self._store.reading() as conn:
            rows = (await conn.execute(select(a.c.ean, v.c.asked_at, v.c.score, v.c.answered_at)
                                       .select_from(v.join(a, a.c.id == v.c.account_id))
                                       .order_by(v.c.asked_at, a.c.ean))).all()
        return [(row.ean[-4:], from_text(row.asked_at), row.score,
                 from_text(row.answered_at) if row.answered_at else None) for row in rows]


def _full(ean: str, prefix: str | None) -> str:
    if len(ean) != SHORT_LENGTH:
        return ean
    if prefix is None:
        raise InvalidInput("ean", "13 digits need the network's prefix (EAN_PREFIX) or the "
                           "18 digits", "ean.prefix_unknown")
    return with_prefix(prefix, ean)
