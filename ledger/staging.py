"""An import's staging: its input waits in a scratch SQLite file of its own, not on the heap,
and is written to the ledger in short transactions (the sizes below, as measured)."""

import pickle
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import NamedTuple, TypeVar

from .inputs import AccountInput

# Rows per chunk on the import paths, each chunk one write transaction. On SQLite it holds the
# one write lock, which top-ups and the worker wait for: 1,000 rows hold it some 25-40 ms, where
# 10,000 held it 0.4 s. The balance line does not wait for it: its audit records have a file of
# their own (ledger/audit.py). Transactions of 10 rows instead left the line's p99 while imports
# ran where it was (10.4 ms against 9.4-10.8 ms, bench/line_isolation.py, 7 December) and made
# each import take 6.5 s instead of 3.7-4.1 s; API top-ups wait less with them (p99 30 ms, 79
# with 1,000).
CHUNK = 1000
# Rows read, checked and staged at a time: an import holds one batch of its input, whatever the
# file's length; the rest waits in a scratch SQLite file (scratch_database).
STAGING_BATCH = 10_000


T = TypeVar("T")


def batches(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


@contextmanager
def scratch_database() -> Iterator[sqlite3.Connection]:
    """A SQLite file of one import's own, deleted when the import ends. Plain sqlite3 whatever
    the ledger's database: a private file, so staging takes none of the ledger's locks."""
    with tempfile.TemporaryDirectory(prefix="saldo-import-") as folder:
        db = sqlite3.connect(Path(folder) / "staged.db", isolation_level=None)
        try:
            # Thrown away on any failure: nothing to recover, so no journal and no fsync.
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            # One transaction, never committed: in autocommit each row would write its pages.
            db.execute("BEGIN")
            yield db
        finally:
            db.close()


# Each EAN's first row, pickled whole: a later row is compared with it as the dataclass it was.
STAGED_ACCOUNTS = "CREATE TABLE accounts (ean TEXT PRIMARY KEY, row BLOB NOT NULL)"
STAGE_ACCOUNT = "INSERT INTO accounts (ean, row) VALUES (?, ?)"
STAGED_ACCOUNTS_IN_ORDER = "SELECT row FROM accounts ORDER BY rowid"  # the file's order
STAGED_LOOKUP = 500  # values in one IN list: older SQLite builds take at most 999


def staged_accounts(staged: sqlite3.Connection, eans: list[str]) -> dict[str, AccountInput]:
    """The rows staged already for these EANs."""
    found: dict[str, AccountInput] = {}
    for start in range(0, len(eans), STAGED_LOOKUP):
        some = eans[start:start + STAGED_LOOKUP]
        found.update((ean, pickle.loads(row)) for ean, row in staged.execute(
            f"SELECT ean, row FROM accounts WHERE ean IN ({', '.join('?' * len(some))})", some))
    return found


# One row per (account, day): a later line's values replace an earlier one's, while the day
# keeps the place of its first line (`place`), the order it is posted in within its account:
# the repayments and the lines crossed follow the file's order.
STAGED_DAYS = """CREATE TABLE days (
    account_id INTEGER NOT NULL, day TEXT NOT NULL, place INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL, quantity TEXT, unit TEXT, line INTEGER,
    PRIMARY KEY (account_id, day)) WITHOUT ROWID"""
STAGE_DAY = """INSERT INTO days (account_id, day, place, amount_cents, quantity, unit, line)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (account_id, day) DO UPDATE SET amount_cents = excluded.amount_cents,
    quantity = excluded.quantity, unit = excluded.unit, line = excluded.line"""
# By account: each write transaction then reads a narrow range of accounts.
STAGED_DAYS_IN_ORDER = """SELECT account_id, day, amount_cents, quantity, unit, line
    FROM days ORDER BY account_id, place"""


class StagedDay(NamedTuple):
    account_id: int
    day: str  # YYYY-MM-DD
    amount_cents: int
    quantity: str | None
    unit: str | None
    line: int | None


def whole_account_chunks(waiting: sqlite3.Cursor, size: int) -> Iterator[list[StagedDay]]:
    """The staged days (STAGED_DAYS_IN_ORDER) about `size` at a time, an account's never split
    between two chunks: one chunk's writes then change nothing another chunk was read for."""
    carried: list[StagedDay] = []
    while rows := waiting.fetchmany(size):
        chunk = carried + list(map(StagedDay._make, rows))
        last = chunk[-1].account_id
        cut = len(chunk)
        while cut and chunk[cut - 1].account_id == last:
            cut -= 1
        if cut:
            yield chunk[:cut]
        carried = chunk[cut:]
    if carried:
        yield carried
