from datetime import UTC, datetime, timedelta

from ivr.limits import CallerLimits
from ledger import SettableClock


def limits(**options) -> tuple[CallerLimits, SettableClock]:
    clock = SettableClock(datetime(2026, 11, 24, 9, tzinfo=UTC))
    return CallerLimits(clock, **options), clock


def test_a_caller_gets_so_many_lookups_an_hour():
    guard, clock = limits(lookups_per_hour=3)
    for _ in range(3):
        assert guard.allows("a")
        guard.looked_up("a", unknown=False)
    assert not guard.allows("a")
    assert guard.allows("b")  # another caller is not affected
    clock.advance(timedelta(minutes=61))
    assert guard.allows("a")


def test_repeated_unknown_codes_lock_the_caller_out_for_a_while():
    guard, clock = limits(unknown_before_lockout=3, lockout=timedelta(minutes=30))
    for _ in range(2):
        guard.looked_up("a", unknown=True)
    assert guard.allows("a")
    guard.looked_up("a", unknown=True)
    assert not guard.allows("a")
    clock.advance(timedelta(minutes=29))
    assert not guard.allows("a")
    clock.advance(timedelta(minutes=2))
    assert guard.allows("a")


def test_unknown_codes_spread_over_hours_do_not_lock():
    guard, clock = limits(unknown_before_lockout=3)
    for _ in range(5):
        guard.looked_up("a", unknown=True)
        clock.advance(timedelta(minutes=40))
    assert guard.allows("a")
