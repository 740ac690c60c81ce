"""The demo shows every state it can at any hour: cut-off meters always, a pending disconnection
whenever the demo runs inside the non-disconnection period."""

from datetime import datetime

import pytest

from ledger import BRUSSELS, DemoRefused, Ledger, NonDisconnectionPeriod, SettableClock, State
from saldo.demo import CUSTOMERS, build_demo

MOMENTS = {
    "a weekday morning": datetime(2026, 11, 25, 11, 0, tzinfo=BRUSSELS),
    "a weekday evening": datetime(2026, 11, 24, 19, 0, tzinfo=BRUSSELS),
    "a Monday before eight": datetime(2026, 11, 23, 7, 0, tzinfo=BRUSSELS),
    "a Sunday": datetime(2026, 11, 22, 12, 0, tzinfo=BRUSSELS),
    "Christmas Day": datetime(2026, 12, 25, 10, 0, tzinfo=BRUSSELS),
    "just after midnight": datetime(2026, 11, 26, 0, 5, tzinfo=BRUSSELS),
}


@pytest.mark.parametrize("now", MOMENTS.values(), ids=MOMENTS.keys())
async def test_every_customer_lands_on_the_intended_balance_and_state(database_url, now):
    clock = SettableClock(now)
    ndp = NonDisconnectionPeriod()
    ledger = await Ledger.open(database_url, clock=clock, ndp=ndp)
    try:
        assert await build_demo(ledger, clock, now)
        for customer in CUSTOMERS:
            view = await ledger.balance_view(customer.ean, actor="test")
            assert view.balance_cents == customer.target_cents, customer.name
            expected = customer.target
            if expected is State.DISCONNECTION_PENDING and not ndp.contains(now):
                expected = State.DISCONNECTED  # outside the period, no meter waits
            assert view.state is expected, customer.name
        languages = {c.language for c in CUSTOMERS}
        assert languages == {"fr", "nl", "de"}
        assert not await build_demo(ledger, clock, now)  # created once
        books = await ledger.trial_balance()
        assert sum(books.values()) == 0
    finally:
        await ledger.close()


async def test_an_interrupted_build_is_named(database_url):
    now = MOMENTS["a weekday morning"]
    clock = SettableClock(now)
    ledger = await Ledger.open(database_url, clock=clock)
    try:
        await ledger.set_meta("demo", "building")
        with pytest.raises(DemoRefused, match="stopped while it built"):
            await build_demo(ledger, clock, now)
    finally:
        await ledger.close()
