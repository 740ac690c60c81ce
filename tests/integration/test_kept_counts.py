"""GET /metrics reads the accounts and consumption days from counts kept as rows are added
(migration 12, ledger/tally.py), not counted at each scrape: through every way rows come and
go, folded or not, they must be what counting gives."""

from datetime import date, datetime

from sqlalchemy import func, select, text

from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger, schema
from tests.conftest import make_ean

ACTIVATED = datetime(2026, 10, 1, 9, 0, tzinfo=BRUSSELS)


async def counted(ledger: Ledger) -> tuple[int, int]:
    async with ledger.store.reading() as conn:
        return tuple([(await conn.execute(select(func.count()).select_from(table))).scalar_one()
                      for table in (schema.accounts, schema.consumption_days)])


async def kept(ledger: Ledger) -> tuple[int, int]:
    return await ledger.count_accounts(), await ledger.count_consumption_days()


async def test_the_kept_counts_are_the_counted_ones_through_imports_and_removals(ledger: Ledger):
    async def check() -> None:
        assert await kept(ledger) == await counted(ledger)

    await check()  # an empty ledger: 0 and 0, not "unknown"
    assert await kept(ledger) == (0, 0)
    first = [AccountInput(ean=make_ean(i), energy="electricity", language="fr",
                          activated_at=ACTIVATED) for i in range(1, 41)]
    await ledger.import_accounts(first)
    await check()
    # The same file again plus ten more, one of them twice: only the new ones count.
    more = [AccountInput(ean=make_ean(i), energy="gas", language="nl", activated_at=ACTIVATED)
            for i in range(35, 51)]
    await ledger.import_accounts(more)
    await check()
    assert (await kept(ledger))[0] == 50

    def day(i: int, on: date, cents: int) -> ConsumptionInput:
        return ConsumptionInput(ean=make_ean(i), day=on, amount_cents=cents)

    first_day = [day(i, date(2026, 10, 1), 300 + i) for i in range(1, 51)]
    await ledger.post_consumption(first_day)
    await check()
    await ledger.post_consumption(first_day)  # replayed: nothing posted
    await check()
    await ledger.post_consumption([day(i, date(2026, 10, 1), 250) for i in range(1, 11)]
                                  + [day(i, date(2026, 10, 2), 400) for i in range(1, 51)]
                                  + [day(999, date(2026, 10, 2), 400)])  # corrections, a new day
    await check()
    await ledger.top_up(make_ean(3), 2000, "terminal", "KIOSK-1")
    await check()
    assert await kept(ledger) == (50, 100)
    await ledger.fold_counts()
    await check()
    async with ledger.store.writing() as conn:  # a removal, as an operator's SQL would do it
        await conn.execute(text("DELETE FROM consumption_days WHERE day = '2026-10-02' "
                                "AND account_id <= 20"))
    await check()
    assert await kept(ledger) == (50, 80)
    await ledger.fold_counts()
    await check()
    t = schema.row_tally
    async with ledger.store.reading() as conn:
        rows = (await conn.execute(select(func.count()).select_from(t))).scalar_one()
    assert rows == 2  # folded: one row per counted table
