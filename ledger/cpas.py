"""What a CPAS may see and do, under its mandate only (seed 002). Reached as `ledger.cpas`.

An account of another CPAS is answered exactly as an unknown one (UnknownAccount), and the
attempt is written to the audit trail as `foreign`.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select

from . import schema
from .clock import BRUSSELS, from_text
from .db import fetch_rows, reading
from .ean import short_or_full
from .errors import InvalidInput, UnknownAccount
from .outbox import MessageRecord
from .view import BalanceView

HISTORY_DAYS = 60
POSTINGS_SHOWN = 50


@dataclass(frozen=True)
class DebtLine:
    kind: str  # start_credit | payment_plan
    principal_cents: int
    outstanding_cents: int
    daily_cents: int


@dataclass(frozen=True)
class Day:
    """One day in Brussels: what was consumed, and the balance at its end."""

    day: date
    consumption_cents: int | None  # None: no consumption posted for that day
    balance_cents: int


@dataclass(frozen=True)
class PostingLine:
    at: datetime
    kind: str
    amount_cents: int  # + into the balance, − out of it
    day: date | None
    reference: str  # the ledger's idempotency key

    @property
    def receipt(self) -> str | None:
        """A top-up's own reference (receipt, transaction), as the payer gave it."""
        if self.kind != "topup":
            return None
        return self.reference.split(":", 2)[2]  # topup:CHANNEL[@ISSUER]:REFERENCE


@dataclass(frozen=True)
class ResidentFile:
    name: str | None
    view: BalanceView
    debts: list[DebtLine]
    history: list[Day]  # oldest first, from the activation day, HISTORY_DAYS at most
    postings: list[PostingLine]  # newest first
    messages: list[MessageRecord]  # newest first


class CpasDesk:
    def __init__(self, ledger) -> None:
        self._ledger = ledger

    async def _mandated_account(self, cpas: str, ean_text: str, actor: str, action: str
                                ) -> tuple[int, str, str | None]:
        """The account's id, EAN and name, if this CPAS has it under mandate."""
        try:
            ean = short_or_full(ean_text)
        except InvalidInput:
            await self._ledger.audit(actor=actor, action=action, ean=None, outcome="invalid",
                                     detail=cpas)
            raise UnknownAccount(ean_text) from None
        a = schema.accounts
        column = a.c.ean13 if len(ean) == 13 else a.c.ean
        async with reading(self._ledger.engine) as conn:
            row = (await conn.execute(select(a.c.id, a.c.ean, a.c.name, a.c.cpas)
                                      .where(column == ean))).first()
        if row is None or row.cpas != cpas:
            await self._ledger.audit(actor=actor, action=action, ean=row.ean if row else ean,
                                     outcome="foreign" if row else "unknown", detail=cpas)
            raise UnknownAccount(ean_text)
        return row.id, row.ean, row.name

    async def resident(self, cpas: str, ean_text: str, *, actor: str) -> ResidentFile:
        """Everything a social worker needs about one resident; the look is audited."""
        account_id, ean, name = await self._mandated_account(cpas, ean_text, actor,
                                                             "cpas-resident")
        view = await self._ledger.balance_view(ean, actor=actor, purpose="cpas-resident",
                                               detail=cpas)
        d, p, t = schema.debts, schema.postings, schema.consumption_days
        book = f"balance:{account_id}"
        async with reading(self._ledger.engine) as conn:
            activated_on = (await conn.execute(select(schema.accounts.c.activated_on).where(
                schema.accounts.c.id == account_id))).scalar_one()
            consumed = {date.fromisoformat(day): amount for day, amount in await fetch_rows(
                conn, select(t.c.day, t.c.amount_cents).where(t.c.account_id == account_id))}
            debts = [DebtLine(*row) for row in await fetch_rows(conn, select(
                d.c.kind, d.c.principal_cents, d.c.outstanding_cents, d.c.daily_cents)
                .where(d.c.account_id == account_id).order_by(d.c.id))]
            moves = await fetch_rows(conn, select(
                p.c.at, p.c.kind, p.c.from_book, p.c.to_book, p.c.amount_cents, p.c.day,
                p.c.reference).where(p.c.account_id == account_id,
                                     or_(p.c.to_book == book, p.c.from_book == book))
                .order_by(p.c.at, p.c.id))
        postings = [PostingLine(from_text(at), kind, amount if to_book == book else -amount,
                                date.fromisoformat(day) if day else None, reference)
                    for at, kind, from_book, to_book, amount, day, reference in moves]
        messages = await self._ledger.outbox.messages_for(ean)
        history = _history(postings, consumed, self._ledger.clock.now(),
                           activated_on=date.fromisoformat(activated_on))
        return ResidentFile(name, view, debts, history, postings[::-1][:POSTINGS_SHOWN],
                            messages)

    async def top_up(self, cpas: str, ean_text: str, amount_cents: int, reference: str, *,
                     actor: str):
        """A top-up paid at the CPAS office, for a resident under its mandate."""
        _, ean, _ = await self._mandated_account(cpas, ean_text, actor, "cpas-topup")
        # Receipt numbers are the office's own: two CPAS may both have a receipt 0001.
        return await self._ledger.top_up(ean, amount_cents, "cpas", reference, actor=actor,
                                         issuer=cpas)


def _history(postings: list[PostingLine], consumed: dict[date, int], now: datetime, *,
             activated_on: date) -> list[Day]:
    """The last HISTORY_DAYS days, from the activation at the earliest (before it there was no
    prepayment to show): each day's posted consumption, and the balance at its end (all
    postings made by then, whatever day they concern)."""
    today = now.astimezone(BRUSSELS).date()
    first = max(today - timedelta(days=HISTORY_DAYS - 1), activated_on)
    days, balance, index = [], 0, 0
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=BRUSSELS)
        while index < len(postings) and postings[index].at < end:
            balance += postings[index].amount_cents
            index += 1
        days.append(Day(day, consumed.get(day), balance))
    return days
