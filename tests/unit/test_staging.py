"""An import's staged days come out in chunks of whole accounts: one chunk's writes must change
nothing another chunk was read and reckoned from (ledger/consumption.py reckons a chunk while
the one before is written)."""

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from ledger.staging import STAGE_DAY, STAGED_DAYS, STAGED_DAYS_IN_ORDER, whole_account_chunks

DAYS = [f"2026-11-{day:02d}" for day in range(1, 29)]


def staged(days_per_account: list[int]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(STAGED_DAYS)
    place = 0
    for account_id, count in enumerate(days_per_account, start=1):
        for day in DAYS[:count]:
            conn.execute(STAGE_DAY, (account_id, day, place, 100, None, None, place + 2))
            place += 1
    return conn


@given(st.lists(st.integers(1, 12), max_size=40), st.integers(1, 9))
def test_every_day_once_in_order_and_no_account_in_two_chunks(days_per_account, size):
    conn = staged(days_per_account)
    chunks = list(whole_account_chunks(conn.execute(STAGED_DAYS_IN_ORDER), size))
    assert [row for chunk in chunks for row in chunk] == \
        conn.execute(STAGED_DAYS_IN_ORDER).fetchall()
    owners = [{row.account_id for row in chunk} for chunk in chunks]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])
    # A chunk is only longer than asked when one account has more days than that.
    assert all(len(chunk) < size + max(days_per_account) for chunk in chunks)
    assert all(chunk for chunk in chunks)


def test_an_account_longer_than_a_chunk_is_one_chunk_of_its_own():
    conn = staged([1, 5, 1])
    chunks = list(whole_account_chunks(conn.execute(STAGED_DAYS_IN_ORDER), 2))
    assert [[row.account_id for row in chunk] for chunk in chunks] == [[1], [2] * 5, [3]]
