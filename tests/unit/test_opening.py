"""Customer service's hours: open and closed at the edges, public holidays, summer time, and a
schedule that says what is wrong with it."""

from datetime import UTC, datetime, time

import pytest

from ivr.opening import DEFAULT_HOURS, CustomerService, OpeningHours
from ledger import BRUSSELS

HOURS = OpeningHours.parse(DEFAULT_HOURS)


def brussels(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BRUSSELS)


@pytest.mark.parametrize("moment, is_open", [
    (brussels(2026, 11, 30, 7, 59), False),   # Monday, a minute early
    (brussels(2026, 11, 30, 8, 0), True),
    (brussels(2026, 11, 30, 19, 59), True),
    (brussels(2026, 11, 30, 20, 0), False),   # closes at 20:00 sharp
    (brussels(2026, 11, 28, 12, 59), True),   # Saturday morning
    (brussels(2026, 11, 28, 13, 0), False),   # Saturday afternoon
    (brussels(2026, 11, 29, 10, 0), False),   # Sunday
    (brussels(2026, 12, 25, 10, 0), False),   # Christmas, a Friday
    (brussels(2027, 3, 29, 10, 0), False),    # Easter Monday
    (brussels(2026, 7, 21, 10, 0), False),    # the national day, a Tuesday
    (brussels(2026, 7, 22, 10, 0), True),
])
def test_open_and_closed(moment, is_open):
    assert HOURS.is_open(moment) is is_open
    assert HOURS.is_open(moment.astimezone(UTC)) is is_open  # whatever zone it comes in


@pytest.mark.parametrize("moment, opens", [
    (brussels(2026, 11, 28, 14, 0), brussels(2026, 11, 30, 8, 0)),   # Saturday → Monday
    (brussels(2026, 11, 30, 6, 0), brussels(2026, 11, 30, 8, 0)),    # the same morning
    (brussels(2026, 12, 24, 21, 0), brussels(2026, 12, 26, 9, 0)),   # over Christmas
    # Summer time starts on Sunday 28 March 2027; Monday is Easter Monday: Tuesday, 8:00 CEST.
    (brussels(2027, 3, 27, 15, 0), brussels(2027, 3, 30, 8, 0)),
    # Winter time comes back on Sunday 31 October 2027: Monday 1 November is All Saints' Day.
    (brussels(2027, 10, 30, 13, 30), brussels(2027, 11, 2, 8, 0)),
])
def test_the_next_opening_is_on_the_wall_clock_whatever_the_offset(moment, opens):
    found = HOURS.next_opening(moment)
    assert found == opens and found.tzinfo is UTC
    assert found.astimezone(BRUSSELS).hour == opens.hour


def test_a_schedule_with_no_open_day_has_no_next_opening():
    closed_weekdays = OpeningHours.parse("sun 10:00-11:00")
    assert closed_weekdays.next_opening(brussels(2026, 11, 30, 12, 0)) == brussels(2026, 12, 6,
                                                                                    10, 0)
    never = OpeningHours({}, "BE")
    assert never.next_opening(brussels(2026, 11, 30, 12, 0)) is None


@pytest.mark.parametrize("text, says", [
    ("mon-fry 08:00-20:00", "'fry' is no day"),
    ("mon-fri 8:00-20:00", "is not like"),
    ("mon-fri 20:00-08:00", "closes before it opens"),
    ("fri-mon 08:00-20:00", "runs backwards"),
    ("mon-fri 08:00-20:00, fri 09:00-10:00", "fri is given twice"),
    ("mon 25:00-26:00", "no time of day"),
])
def test_a_wrong_schedule_says_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        OpeningHours.parse(text)


def test_the_number_is_dialled_in_e164_and_a_wrong_one_refused_at_start():
    assert CustomerService("078/15.78.01", HOURS).dialled() == "+3278157801"
    for number, says in (("+32 78 15 78 01", "as it is read out"), ("078/15", "not a valid")):
        with pytest.raises(ValueError, match=says):
            CustomerService(number, HOURS)
    with pytest.raises(ValueError, match="keys to send"):
        CustomerService("078/15.78.01", HOURS, keys="2#x")


def test_the_settings_give_the_line_its_customer_service_or_name_what_is_wrong():
    from saldo.settings import Settings, SettingsError

    default = Settings.from_env({}).customer_service
    assert (default.number, default.keys, default.hours) == ("078/15.78.01", "wwww2", HOURS)
    given = Settings.from_env({"CUSTOMER_SERVICE_NUMBER": "081/23.45.67",
                               "CUSTOMER_SERVICE_KEYS": "", "CUSTOMER_SERVICE_HOURS":
                               "mon-fri 09:00-17:00"}).customer_service
    assert given.dialled() == "+3281234567" and given.keys == ""
    assert not given.hours.is_open(brussels(2026, 11, 28, 10, 0))  # no Saturday any more
    for name, value in (("CUSTOMER_SERVICE_HOURS", "weekdays"),
                        ("CUSTOMER_SERVICE_NUMBER", "+32 81 23"),
                        ("CUSTOMER_SERVICE_KEYS", "two")):
        with pytest.raises(SettingsError, match=f"^{name}: "):
            Settings.from_env({name: value})


def test_the_morning_lists_hour_is_a_time_of_day():
    from saldo.settings import Settings, SettingsError

    assert Settings.from_env({}).morning_list_at == time(8, 0)
    assert Settings.from_env({"MORNING_LIST_AT": "07:30"}).morning_list_at == time(7, 30)
    with pytest.raises(SettingsError, match="^MORNING_LIST_AT: '8h' is not a time of day"):
        Settings.from_env({"MORNING_LIST_AT": "8h"})
