"""Top-ups (a payment from any channel, or an agent's adjustment) and payment plans for earlier
debts: one write transaction each, replayable by their reference, every one audited."""

import functools
import sqlite3

from sqlalchemy import select

from . import schema
from .accounts import Account, Writes, must_load, point_read_statements, settle_account
from .books import (
    AGENT_ADJUSTMENTS,
    PRIOR_DEBTS,
    TopUpReference,
    balance_book,
    plan_debt_book,
    plan_reference,
    topup_book,
)
from .calendar import NonDisconnectionPeriod
from .clock import to_text
from .db import insert_many
from .domain import AGENT, TOPUP_CHANNELS, known
from .ean import FULL_LENGTH, SHORT_LENGTH, short_or_full
from .errors import InvalidInput, LedgerError, ReferenceConflict, UnknownAccount
from .inputs import TopUpResult
from .limits import LARGEST_CENTS, check_text
from .rules import TOPUP_MAX_CENTS, TOPUP_MIN_CENTS
from .rules import top_up as rules_top_up
from .store import Store


class TopUps:
    """Payments onto a balance, agents' adjustments, and earlier debts' payment plans."""

    def __init__(self, store: Store, ndp: NonDisconnectionPeriod, adjustment_max_cents: int):
        self._store = store
        self._ndp = ndp
        self._adjustment_max_cents = adjustment_max_cents

    async def top_up(self, ean_text: str, amount_cents: int, channel: str, reference: str,
                     reason: str | None = None, *, actor: str = "system",
                     issuer: str | None = None) -> TopUpResult:
        """Record a payment; `actor` (who recorded it) goes to the audit trail with it, and so
        does a refusal (which field, or which conflict). `issuer`: whose numbering the reference
        follows, when several share a channel (each CPAS office numbers its own receipts)."""
        try:
            return await self._top_up(ean_text, amount_cents, channel, reference, reason,
                                      actor=actor, issuer=issuer)
        except LedgerError as refused:
            try:
                ean = short_or_full(ean_text)
            except InvalidInput:
                ean = None
            outcome = {InvalidInput: f"refused:{getattr(refused, 'field', '')}",
                       UnknownAccount: "unknown",
                       ReferenceConflict: "conflict"}.get(type(refused), "refused")
            detail = (reference or "").replace("\x00", "").strip()[:200] or None
            await self._store.audit(actor=actor, action="topup", ean=ean, outcome=outcome,
                                    detail=detail)
            raise

    async def _top_up(self, ean_text: str, amount_cents: int, channel: str, reference: str,
                      reason: str | None, *, actor: str, issuer: str | None) -> TopUpResult:
        known("channel", channel, TOPUP_CHANNELS)
        reference = (reference or "").strip()
        if not reference:
            raise InvalidInput("reference", "a top-up needs its payment reference",
                               "reference.missing")
        check_text("reference", reference)
        check_text("reason", reason)
        if issuer is not None:
            check_text("issuer", issuer)
        if channel == AGENT:
            if amount_cents == 0:
                raise InvalidInput("amount", "an agent's adjustment cannot be zero",
                                   "amount.zero_adjustment")
            if not (reason or "").strip():
                raise InvalidInput("reason", "an agent's adjustment needs a reason",
                                   "reason.missing")
            most = self._adjustment_max_cents
            if not -most <= amount_cents <= most:
                raise InvalidInput("amount", f"an agent's adjustment lies between "
                                   f"-{most // 100},{most % 100:02d} € and "
                                   f"{most // 100},{most % 100:02d} € (ADJUSTMENT_MAX)",
                                   "amount.out_of_range", low_cents=-most, high_cents=most)
        elif not TOPUP_MIN_CENTS <= amount_cents <= TOPUP_MAX_CENTS:
            raise InvalidInput("amount", "a top-up lies between 5,00 € and 250,00 €",
                               "amount.out_of_range", low_cents=TOPUP_MIN_CENTS,
                               high_cents=TOPUP_MAX_CENTS)
        if reference.isascii() and reference.isdigit() and len(reference) in (SHORT_LENGTH,
                                                                              FULL_LENGTH):
            # Terminals quote the 13 digits to find the meter; as a key it would swallow every
            # later top-up of that meter. Refused whether or not such a meter exists, before
            # looking: the answer must not tell a caller which EANs are there.
            raise InvalidInput("reference", "must identify this payment (a receipt or "
                               "transaction number), not a meter (13 or 18 digits)",
                               "reference.is_the_meter")
        key = str(TopUpReference(channel, reference, issuer))
        if self._store.raw_writes:  # SQLite: the whole transaction in one hand-over to a thread
            ean, result = await self._store.writing_raw(functools.partial(
                self._top_up_sqlite, ean_text, amount_cents, channel, reference, key, reason))
        else:
            async with self._store.writing() as conn:
                account = await must_load(conn, ean_text)
                p = schema.postings
                earlier = (await conn.execute(
                    select(p.c.account_id, p.c.amount_cents, p.c.from_book)
                    .where(p.c.reference == key))).first()
                writes, result = self._top_up_writes(account, earlier, amount_cents, channel,
                                                     reference, key, reason)
                await writes.flush(conn)
                ean = account.ean
        # Committed: its record goes to the trail before anyone is told (ledger/audit.py).
        await self._store.audit(actor=actor, action="topup", ean=ean,
                                outcome="replayed" if result.replayed else "recorded", detail=key)
        return result

    def _top_up_sqlite(self, ean_text: str, amount_cents: int, channel: str, reference: str,
                       key: str, reason: str | None, conn: sqlite3.Connection
                       ) -> tuple[str, TopUpResult]:
        """_top_up's transaction on the raw SQLite driver: the write lock is held ~1 ms, where
        SQLAlchemy's async adapter took some fifty hand-overs between threads and held it 7 ms —
        and a balance-line answer waits for it (bench/line_isolation.py)."""
        statements = point_read_statements()
        account = statements.account(conn, short_or_full(ean_text))
        if account is None:
            raise UnknownAccount(ean_text)
        earlier = statements.posting_by_reference.run(conn, reference=key).fetchone()
        writes, result = self._top_up_writes(account, earlier, amount_cents, channel, reference,
                                             key, reason)
        writes.flush_sqlite(conn)
        return account.ean, result

    def _top_up_writes(self, account: Account, earlier: tuple | None, amount_cents: int,
                       channel: str, reference: str, key: str, reason: str | None
                       ) -> tuple[Writes, TopUpResult]:
        """What a top-up writes, given the account and the posting already under its key (its
        account, amount and source book), if any: nothing but the audit record for a replay."""
        writes = Writes()
        if earlier:
            earlier_account, earlier_amount, earlier_from = earlier
            signed = earlier_amount if earlier_from != balance_book(account.id) else -earlier_amount
            if earlier_account != account.id or signed != amount_cents:
                raise ReferenceConflict(reference)
            return writes, TopUpResult(account.balance_cents, replayed=True)
        now = self._store.clock.now()
        at = to_text(now)
        source = AGENT_ADJUSTMENTS if channel == AGENT else topup_book(channel)
        writes.post(account.id, "topup", source, balance_book(account.id), amount_cents, at, key,
                    detail=reason)
        new_balance = account.balance_cents + amount_cents
        if not -LARGEST_CENTS <= new_balance <= LARGEST_CENTS:
            raise InvalidInput("amount", "the balance would leave what the ledger holds",
                               "amount.out_of_range", low_cents=-LARGEST_CENTS,
                               high_cents=LARGEST_CENTS)
        if amount_cents > 0:  # one event: its confirmation, saying what it left
            account.last_topup_at, account.last_topup_cents = at, amount_cents
            account.last_topup_channel = channel
            account.more_than_balance = True
            meter, events = rules_top_up(account.meter, amount_cents, now, self._ndp,
                                         channel=channel)
            account.apply(meter)
            account.as_of = at
            writes.accounts[account.id] = account
            writes.emit(account.id, events)
        else:
            settle_account(writes, account, new_balance, now, at, self._ndp)
        return writes, TopUpResult(new_balance, replayed=False)

    async def add_payment_plan(self, ean_text: str, amount_cents: int, daily_cents: int,
                               reference: str) -> bool:
        """An earlier debt repaid `daily_cents` a posted day, like the start credit. False on
        replay; ReferenceConflict if the reference was used for another plan."""
        if amount_cents <= 0:
            raise InvalidInput("amount", "a debt must be more than 0,00 €", "debt.not_positive")
        if not 0 < daily_cents <= amount_cents:
            raise InvalidInput("daily", "the daily repayment must lie between 0,01 € and the debt",
                               "daily.out_of_range", low_cents=1, high_cents=amount_cents)
        if not reference.strip():
            raise InvalidInput("reference", "a payment plan needs a reference", "reference.missing")
        check_text("reference", reference.strip())
        if amount_cents > LARGEST_CENTS:
            raise InvalidInput("amount", "lies beyond what the ledger holds", "amount.out_of_range",
                               low_cents=1, high_cents=LARGEST_CENTS)
        async with self._store.writing() as conn:
            account = await must_load(conn, ean_text)
            book = plan_debt_book(account.id, reference.strip())
            d = schema.debts
            earlier = (await conn.execute(select(d.c.principal_cents, d.c.daily_cents)
                                          .where(d.c.book == book))).first()
            if earlier:
                if tuple(earlier) != (amount_cents, daily_cents):
                    raise ReferenceConflict(reference)
                return False
            at = to_text(self._store.clock.now())
            await insert_many(conn, d, ("account_id", "book", "kind", "principal_cents",
                                        "daily_cents", "outstanding_cents", "created_at"),
                              [(account.id, book, "payment_plan", amount_cents, daily_cents,
                                amount_cents, at)])
            writes = Writes()
            writes.post(account.id, "debt", book, PRIOR_DEBTS, amount_cents, at, plan_reference(book))
            await writes.flush(conn)
            return True
