"""Answers to the SMS customers send (messaging/inbound.py reads their words): the balance, no
more SMS (STOP) and SMS again (START), the survey's score, help.

One write transaction per incoming SMS: it is recorded under its SID, so a webhook Twilio
delivers again answers nothing more; the numbers that write too often are answered no more for
the hour; and the answer is an event, which the outbox turns into one SMS. Data goes only to the
mobile on file of a meter, never to a number that is on file of none: that one gets the help
message, which names nobody.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from . import schema
from .accounts import Account, Writes, must_load
from .calendar import NonDisconnectionPeriod
from .clock import to_text
from .domain import DEFAULT_LANGUAGE, SmsRequest
from .events import Event, HelpSent, SmsRestarted, SmsStopped, SurveyAnswered
from .requests import balance_requested
from .store import Store

REPLY_WINDOW = timedelta(hours=1)
SCORES = range(1, 6)


@dataclass(frozen=True)
class IncomingSms:
    sid: str  # Twilio's MessageSid
    sender: str  # the number's keyed hash: what the limit counts and the audit trail names
    mobile: str | None  # the number in E.164; None when it is none (a short code, a name)
    request: SmsRequest
    words: str  # the keyword as written, for the record of a STOP ("STOP", "ARRET")
    digits: str | None = None  # the last 13 digits of a meter's code, when given
    score: int | None = None
    language: str | None = None  # the keyword's, when only one language has it


# What became of an incoming SMS (the sms_received table's outcome, and the audit's).
ALREADY = "already"  # delivered before: answered then
LIMITED = "limited"  # over the limit for its number: not answered
ANSWERED = "answered"
HELPED = "helped"  # the help message (an unknown number, a word it does not act on)
IGNORED = "ignored"  # nothing to answer (a second survey score)


class Replies:
    """Reached as `ledger.replies`."""

    def __init__(self, store: Store, ndp: NonDisconnectionPeriod) -> None:
        self._store = store
        self._ndp = ndp

    async def answer(self, sms: IncomingSms, *, per_hour: int) -> str:
        """Records the SMS and the events that answer it; returns what became of it. Audited:
        one record per meter whose data it reads or changes."""
        return await _answer_sms(self._store, self._ndp, sms, per_hour=per_hour)

    async def stopped(self, mobiles: list[str]) -> set[str]:
        """Which of these numbers asked for no more SMS."""
        s = schema.sms_stops
        async with self._store.reading() as conn:
            return {mobile for (mobile,) in await conn.execute(
                select(s.c.mobile).where(s.c.mobile.in_(sorted(set(mobiles)))))}


async def _answer_sms(store: Store, ndp: NonDisconnectionPeriod, sms: IncomingSms, *,
                      per_hour: int) -> str:
    now = store.clock.now()
    r, a = schema.sms_received, schema.accounts
    async with store.writing() as conn:
        if (await conn.execute(select(r.c.sid).where(r.c.sid == sms.sid))).first():
            return ALREADY
        recent = (await conn.execute(select(func.count()).select_from(r).where(
            r.c.sender == sms.sender, r.c.at > to_text(now - REPLY_WINDOW)))).scalar_one()
        accounts = []
        if sms.mobile:
            for (ean,) in await conn.execute(select(a.c.ean).where(a.c.mobile == sms.mobile)
                                             .order_by(a.c.ean)):
                accounts.append(await must_load(conn, ean))
        if recent >= per_hour:
            outcome, answers = LIMITED, []
        elif not accounts:
            outcome, answers = HELPED, _help(sms, None, now)
        else:
            outcome, answers = await _answer(conn, sms, accounts, now, ndp)
        writes = Writes()
        for account_id, event in answers:
            writes.emit(account_id, [event])
        await writes.flush(conn)
        await conn.execute(r.insert().values(sid=sms.sid, sender=sms.sender, at=to_text(now),
                                             outcome=outcome))
    for account in accounts if outcome == ANSWERED else []:
        await store.audit(actor=sms.sender, action=f"sms-{sms.request}", ean=account.ean,
                          outcome=outcome)
    if outcome != ANSWERED:
        await store.audit(actor=sms.sender, action=f"sms-{sms.request}", ean=None,
                          outcome=outcome)
    return outcome


def _help(sms: IncomingSms, account: Account | None, now: datetime) -> list[tuple[int | None, Event]]:
    if not sms.mobile:
        return []  # nowhere to answer
    language = sms.language or (account.language if account else DEFAULT_LANGUAGE)
    return [(None, HelpSent(to=sms.mobile, language=language, at=now, request=sms.sid))]


async def _answer(conn, sms: IncomingSms, accounts: list[Account], now: datetime,
                  ndp: NonDisconnectionPeriod) -> tuple[str, list[tuple[int | None, Event]]]:
    first = accounts[0]

    def language(account: Account) -> str:
        return sms.language or account.language

    def common(account: Account) -> dict:
        return dict(ean=account.ean, energy=account.energy, language=language(account), at=now,
                    balance_cents=account.balance_cents)

    if sms.request is SmsRequest.BALANCE:
        chosen = [account for account in accounts
                  if sms.digits is None or account.ean.endswith(sms.digits)]
        if not chosen:  # digits of no meter of this number: nothing said of any meter
            return HELPED, _help(sms, first, now)
        return ANSWERED, [(account.id, balance_requested(
            account, now=now, ndp=ndp, language=language(account), request=f"sms:{sms.sid}"))
            for account in chosen]
    if sms.request is SmsRequest.STOP:
        await _stop(conn, sms.mobile, now, sms.words)
        return ANSWERED, [(first.id, SmsStopped(**common(first), request=sms.sid))]
    if sms.request is SmsRequest.START:
        s = schema.sms_stops
        await conn.execute(s.delete().where(s.c.mobile == sms.mobile))
        return ANSWERED, [(first.id, SmsRestarted(**common(first), request=sms.sid))]
    if sms.request is SmsRequest.SCORE and sms.score in SCORES:
        return await _score(conn, sms, accounts, now, common)
    return HELPED, _help(sms, first, now)


async def _stop(conn, mobile: str | None, now: datetime, words: str) -> None:
    s = schema.sms_stops
    if not (await conn.execute(select(s.c.mobile).where(s.c.mobile == mobile))).first():
        await conn.execute(s.insert().values(mobile=mobile, since=to_text(now),
                                             how=f"sms:{words}"[:40]))


async def _score(conn, sms: IncomingSms, accounts: list[Account], now: datetime, common
                 ) -> tuple[str, list[tuple[int | None, Event]]]:
    """The score goes to the survey asked of this number and not yet answered (the latest, if
    several meters were asked); a number asked nothing gets the help message."""
    v = schema.surveys
    by_id = {account.id: account for account in accounts}
    asked = (await conn.execute(select(v.c.account_id, v.c.answered_at)
                                .where(v.c.account_id.in_(sorted(by_id)))
                                .order_by(v.c.asked_at.desc()))).all()
    if not asked:
        return HELPED, _help(sms, accounts[0], now)
    open_ = [row.account_id for row in asked if row.answered_at is None]
    if not open_:
        return IGNORED, []  # answered already: recorded and thanked once
    account = by_id[open_[0]]
    await conn.execute(v.update().where(v.c.account_id == account.id).values(
        score=sms.score, answered_at=to_text(now)))
    return ANSWERED, [(account.id, SurveyAnswered(**common(account), score=sms.score,
                                                  request=sms.sid))]

