from datetime import datetime

import pytest

from ledger import BRUSSELS, Ledger, NonDisconnectionPeriod, SettableClock
from ledger.ean import with_check_digit

PREFIX = "54144"
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=BRUSSELS)


def make_ean(number: int) -> str:
    """A made-up access point with a valid check digit."""
    body = f"{PREFIX}{number:012d}"
    return with_check_digit(body)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(TUESDAY_10)


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
async def ledger(database_url, clock):
    opened = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    yield opened
    await opened.close()
