from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.limits import (LookupRules, caller_identity, ceiling_until, locked_until, may_look_up,
                        refused_until)

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


# Until when: what the caller is told, at once ----------------------------------------------------

def test_refused_until_the_lockout_ends():
    rules = LookupRules(unknown_before_lockout=3, lockout=timedelta(minutes=30))
    history = [at(0, "unknown"), at(1, "unknown"), at(2, "unknown")]
    assert refused_until(history, after(10), rules) == after(32)
    assert refused_until(history, after(32), rules) is None


def test_refused_until_enough_lookups_have_left_the_hour():
    rules = LookupRules(lookups_per_hour=3)
    history = [at(0), at(10), at(20)]
    assert refused_until(history, after(25), rules) == after(60)   # the first leaves the hour
    assert refused_until(history, after(60), rules) is None
    assert refused_until(history[:2], after(25), rules) is None


def test_refused_until_the_later_of_both_limits():
    rules = LookupRules(lookups_per_hour=4, unknown_before_lockout=3,
                        lockout=timedelta(minutes=10))
    history = [at(0), at(5, "unknown"), at(6, "unknown"), at(7, "unknown")]  # locked until 17
    assert refused_until(history, after(8), rules) == after(60)  # the hour's four used up


@given(st.lists(st.tuples(st.floats(0, 120), st.sampled_from(
    ["found", "unknown", "code_mistyped", "nothing_heard", "locked_out"])), max_size=30),
       st.floats(0, 200))
def test_refused_until_agrees_with_may_look_up_and_is_in_the_future(events, now_minutes):
    rules = LookupRules(lookups_per_hour=5, unknown_before_lockout=3,
                        lockout=timedelta(minutes=20))
    history = sorted((at(minutes, outcome) for minutes, outcome in events
                      if minutes <= now_minutes), key=lambda lookup: lookup.at)
    now = after(now_minutes)
    until = refused_until(history, now, rules)
    assert (until is None) == may_look_up(history, now, rules)
    if until is not None:
        assert until > now
        assert may_look_up(history, until, rules)   # by then, the caller may indeed


# Who one caller is ---------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["+32470555001", "0032470555001", "0470555001",
                                     "+32 470 55 50 01", " 0470/55.50.01 "])
def test_a_number_is_counted_in_e164_however_it_is_written(written):
    assert caller_identity(written, "CA1") == "+32470555001"


@pytest.mark.parametrize("withheld", ["", "  ", "anonymous", "Anonymous", "RESTRICTED", "unknown",
                                      "blocked", "private", "+266696687", "+7378742833",
                                      "+2562533", "+8656696", "00266696687"])
def test_a_withheld_number_is_counted_by_its_call(withheld):
    assert caller_identity(withheld, "CA1") == "call:CA1"
    assert caller_identity(withheld, "CA2") != caller_identity(withheld, "CA1")


@pytest.mark.parametrize("other", ["client:alice", "sip:bob@example.com", "x" * 300, "+"])
def test_what_is_no_phone_number_is_counted_as_sent(other):
    assert caller_identity(other, "CA1") == f"as-sent:{other.strip()}"
    assert caller_identity(other, "CA2") == caller_identity(other, "CA1")


@given(st.text(max_size=40), st.text(max_size=40))
def test_any_from_gives_an_identity(number, call):
    identity = caller_identity(number, call)
    assert identity.startswith(("+", "call:", "as-sent:"))


# The ceiling on unknown codes, all callers together -------------------------------------------------

def test_the_ceiling_refuses_until_the_oldest_unknown_code_leaves_the_minute():
    rules = LookupRules(unknown_codes_per_minute=3)
    unknown = [after(0.1), after(0.5), after(0.9)]
    assert ceiling_until(unknown[:2], after(1), rules) is None
    assert ceiling_until(unknown, after(1), rules) == after(1.1)
    assert ceiling_until(unknown, after(1.1), rules) is None  # the first has left the minute
    assert ceiling_until(unknown + [after(1.05)], after(1.1), rules) == after(1.5)


def test_unknown_codes_older_than_a_minute_do_not_count():
    rules = LookupRules(unknown_codes_per_minute=2)
    assert ceiling_until([after(0), after(0.5), after(0.9)], after(2), rules) is None


@given(st.lists(st.floats(0, 5), max_size=40), st.floats(0, 6), st.integers(1, 10))
def test_the_ceiling_is_in_the_future_and_lifted_by_then(minutes, now_minutes, ceiling):
    rules = LookupRules(unknown_codes_per_minute=ceiling)
    unknown = [after(m) for m in minutes if m <= now_minutes]
    now = after(now_minutes)
    until = ceiling_until(unknown, now, rules)
    in_the_minute = [at for at in unknown if at > now - timedelta(minutes=1)]
    assert (until is None) == (len(in_the_minute) < ceiling)
    if until is not None:
        assert now < until <= now + timedelta(minutes=1)
        assert ceiling_until(unknown, until, rules) is None
