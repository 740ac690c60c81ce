from datetime import date, datetime, time

import pytest

from ledger import BRUSSELS, NonDisconnectionPeriod

NDP = NonDisconnectionPeriod()


def brussels(*args) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)


@pytest.mark.parametrize(("moment", "protected"), [
    (brussels(2026, 11, 24, 10, 0), False),   # Tuesday morning: a working day
    (brussels(2026, 11, 24, 7, 59), True),    # before 08:00
    (brussels(2026, 11, 24, 8, 0), False),
    (brussels(2026, 11, 24, 15, 59), False),
    (brussels(2026, 11, 24, 16, 0), True),    # from 16:00
    (brussels(2026, 11, 21, 12, 0), True),    # Saturday
    (brussels(2026, 11, 22, 23, 0), True),    # Sunday night
    (brussels(2026, 11, 11, 10, 0), True),    # Armistice, a Belgian public holiday
    (brussels(2026, 12, 25, 10, 0), True),    # Christmas
    (brussels(2026, 7, 21, 10, 0), True),     # National day
])
def test_the_non_disconnection_period(moment, protected):
    assert NDP.contains(moment) is protected


def test_a_saturday_ends_on_monday_at_eight():
    assert NDP.end_after(brussels(2026, 11, 21, 12, 0)) == brussels(2026, 11, 23, 8, 0)


def test_a_friday_evening_before_a_holiday_monday_ends_on_tuesday():
    # Easter Monday 2027 is 29 March.
    assert NDP.end_after(brussels(2027, 3, 26, 18, 0)) == brussels(2027, 3, 30, 8, 0)


def test_the_period_ends_at_eight_local_time_across_a_clock_change():
    # Summer time ends on Sunday 25 October 2026: Monday 08:00 is 07:00 UTC, not 06:00.
    end = NDP.end_after(brussels(2026, 10, 24, 12, 0))
    assert end == brussels(2026, 10, 26, 8, 0)
    assert end.utcoffset() is None or end.astimezone(BRUSSELS).hour == 8


def test_outside_the_period_its_end_is_now():
    moment = brussels(2026, 11, 24, 10, 0)
    assert NDP.end_after(moment) == moment


def test_the_calendar_is_configuration():
    custom = NonDisconnectionPeriod(protected_from=time(18), protected_until=time(7),
                                    weekends=False, holiday_country=None,
                                    extra_holidays=frozenset({date(2026, 11, 24)}))
    assert not custom.contains(brussels(2026, 11, 21, 12, 0))   # Saturdays are not protected
    assert not custom.contains(brussels(2026, 11, 11, 12, 0))   # nor public holidays
    assert custom.contains(brussels(2026, 11, 24, 12, 0))       # but this extra day is
    assert custom.contains(brussels(2026, 11, 23, 18, 30))
    assert not custom.contains(brussels(2026, 11, 23, 17, 30))


def test_protected_hours_must_span_the_night():
    with pytest.raises(ValueError, match="span the night"):
        NonDisconnectionPeriod(protected_from=time(8), protected_until=time(16))


def test_equal_hours_protect_whole_days_only():
    days_only = NonDisconnectionPeriod(protected_from=time(0), protected_until=time(0))
    assert not days_only.contains(brussels(2026, 11, 24, 23, 0))
    assert days_only.contains(brussels(2026, 11, 21, 12, 0))
    assert days_only.end_after(brussels(2026, 11, 21, 12, 0)) == brussels(2026, 11, 23, 0, 0)


def test_equal_hours_at_eight_still_protect_whole_days_only():
    days_only = NonDisconnectionPeriod(protected_from=time(8), protected_until=time(8))
    assert not days_only.contains(brussels(2026, 11, 23, 3, 0))
    assert days_only.end_after(brussels(2026, 11, 21, 12, 0)) == brussels(2026, 11, 23, 0, 0)
