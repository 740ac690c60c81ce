"""A consumption import reads and reckons without the write lock and writes a chunk a
transaction (ledger/consumption.py): what changes an account between its read and its write — a
top-up, here — must be reckoned with, never written over."""

from datetime import date, datetime

import pytest

from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger, staging
from tests.conftest import make_ean

ACTIVATED = datetime(2026, 10, 1, 9, 0, tzinfo=BRUSSELS)
EANS = [make_ean(i) for i in range(1, 251)]  # three chunks of 100 (below)


@pytest.mark.parametrize("paid_through", ["this ledger", "another process's ledger"])
async def test_a_top_up_between_the_imports_read_and_its_write_is_kept(ledger: Ledger, clock,
                                                                        database_url, monkeypatch,
                                                                        paid_through):
    """The same process's top-up goes on the import's own writer connection (SQLite); another
    process's on a connection of its own: each must be noticed before the import writes."""
    report = await ledger.import_accounts([AccountInput(ean=ean, energy="electricity",
                                                        language="fr", activated_at=ACTIVATED)
                                           for ean in EANS])
    assert report.errors == []
    consumption = ledger._consumption  # the import's operation (ledger/consumption.py)
    monkeypatch.setattr(staging, "CHUNK", 100)  # a chunk read while the one before is written
    read_state = consumption._read_state
    reads = []

    async def read_then_pay(rows, *more):
        state = await read_state(rows, *more)
        reads.append(len(rows))
        if len(reads) == 1:  # the unlocked read of the chunk: a payment lands just after it
            payer = ledger
            if paid_through != "this ledger":
                payer = await Ledger.open(database_url, clock=clock)
            try:
                for ean in (EANS[0], EANS[-1]):
                    await payer.top_up(ean, 1000, "terminal", f"KIOSK-{ean[-4:]}")
            finally:
                if payer is not ledger:
                    await payer.close()
        return state

    monkeypatch.setattr(consumption, "_read_state", read_then_pay)
    report = await ledger.post_consumption([ConsumptionInput(ean=ean, day=date(2026, 10, 1),
                                                             amount_cents=300) for ean in EANS])
    assert (report.new, report.errors) == (len(EANS), [])
    # 20 € at activation + 10 € paid − 3 € consumed − 1 € repaid: nothing lost, nothing twice.
    for ean, expected in ((EANS[0], 2600), (EANS[1], 1600), (EANS[-1], 2600)):
        view = await ledger.balance_view(ean, actor="test")
        assert view.balance_cents == expected, ean
    books = await ledger.trial_balance()
    assert sum(books.values()) == 0
