"""The ledger's service functions: the only way in for the other packages.

`Ledger` is their front: it opens the store (ledger/store.py) and gives it to the operations,
split by what they do — the accounts import (ledger/account_import.py), the consumption import
(ledger/consumption.py), top-ups and payment plans (ledger/topups.py), the outbox and the CPAS
desk — and keeps here what is left: time passing (the tick), the reads and the counts.

Every command runs in one write transaction: its postings, the cached balances, the debts and the
events of the lines it crossed commit together or not at all. Inputs are replayable: each posting
carries an idempotency key (`reference`), so posting the same input twice posts it once.
"""

import asyncio
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from . import schema, tally
from .account_import import AccountImport
from .accounts import (
    ACCOUNT_COLUMNS,
    NetworkPrefix,
    Writes,
    account_from_row,
    account_reader,
    view_of,
)
from .audit import AuditTrail
from .books import balance_book
from .calendar import NonDisconnectionPeriod
from .clock import Clock, to_text
from .consumption import ConsumptionImport
from .cpas import CpasDesk, Listing, ResidentsPage, read_residents
from .ean import short_or_full
from .errors import InvalidInput, UnknownAccount
from .events import Event, event_from_row
from .inputs import AccountInput, ConsumptionInput, ImportReport, Lookup, TopUpResult
from .hardship import refresh as refresh_going_without
from .journey import Journey
from .limits import ADJUSTMENT_MAX_CENTS, DAY_CONSUMPTION_MAX_CENTS
from .morning import DEFAULT_HOUR as DEFAULT_MORNING_HOUR
from .morning import send_morning_lists
from .outbox import Outbox
from .requests import (
    alert_preferences,
    meters_of_mobile,
    request_balance_sms,
    set_alerts,
)
from .replies import Replies
from .rules import Supply, end_pending
from .store import Store
from .topups import TopUps
from .view import BalanceView


class Ledger:
    """The prepayment ledger over one database."""

    def __init__(self, store: Store, *, ndp: NonDisconnectionPeriod | None = None,
                 ean_prefix: str | None = None,
                 day_consumption_max_cents: int = DAY_CONSUMPTION_MAX_CENTS,
                 adjustment_max_cents: int = ADJUSTMENT_MAX_CENTS):
        """`store`: the database as every part of the ledger uses it (ledger/store.py)."""
        self.store = store
        self.day_consumption_max_cents = day_consumption_max_cents
        self.adjustment_max_cents = adjustment_max_cents
        self.ndp = ndp or NonDisconnectionPeriod()
        self._prefix = NetworkPrefix(store, ean_prefix)
        # The operations, by what they do; each gets the store and the rules it needs.
        self._account_import = AccountImport(store, self._prefix, adjustment_max_cents)
        self._consumption = ConsumptionImport(store, self.ndp, day_consumption_max_cents)
        self._topups = TopUps(store, self.ndp, adjustment_max_cents)
        self._reader = account_reader(store)  # the balance line's look-up
        self.outbox = Outbox(store)
        self.cpas = CpasDesk(store, self)
        self.replies = Replies(store, self.ndp)
        self.journey = Journey(store, self._prefix)

    # What the other packages and the tests read of the store.
    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @property
    def clock(self) -> Clock:
        return self.store.clock

    @property
    def trail(self) -> AuditTrail:
        return self.store.trail

    @classmethod
    async def open(cls, database_url: str, *, clock: Clock | None = None,
                   background: bool = False, **options) -> "Ledger":
        """`background`: a process nobody waits on (an import, the worker): on SQLite its
        writers let every other process's go first (ledger/turnstile.py)."""
        store = await Store.open(database_url, clock=clock, background=background)
        ledger = cls(store, **options)
        try:
            # The holiday calendar loads on first use (~100 ms): here, not in a request.
            await asyncio.to_thread(ledger.ndp.load_holidays, ledger.clock.now())
        except BaseException:
            await store.close()
            raise
        return ledger

    async def close(self) -> None:
        await self.store.close()

    async def upgrade(self) -> int:
        return await self.store.upgrade()

    # ---- the operations ---------------------------------------------------------------------

    async def ean_prefix(self) -> str | None:
        """The network's 5-digit prefix: configured, or the one the accounts share."""
        return await self._prefix.get()

    async def import_accounts(self, rows: Iterable[AccountInput]) -> ImportReport:
        """Create the accounts (activating their prepayment) or update their details."""
        return await self._account_import.run(rows)

    async def post_consumption(self, rows: Iterable[ConsumptionInput]) -> ImportReport:
        """Charge each day's consumption and that day's debt repayments (ledger/consumption.py)."""
        return await self._consumption.run(rows)

    async def top_up(self, ean_text: str, amount_cents: int, channel: str, reference: str,
                     reason: str | None = None, *, actor: str = "system",
                     issuer: str | None = None) -> TopUpResult:
        """Record a payment or an agent's adjustment (ledger/topups.py); audited, refused too."""
        return await self._topups.top_up(ean_text, amount_cents, channel, reference, reason,
                                         actor=actor, issuer=issuer)

    async def add_payment_plan(self, ean_text: str, amount_cents: int, daily_cents: int,
                               reference: str) -> bool:
        """An earlier debt repaid `daily_cents` a posted day; False on replay."""
        return await self._topups.add_payment_plan(ean_text, amount_cents, daily_cents,
                                                   reference)

    # ---- time passing -----------------------------------------------------------------------

    async def tick(self) -> int:
        """Cut off the meters whose non-disconnection period has ended. Returns how many."""
        now = self.clock.now()
        async with self.store.writing() as conn:
            rows = await conn.execute(select(*ACCOUNT_COLUMNS).where(
                schema.accounts.c.supply == Supply.PENDING.value))
            writes = Writes()
            for row in rows:
                account = account_from_row(row)
                meter, events = end_pending(account.meter, now, self.ndp)
                if events:
                    account.apply(meter)
                    writes.accounts[account.id] = account
                    writes.emit(account.id, events)
            await writes.flush(conn)
            return len(writes.accounts)

    async def send_morning_lists(self, hour: time = DEFAULT_MORNING_HOUR) -> int:
        """The CPAS's morning lists due now, as events (ledger/morning.py)."""
        return await send_morning_lists(self.store, self.ndp, hour=hour)

    async def refresh_going_without(self) -> int:
        """The households going without, flagged as they are now (ledger/hardship.py)."""
        return await refresh_going_without(self.store)

    # ---- reading ----------------------------------------------------------------------------

    async def balance_view(self, ean_text: str, *, actor: str, purpose: str = "balance",
                           detail: str | None = None) -> BalanceView:
        """The balance view of one account. Every call, found or not, is written to the audit trail."""
        try:
            ean = short_or_full(ean_text)
        except InvalidInput:
            await self.audit(actor=actor, action=purpose, ean=None, outcome="invalid", detail=detail)
            raise
        account, outflows = await self._reader.account_and_outflows(ean)
        await self.audit(actor=actor, action=purpose, ean=account.ean if account else ean,
                         outcome="found" if account else "unknown", detail=detail)
        if account is None:
            raise UnknownAccount(ean_text)
        return view_of(account, outflows, now=self.clock.now(), ndp=self.ndp)

    async def residents(self, cpas: str, *, actor: str, sort: str = "attention",
                        query: str = "", offset: int = 0, limit: int = 50) -> ResidentsPage:
        """One page of the accounts a CPAS has under mandate, each with its balance view, in
        the order asked (who needs help first by default); the search, the order and the
        counts by state are the database's (ledger.cpas), so a request reads `limit` accounts
        whatever the CPAS's size. The look is audited: one record per resident shown."""
        listing = Listing(cpas, sort=sort, query=query, offset=offset, limit=limit,
                          now=self.clock.now(), ndp=self.ndp)
        page, eans = await self.store.reading_aside(lambda conn: read_residents(conn, listing))
        # Each resident shown is a view of that resident's data: one record each, in one write.
        at = to_text(self.clock.now())
        await self.trail.record_many([(at, actor, "cpas-residents", ean, "listed", cpas)
                                      for ean in eans])
        return page

    async def meters_of_caller(self, mobile: str, *, actor: str, detail: str
                               ) -> list[tuple[str, str]]:
        """(EAN, energy) of the meters whose mobile on file is `mobile` (E.164): the balance
        line's known caller. Audited, found or not (the EANs are not written: none is shown)."""
        meters = await meters_of_mobile(self.store, mobile)
        await self.audit(actor=actor, action="meters-of-caller", ean=None,
                         outcome=f"{len(meters)} found", detail=detail)
        return meters

    async def alert_preferences(self, ean_text: str, *, actor: str, detail: str
                                ) -> tuple[int, str, bool]:
        """The low-credit threshold, the channels and whether an e-mail is on file. Audited."""
        preferences = await alert_preferences(self.store, ean_text)
        await self.audit(actor=actor, action="alerts-read", ean=ean_text, outcome="read",
                         detail=detail)
        return preferences

    async def set_alerts(self, ean_text: str, *, actor: str, language: str, request: str,
                         threshold_cents: int | None = None, notify: str | None = None) -> str:
        """The low-credit alert as the customer chose it on the line (ledger/requests.py),
        confirmed by SMS to the mobile on file: "changed", "already" or "unchanged". Audited,
        with what was chosen."""
        outcome = await set_alerts(self.store, ean_text, threshold_cents=threshold_cents,
                                   notify=notify, language=language, request=request)
        await self.audit(actor=actor, action="alerts-set", ean=ean_text, outcome=outcome,
                         detail=f"{request} threshold={threshold_cents} notify={notify}")
        return outcome

    async def request_balance_sms(self, ean_text: str, *, actor: str, language: str,
                                  request: str) -> str:
        """The balance line's information by SMS to the mobile on file (ledger/requests.py):
        "queued", "already" (this request was made) or "no_mobile". Audited."""
        outcome = "error"
        try:
            outcome = await request_balance_sms(self.store, self.ndp, ean_text,
                                                language=language, request=request)
        except UnknownAccount:
            outcome = "unknown"
            raise
        finally:
            await self.audit(actor=actor, action="balance-sms", ean=ean_text, outcome=outcome,
                             detail=request)
        return outcome

    async def audit(self, *, actor: str, action: str, ean: str | None, outcome: str,
                    detail: str | None = None) -> None:
        """Returns once the record is committed (grouped with the others that came meanwhile)."""
        await self.store.audit(actor=actor, action=action, ean=ean, outcome=outcome,
                               detail=detail)

    async def lookups_by(self, actor: str, action: str, since: datetime) -> list[Lookup]:
        """What one actor looked up since a moment, oldest first, as the audit trail has it. The
        balance line's limits and its "repeat" read this: every server of the line writes the
        trail before it answers, so every server sees the same calls."""
        return [Lookup(*row) for row in await self.trail.recent_by(actor, action, since)]

    async def lookups_by_each(self, *wanted: tuple[str, str, datetime]) -> list[list[Lookup]]:
        """`lookups_by` of each (actor, action, since), in one read of the trail: a caller's
        limits and the line's ceiling are checked together, with one statement."""
        return [[Lookup(*row) for row in rows]
                for rows in await self.trail.recent_by_each(wanted)]

    async def audit_trail(self, limit: int = 100) -> list[dict]:
        return await self.trail.latest(limit)

    async def events_after(self, after_id: int = 0, limit: int = 1000) -> list[tuple[int, Event]]:
        e = schema.events
        async with self.store.reading() as conn:
            rows = await conn.execute(select(e.c.id, e.c.name, e.c.payload)
                                      .where(e.c.id > after_id).order_by(e.c.id).limit(limit))
            return [(r.id, event_from_row(r.name, r.payload)) for r in rows]

    async def trial_balance(self) -> dict[str, int]:
        """Every book's total (money in minus money out). They sum to zero."""
        p = schema.postings
        async with self.store.reading() as conn:
            totals: Counter[str] = Counter()
            for r in await conn.execute(select(p.c.to_book, func.sum(p.c.amount_cents))
                                        .group_by(p.c.to_book)):
                totals[r[0]] += int(r[1])
            for r in await conn.execute(select(p.c.from_book, func.sum(p.c.amount_cents))
                                        .group_by(p.c.from_book)):
                totals[r[0]] -= int(r[1])
        return dict(totals)

    async def cached_balances(self) -> dict[str, int]:
        """Each book as the accounts and debts tables cache it, to compare with trial_balance()."""
        a, d = schema.accounts, schema.debts
        async with self.store.reading() as conn:
            cached = {balance_book(r.id): r.balance_cents
                      for r in await conn.execute(select(a.c.id, a.c.balance_cents))}
            cached.update({r.book: -r.outstanding_cents
                           for r in await conn.execute(select(d.c.book, d.c.outstanding_cents))})
        return cached

    async def ready(self) -> tuple[bool, str]:
        """Whether the database answers and its schema is this code's: (ready, why not)."""
        try:
            async with self.store.reading() as conn:
                version = await conn.run_sync(schema.current_version)
        except Exception as error:  # any driver's failure means the same: not ready
            return False, f"database unreachable ({type(error).__name__})"
        if version != schema.SCHEMA_VERSION:
            return False, f"schema {version}, this code needs {schema.SCHEMA_VERSION}"
        return True, "ok"

    async def count_accounts(self) -> int:
        """Kept as accounts are added (ledger/tally.py), not counted."""
        return await tally.count(self.store, "accounts")

    async def count_consumption_days(self) -> int:
        """Posted consumption days, every account's (a day corrected is still one day); kept as
        they are posted (ledger/tally.py), not counted."""
        return await tally.count(self.store, "consumption_days")

    async def fold_counts(self) -> None:
        """The kept counts' rows of changes folded (the outbox's and the accounts' and days'), so
        that reading them stays a few rows: the worker's tick does it."""
        await self.outbox.fold_tally()
        await tally.fold(self.store)

    async def get_meta(self, key: str) -> str | None:
        m = schema.meta
        async with self.store.reading() as conn:
            return (await conn.execute(select(m.c.value).where(m.c.key == key))).scalar()

    async def set_meta(self, key: str, value: str) -> None:
        m = schema.meta
        async with self.store.writing() as conn:
            await conn.execute(m.delete().where(m.c.key == key))
            await conn.execute(m.insert().values(key=key, value=value))
