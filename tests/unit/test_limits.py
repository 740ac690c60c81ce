from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from ivr.limits import LookupRules, locked_until, may_look_up

NINE = datetime(2026, 11, 24, 9, tzinfo=UTC)


class Looked(NamedTuple):
    at: datetime
    outcome: str


def at(minutes: float, outcome: str = "found") -> Looked:
    return Looked(NINE + timedelta(minutes=minutes), outcome)


def after(minutes: float) -> datetime:
    return NINE + timedelta(minutes=minutes)


def test_a_caller_gets_so_many_lookups_an_hour():
    rules = LookupRules(lookups_per_hour=3)
    history = [at(0), at(1, "unknown")]
    assert may_look_up(history, after(2), rules)
    history.append(at(2, "code_mistyped"))
    assert not may_look_up(history, after(3), rules)
    assert may_look_up(history, after(60.5), rules)  # the first has left the hour


def test_silence_and_refusals_are_not_lookups():
    rules = LookupRules(lookups_per_hour=2)
    history = [at(0), at(1, "nothing_heard"), at(2, "locked_out"), at(3, "nothing_heard")]
    assert may_look_up(history, after(4), rules)


def test_repeated_unknown_codes_lock_the_caller_out_for_a_while():
    rules = LookupRules(unknown_before_lockout=3, lockout=timedelta(minutes=30))
    history = [at(0, "unknown"), at(1, "unknown")]
    assert may_look_up(history, after(2), rules)
    history.append(at(2, "unknown"))
    assert locked_until(history, rules) == after(32)
    assert not may_look_up(history, after(31), rules)
    assert may_look_up(history, after(32.5), rules)


def test_the_misses_that_locked_a_caller_out_count_no_more():
    rules = LookupRules(unknown_before_lockout=3, lockout=timedelta(minutes=10))
    history = [at(0, "unknown"), at(1, "unknown"), at(2, "unknown"),  # locked until 12
               at(13, "unknown"), at(14, "unknown")]
    assert may_look_up(history, after(15), rules)
    history.append(at(15, "unknown"))
    assert not may_look_up(history, after(16), rules)


def test_unknown_codes_spread_over_hours_do_not_lock():
    rules = LookupRules(unknown_before_lockout=3)
    history = [at(40 * n, "unknown") for n in range(5)]
    assert locked_until(history, rules) is None
    assert may_look_up(history, after(200), rules)


def test_the_history_needed_covers_a_lockout_and_its_misses():
    assert LookupRules(lockout=timedelta(minutes=30)).memory == timedelta(minutes=90)
