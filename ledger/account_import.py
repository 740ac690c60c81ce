"""Importing accounts: each new one activated with its starting credit (seed 003), the others'
details updated; replayable, refused rows reported with their line."""

import pickle
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import (
    schema,
    staging,  # its batch sizes read at each import: tests make them small
)
from .accounts import NetworkPrefix, Writes
from .books import (
    BUDGET_METER_TRANSFERS,
    balance_book,
    start_credit_reference,
    start_debt_book,
    transfer_reference,
)
from .clock import BRUSSELS, from_text, to_text
from .db import insert_many, update_many
from .domain import ENERGIES, LANGUAGES, NOTIFY_CHOICES, Notify, known
from .ean import SHORT_LENGTH, short_code, with_prefix
from .errors import InvalidInput
from .events import PrepaymentActivated
from .inputs import AccountInput, ImportReport, RowError, check_account_texts
from .names import name_key
from .rules import (
    DEFAULT_THRESHOLD_CENTS,
    START_CREDIT_CENTS,
    START_CREDIT_DAILY_CENTS,
    TOPUP_MAX_CENTS,
    Supply,
)
from .staging import (
    STAGE_ACCOUNT,
    STAGED_ACCOUNTS,
    STAGED_ACCOUNTS_IN_ORDER,
    batches,
    scratch_database,
    staged_accounts,
)
from .store import Store


class AccountImport:
    """The accounts file: new accounts activated (seed 003), others' details updated."""

    def __init__(self, store: Store, prefix: NetworkPrefix, adjustment_max_cents: int):
        self._store = store
        self._prefix = prefix
        self._adjustment_max_cents = adjustment_max_cents

    async def run(self, rows: Iterable[AccountInput]) -> ImportReport:
        """Create the accounts (activating their prepayment) or update their details.

        The rows are read a batch at a time and wait in a scratch file, so an input of any
        length is never held whole; nothing is written before the last row is read."""
        report = ImportReport()
        prefix: str | None = None
        prefix_read = False
        with scratch_database() as staged:
            staged.execute(STAGED_ACCOUNTS)
            for batch in batches(rows, staging.STAGING_BATCH):
                if not prefix_read and any(len(row.ean) == SHORT_LENGTH for row in batch):
                    prefix, prefix_read = await self._prefix.get(), True
                self._stage_accounts(staged, batch, prefix, report)
            waiting = staged.execute(STAGED_ACCOUNTS_IN_ORDER)
            while chunk := waiting.fetchmany(staging.CHUNK):  # read and written under the lock
                async with self._store.writing() as conn:
                    await self._import_account_chunk(
                        conn, [pickle.loads(row) for (row,) in chunk], report)
        report.errors.sort(key=lambda error: error.line or 0)
        if report.new:
            self._prefix.forget()
        return report

    def _stage_accounts(self, staged: sqlite3.Connection, rows: list[AccountInput],
                        prefix: str | None, report: ImportReport) -> None:
        """Stages each EAN's first row; a later row for it is unchanged or refused."""
        completed: list[AccountInput | RowError] = []
        for row in rows:
            try:
                completed.append(self._complete(row, prefix))
            except InvalidInput as error:
                completed.append(RowError(row.line, error.field, error.message))
        firsts = staged_accounts(staged, sorted({row.ean for row in completed
                                                  if isinstance(row, AccountInput)}))
        new: list[AccountInput] = []
        for row in completed:
            if isinstance(row, RowError):
                report.errors.append(row)
                continue
            first = firsts.get(row.ean)
            if first is None:
                firsts[row.ean] = row
                new.append(row)
            elif first == replace(row, line=first.line):
                report.unchanged += 1
            else:  # refused on every run, so that a replay changes nothing
                report.errors.append(RowError(row.line, "ean",
                                              f"listed twice with other details (line {first.line})"))
        staged.executemany(STAGE_ACCOUNT, [(row.ean, pickle.dumps(row, pickle.HIGHEST_PROTOCOL))
                                            for row in new])

    def _complete(self, row: AccountInput, prefix: str | None) -> AccountInput:
        check_account_texts(row)
        ean = row.ean
        if len(ean) == SHORT_LENGTH:
            if not prefix:
                raise InvalidInput("ean", "give the 18 digits: no network prefix is known yet",
                                   "ean.prefix_unknown")
            ean = with_prefix(prefix, ean)
        known("energy", row.energy, ENERGIES)
        known("language", row.language, LANGUAGES)
        if row.power_limiter and row.energy == "gas":
            raise InvalidInput("power_limiter", "only an electricity meter has a power limiter",
                               "power_limiter.not_electricity")
        notify = row.notify or _derived_notify(row)
        known("notify", notify, NOTIFY_CHOICES)
        if "sms" in notify and not row.mobile:
            raise InvalidInput("notify", f"{notify!r} needs a mobile number", "notify.needs_mobile",
                               value=notify)
        if "email" in notify and not row.email:
            raise InvalidInput("notify", f"{notify!r} needs an e-mail address",
                               "notify.needs_email", value=notify)
        threshold = row.threshold_cents if row.threshold_cents is not None else DEFAULT_THRESHOLD_CENTS
        if not 0 <= threshold <= TOPUP_MAX_CENTS:
            raise InvalidInput("low_credit_threshold", "must lie between 0,00 and 250,00 €",
                               "threshold.out_of_range", low_cents=0, high_cents=TOPUP_MAX_CENTS)
        most = self._adjustment_max_cents
        if row.transferred_cents is not None and not -most <= row.transferred_cents <= most:
            raise InvalidInput("transferred_balance", "lies beyond an agent's adjustment "
                               "(ADJUSTMENT_MAX)", "amount.out_of_range", low_cents=-most,
                               high_cents=most)
        if row.activated_at and row.activated_at > self._store.clock.now():
            raise InvalidInput("activated_at", "lies in the future", "date.in_the_future")
        # Left empty, the threshold and the channels are settled against what is on file
        # (_with_preferences): a customer may have changed them on the balance line.
        return replace(row, ean=ean, line=row.line)

    async def _import_account_chunk(self, conn: AsyncConnection, rows: list[AccountInput],
                                    report: ImportReport) -> None:
        t = schema.accounts
        existing = {r.ean: r for r in await conn.execute(
            select(t).where(t.c.ean13.in_([short_code(row.ean) for row in rows])))}
        taken_13 = {short_code(ean): ean for ean in existing}
        now = self._store.clock.now()
        new: dict[str, AccountInput] = {}
        profile_updates: list[tuple] = []
        for row in rows:
            old = existing.get(row.ean)
            row = _with_preferences(row, old)
            profile = (row.language, row.name, row.mobile, row.email, row.notify,
                       row.threshold_cents, row.power_limiter, row.cpas)
            if old is None and (taken_13.get(short_code(row.ean), row.ean) != row.ean):
                report.errors.append(RowError(row.line, "ean", "another EAN ends with the same 13 digits"))
            elif old is None:
                new[row.ean] = row
                taken_13[short_code(row.ean)] = row.ean
            elif old.energy != row.energy:
                report.errors.append(RowError(row.line, "energy",
                                              f"this EAN is a {old.energy} meter, not {row.energy}"))
            elif row.transferred_cents is not None and row.transferred_cents != old.transferred_cents:
                report.errors.append(RowError(row.line, "transferred_balance",
                                              "the account is activated already; its transferred "
                                              "balance cannot change"))
            elif row.activated_at is not None and to_text(row.activated_at) != old.activated_at:
                report.errors.append(RowError(row.line, "activated_at",
                                              f"the account was activated at {old.activated_at} "
                                              "(UTC); that cannot change"))
            elif (old.language, old.name, old.mobile, old.email, old.notify, old.threshold_cents,
                  bool(old.power_limiter), old.cpas) == profile:
                report.unchanged += 1
            else:
                profile_updates.append((*profile, name_key(row.name), old.id))
                report.updated += 1
        await update_many(conn, t, "id", ("language", "name", "mobile", "email", "notify",
                                          "threshold_cents", "power_limiter", "cpas",
                                          "name_key"), profile_updates)
        if not new:
            return
        await self._activate(conn, list(new.values()), now)
        report.new += len(new)

    async def _activate(self, conn: AsyncConnection, rows: list[AccountInput], now: datetime) -> None:
        """Activation (seed 003): balance max(B, 20 €), debt max(0, 20 € − B) repaid 1 €/day."""
        t = schema.accounts
        plans = []
        for row in rows:
            at = to_text(row.activated_at or now)
            transferred = row.transferred_cents or 0
            balance = max(transferred, START_CREDIT_CENTS)
            plans.append((row, at, transferred, balance, balance - transferred))
        await insert_many(conn, t, (
            "ean", "ean13", "energy", "language", "name", "mobile", "email", "notify",
            "threshold_cents", "power_limiter", "cpas", "activated_at", "activated_on",
            "transferred_cents", "balance_cents", "supply", "as_of", "name_key"), (
            (row.ean, short_code(row.ean), row.energy, row.language, row.name, row.mobile,
             row.email, row.notify, row.threshold_cents, row.power_limiter, row.cpas, at,
             from_text(at).astimezone(BRUSSELS).date().isoformat(), row.transferred_cents, balance,
             Supply.ON.value, at, name_key(row.name))
            for row, at, _, balance, _ in plans))
        ids = {r.ean: r.id for r in await conn.execute(
            select(t.c.id, t.c.ean).where(t.c.ean.in_([row.ean for row in rows])))}
        writes = Writes()
        debts = []
        for row, at, transferred, balance, debt in plans:
            account_id = ids[row.ean]
            book = balance_book(account_id)
            writes.post(account_id, "transfer", BUDGET_METER_TRANSFERS, book, transferred, at,
                        transfer_reference(row.ean))
            if debt:
                debt_book = start_debt_book(account_id)
                debts.append((account_id, debt_book, "start_credit", debt, START_CREDIT_DAILY_CENTS,
                              debt, at))
                writes.post(account_id, "start_credit", debt_book, book, debt, at,
                            start_credit_reference(row.ean))
            writes.emit(account_id, [PrepaymentActivated(
                ean=row.ean, energy=row.energy, language=row.language,
                at=from_text(at), balance_cents=balance, debt_cents=debt,
                daily_repayment_cents=START_CREDIT_DAILY_CENTS if debt else 0,
                transferred_cents=transferred)])
        await insert_many(conn, schema.debts, ("account_id", "book", "kind", "principal_cents",
                                               "daily_cents", "outstanding_cents", "created_at"),
                          debts)
        await writes.flush(conn)


def _derived_notify(row: AccountInput) -> str:
    """The channels a row implies when it names none: whatever contact it gives."""
    return (Notify.SMS_AND_EMAIL if row.mobile and row.email else Notify.SMS if row.mobile
            else Notify.EMAIL if row.email else Notify.NONE)


def _with_preferences(row: AccountInput, old) -> AccountInput:
    """The threshold and the channels a row leaves empty: what is on file for an existing account
    (the customer may have set them on the balance line, menu 5) while its contacts still allow
    it, else the defaults; what a row gives always wins."""
    threshold = row.threshold_cents
    if threshold is None:
        threshold = old.threshold_cents if old is not None else DEFAULT_THRESHOLD_CENTS
    notify = row.notify
    if notify is None:
        kept = old.notify if old is not None else None
        still_possible = kept is not None and ("sms" not in kept or row.mobile) and (
            "email" not in kept or row.email)
        notify = kept if still_possible else _derived_notify(row)
    return replace(row, notify=notify, threshold_cents=threshold)
