"""Importing consumption: each day's charge and that day's debt repayments, corrections as a
reversal and a new posting, replays posting nothing; read and reckoned outside the write lock,
written in short transactions checked against what they were reckoned from."""

import asyncio
import functools
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from . import (
    schema,
    staging,  # its batch sizes read at each import: tests make them small
)
from .accounts import (
    ACCOUNT_COLUMNS,
    Account,
    Debt,
    Statement,
    Writes,
    account_from_row,
    account_ids,
    settle_account,
)
from .books import (
    ENERGY_SOLD,
    balance_book,
    consumption_reference,
    repayment_reference,
    reversal_reference,
)
from .calendar import NonDisconnectionPeriod
from .db import any_of, in_json_array
from .clock import BRUSSELS, to_text
from .ean import FULL_LENGTH, is_valid_full
from .errors import InvalidInput
from .inputs import ConsumptionInput, ImportReport, RowError
from .limits import LARGEST_CENTS, check_text
from .staging import (
    STAGE_DAY,
    STAGED_DAYS,
    STAGED_DAYS_IN_ORDER,
    StagedDay,
    batches,
    scratch_database,
    whole_account_chunks,
)
from .rawsqlite import Mark, snapshot_mark, unchanged_since
from .store import Store


def _consumption_error(row: ConsumptionInput, ids: dict[str, int], today: date,
                       most_cents: int) -> tuple[str, str] | None:
    for name in ("quantity", "unit"):
        try:
            check_text(name, getattr(row, name))
        except InvalidInput as error:
            return name, error.message
    if row.ean not in ids:
        if len(row.ean) == FULL_LENGTH and not is_valid_full(row.ean):
            return "ean", "the check digit does not match: the code seems mistyped"
        return "ean", "no prepayment account has this EAN"
    if row.day >= today:
        return "day", f"{row.day.isoformat()} has not ended yet"
    if row.amount_cents < 0:
        return "amount", "a consumption cannot be negative"
    if row.amount_cents > most_cents:
        return "amount", (f"more than {most_cents // 100},{most_cents % 100:02d} € in a day "
                          "(DAY_CONSUMPTION_MAX)")
    return None


@dataclass(frozen=True)
class ConsumptionState:
    """What a piece of a consumption import is reckoned from, as read, compared row for row."""

    account_rows: list[tuple]
    debt_rows: list[tuple]
    posted_rows: list[tuple]

    def accounts(self) -> dict[int, "Account"]:
        """Built afresh each time: the reckoning changes them, the rows stay as read."""
        accounts = {row[0]: account_from_row(row) for row in self.account_rows}
        for id_, account_id, book, daily, outstanding in self.debt_rows:
            accounts[account_id].debts.append(Debt(id_, book, daily, outstanding))
        return accounts

    def posted_days(self) -> dict[tuple[int, str], tuple[int, int]]:
        """(account, day) → (amount, revision)."""
        return {(account_id, day): (amount, revision)
                for account_id, day, amount, revision in self.posted_rows}

    @classmethod
    def read_sqlite(cls, conn: sqlite3.Connection, rows: list[StagedDay]) -> "ConsumptionState":
        """As ConsumptionImport._consumption_state reads it, on the raw SQLite driver."""
        values = {"ids": json.dumps(sorted({row.account_id for row in rows})),
                  "days": json.dumps(sorted({row.day for row in rows}))}
        return cls(*[statement.run(conn, **values).fetchall()
                     for statement in _consumption_state_sqlite()])


@dataclass
class OwnCommits:
    """An import's write transactions on the SQLite writer's connection so far (rawsqlite.Mark)."""

    count: int = 0


class Planned(NamedTuple):
    """A chunk, reckoned: what it was reckoned from, its writes and their report."""

    rows: list[StagedDay]
    before: ConsumptionState
    mark: Mark | None  # when `before` was read, on SQLite
    writes: Writes
    done: ImportReport


@functools.cache
def _consumption_state_statements(one_of) -> tuple:
    """Built once and compiled once (SQLAlchemy caches them): they are read under the write
    lock, where compiling them at each batch cost about a third of its time."""
    a, d, t = schema.accounts, schema.debts, schema.consumption_days
    return (
        select(*ACCOUNT_COLUMNS).where(one_of(a.c.id, "ids")).order_by(a.c.id),
        select(d.c.id, d.c.account_id, d.c.book, d.c.daily_cents, d.c.outstanding_cents)
        .where(one_of(d.c.account_id, "ids"), d.c.outstanding_cents > 0)
        .order_by(d.c.account_id, d.c.id),
        select(t.c.account_id, t.c.day, t.c.amount_cents, t.c.revision)
        .where(one_of(t.c.account_id, "ids"), one_of(t.c.day, "days"))
        .order_by(t.c.account_id, t.c.day),
    )


@functools.cache
def _consumption_state_sqlite() -> tuple[Statement, ...]:
    """The same reads for the raw SQLite driver (ConsumptionState.read_sqlite)."""
    dialect = sqlite_dialect(paramstyle="named")
    compiled = [statement.compile(dialect=dialect)
                for statement in _consumption_state_statements(in_json_array)]
    return tuple(Statement(str(c), dict(c.params)) for c in compiled)


class ConsumptionImport:
    """The daily consumption file: each day charged with its debts' repayments."""

    def __init__(self, store: Store, ndp: NonDisconnectionPeriod, day_consumption_max_cents: int):
        self._store = store
        self._ndp = ndp
        self._day_consumption_max_cents = day_consumption_max_cents

    async def run(self, rows: Iterable[ConsumptionInput]) -> ImportReport:
        """Charge each day's consumption and that day's debt repayments. Replays post nothing;
        another amount for a day already posted reverses the old posting and posts the new.

        The rows are checked a batch at a time and wait in a scratch file, so an input of any
        length is never held whole; nothing is written before the last row is read."""
        report = ImportReport()
        today = self._store.clock.now().astimezone(BRUSSELS).date()
        with scratch_database() as staged:
            staged.execute(STAGED_DAYS)
            valid = 0
            for batch in batches(rows, staging.STAGING_BATCH):
                valid = await self._stage_consumption(staged, batch, today, valid, report)
            (days,) = staged.execute("SELECT count(*) FROM days").fetchone()
            report.superseded = valid - days  # lines a later line for the same day replaced
            chunks = whole_account_chunks(staged.execute(STAGED_DAYS_IN_ORDER), staging.CHUNK)
            await self._post_chunks(chunks, report)
        report.errors.sort(key=lambda error: error.line or 0)
        return report

    async def _stage_consumption(self, staged: sqlite3.Connection, rows: list[ConsumptionInput],
                                 today: date, valid: int, report: ImportReport) -> int:
        """Stages a batch's valid rows, numbered on from `valid` (the valid rows before it);
        returns the valid rows counted with this batch's."""
        ids = await account_ids(self._store, [row.ean for row in rows])
        checked = []
        for row in rows:
            error = _consumption_error(row, ids, today, self._day_consumption_max_cents)
            if error:
                report.errors.append(RowError(row.line, *error))
                continue
            checked.append((ids[row.ean], row.day.isoformat(), valid + len(checked),
                            row.amount_cents, row.quantity, row.unit, row.line))
        staged.executemany(STAGE_DAY, checked)
        return valid + len(checked)

    async def _post_chunks(self, chunks: Iterator[list[StagedDay]], report: ImportReport
                           ) -> None:
        """Each chunk read and reckoned without the write lock, then written in one transaction,
        checked under the lock against what it was reckoned from — reckoned again there if that
        changed meanwhile (a top-up, another import). A chunk is reckoned while the one before
        is being written; on SQLite reads and writes go one after the other on one connection,
        the next chunk's read asked for before this one's write, and a chunk nothing else has
        been written beside since its read is not read again."""
        own = OwnCommits()
        chunk = next(chunks, None)
        reading = asyncio.ensure_future(self._read_state(chunk, own)) if chunk else None
        writing: asyncio.Future[ImportReport] | None = None
        try:
            while chunk is not None:
                seen, mark = await reading
                following = next(chunks, None)
                reading = (asyncio.ensure_future(self._read_state(following, own))
                           if following else None)
                done = ImportReport()
                planned = Planned(chunk, seen, mark, self._consumption_writes(chunk, seen, done),
                                  done)
                if writing is not None:
                    report.add(await writing)
                writing = asyncio.ensure_future(self._write_planned(planned, own))
                chunk = following
            if writing is not None:
                report.add(await writing)
        finally:
            unfinished = [task for task in (reading, writing) if task and not task.done()]
            if unfinished:  # reckoning failed: what the writer's thread was given ends whole
                await asyncio.wait(unfinished)
            for task in (reading, writing):
                if task and task.done() and not task.cancelled():
                    task.exception()  # seen: the first error is the one raised

    async def _read_state(self, rows: list[StagedDay], own: "OwnCommits"
                          ) -> tuple["ConsumptionState", Mark | None]:
        if self._store.raw_writes:  # SQLite: on the writer's connection, marked
            return await self._store.reading_raw(lambda conn: (
                ConsumptionState.read_sqlite(conn, rows), snapshot_mark(conn, own.count)))
        async with self._store.reading() as conn:
            return await self._consumption_state(conn, rows), None

    async def _write_planned(self, planned: Planned, own: "OwnCommits") -> ImportReport:
        """In one transaction, checked against what it was reckoned from."""
        rows, before, mark, writes, done = planned
        if self._store.raw_writes:  # SQLite: checked and written in one hand-over
            return await self._store.writing_raw(functools.partial(
                self._write_consumption_sqlite, rows, before, mark, own, writes, done))
        async with self._store.writing() as conn:
            now = await self._consumption_state(conn, rows)
            if now != before:
                done = ImportReport()
                writes = self._consumption_writes(rows, now, done)
            await writes.flush(conn)
        return done

    def _write_consumption_sqlite(self, batch: list[StagedDay], before: "ConsumptionState",
                                  mark: Mark | None, own: "OwnCommits", writes: "Writes",
                                  done: ImportReport, conn: sqlite3.Connection) -> ImportReport:
        """In the write transaction, on the raw SQLite driver: through SQLAlchemy's async
        adapter a batch took some twenty hand-overs to the driver's thread, ~3.5 ms of the ~6
        it held the lock (bench/line_isolation.py)."""
        unchanged = unchanged_since(conn, mark, own.count)
        own.count += 1  # this transaction's, counted before it commits
        if unchanged:
            writes.flush_sqlite(conn)
            return done
        now = ConsumptionState.read_sqlite(conn, batch)
        if now != before:
            done = ImportReport()
            writes = self._consumption_writes(batch, now, done)
        writes.flush_sqlite(conn)
        return done

    async def _consumption_state(self, conn: AsyncConnection, rows: list[StagedDay]
                                 ) -> "ConsumptionState":
        """The rows the reckoning of `rows` depends on, as read: their accounts, open debts
        and the days already posted."""
        values = {"ids": sorted({row.account_id for row in rows}),
                  "days": sorted({row.day for row in rows})}
        return ConsumptionState(*[[tuple(row) for row in await conn.execute(statement, values)]
                                   for statement in _consumption_state_statements(any_of)])

    def _consumption_writes(self, rows: list[StagedDay], state: "ConsumptionState",
                            report: ImportReport) -> "Writes":
        accounts = state.accounts()
        posted = state.posted_days()
        writes = Writes()
        now = self._store.clock.now()
        at = to_text(now)
        for row in rows:  # one row per (account, day): the staging made sure
            account_id = row.account_id
            account = accounts[account_id]
            day = row.day
            if day < account.activated_on:
                report.errors.append(RowError(row.line, "day", "lies before prepayment was activated"))
                continue
            before = posted.get((account_id, day))
            if before and before[0] == row.amount_cents:
                report.unchanged += 1
                continue
            # What the balance would become, checked before anything is posted: a refused
            # row must leave no posting behind (its balance would no longer be their sum).
            repayments = [] if before else [
                (debt, min(debt.daily_cents, debt.outstanding_cents)) for debt in account.debts
                if min(debt.daily_cents, debt.outstanding_cents) > 0]
            balance = (account.balance_cents + (before[0] if before else 0)
                       - sum(take for _, take in repayments) - row.amount_cents)
            if balance < -LARGEST_CENTS:
                report.errors.append(RowError(row.line, "amount", "the balance cannot go lower"))
                continue
            book = balance_book(account_id)
            if before:  # a correction: reverse the day's posting, post the new amount
                old_amount, old_revision = before
                old_reference = consumption_reference(account_id, day, old_revision)
                writes.post(account_id, "reversal", ENERGY_SOLD, book, old_amount, at,
                            reversal_reference(old_reference), day, old_reference)
                revision = old_revision + 1
                writes.changed_days.append((row.amount_cents, revision, row.quantity, row.unit,
                                            account_id, day))
                report.corrected += 1
            else:  # a new day: its consumption and that day's repayment of each open debt
                revision = 0
                for debt, take in repayments:
                    writes.post(account_id, "repayment", book, debt.book, take, at,
                                repayment_reference(debt.book, day), day)
                    debt.outstanding_cents -= take
                    writes.debts[debt.id] = debt
                writes.new_days.append((account_id, day, row.amount_cents,
                                        sum(take for _, take in repayments), revision,
                                        row.quantity, row.unit))
                report.new += 1
            writes.post(account_id, "consumption", book, ENERGY_SOLD, row.amount_cents, at,
                        consumption_reference(account_id, day, revision), day)
            settle_account(writes, account, balance, now, at, self._ndp)
        return writes
