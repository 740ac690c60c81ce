"""The rules of seed 003, with its own figures, as pure functions."""

import json
from dataclasses import replace
from datetime import datetime

import pytest

from ledger import BRUSSELS, NonDisconnectionPeriod, State
from ledger.events import (
    Disconnected,
    DisconnectionPending,
    EmergencyCreditStarted,
    LowCredit,
    PowerLimited,
    ReconnectionAllowed,
    TopUpReceived,
    event_from_row,
)
from ledger.rules import Meter, Supply, classify, end_pending, settle, top_up
from ledger.view import build_view, estimated_days_left

NDP = NonDisconnectionPeriod()
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=BRUSSELS)
SATURDAY_12 = datetime(2026, 11, 21, 12, 0, tzinfo=BRUSSELS)
MONDAY_8 = datetime(2026, 11, 23, 8, 0, tzinfo=BRUSSELS)


def meter(balance: int, **changes) -> Meter:
    values = dict(ean="541440000000000019", energy="electricity", language="fr",
                  balance_cents=balance, threshold_cents=500, power_limiter=False)
    values.update(changes)
    return Meter(**values)


def view_of(m: Meter, now=TUESDAY_10, debts=(), outflows=()):
    return build_view(meter=m, as_of=now, now=now, ndp=NDP, debts=list(debts), last_topup=None,
                      daily_outflows_cents=list(outflows))


@pytest.mark.parametrize(("balance", "state"), [
    (3880, State.NORMAL), (500, State.NORMAL), (446, State.LOW), (0, State.LOW),
    (-120, State.EMERGENCY), (-1499, State.EMERGENCY),
])
def test_states_from_the_balance(balance, state):
    assert classify(meter(balance), TUESDAY_10, NDP) is state


def test_minus_1_20_leaves_13_80_usable():
    view = view_of(meter(-120))
    assert view.state is State.EMERGENCY
    assert view.usable_before_disconnection_cents == 1380
    assert view.emergency_credit_left_cents == 1380
    assert view.minimum_topup_cents is None


def test_a_positive_balance_keeps_the_whole_emergency_credit():
    view = view_of(meter(3880))
    assert view.emergency_credit_left_cents == 1500
    assert view.usable_before_disconnection_cents == 5380


def test_minus_15_92_on_a_saturday_is_pending_until_monday_eight():
    m, events = settle(meter(-1000), -1592, SATURDAY_12, NDP)
    assert classify(m, SATURDAY_12, NDP) is State.DISCONNECTION_PENDING
    assert [type(e) for e in events] == [DisconnectionPending]
    assert events[0].disconnect_at == MONDAY_8
    # What cancels the cut: back above −15 € (0,93 €), but a terminal takes no less than 5 €.
    assert events[0].minimum_topup_cents == 500
    assert view_of(m, now=SATURDAY_12).minimum_topup_cents == 500
    sunday_night = datetime(2026, 11, 22, 23, 59, tzinfo=BRUSSELS)
    assert classify(m, sunday_night, NDP) is State.DISCONNECTION_PENDING
    assert end_pending(m, sunday_night, NDP) == (m, [])
    cut, events = end_pending(m, MONDAY_8, NDP)
    assert cut.supply is Supply.OFF
    assert [type(e) for e in events] == [Disconnected]
    assert events[0].at == MONDAY_8
    assert classify(cut, MONDAY_8, NDP) is State.DISCONNECTED


def test_a_pending_meter_reads_as_disconnected_once_the_period_is_over():
    m, _ = settle(meter(-1000), -1592, SATURDAY_12, NDP)
    assert classify(m, TUESDAY_10, NDP) is State.DISCONNECTED


def test_minus_16_20_on_a_tuesday_at_ten_is_disconnected():
    m, events = settle(meter(-1000), -1620, TUESDAY_10, NDP)
    assert classify(m, TUESDAY_10, NDP) is State.DISCONNECTED
    assert [type(e) for e in events] == [Disconnected]
    view = view_of(m)
    assert view.minimum_topup_cents == 1670  # back to 0,50 €
    assert view.usable_before_disconnection_cents == 0
    assert view.emergency_credit_left_cents == 0


def test_a_power_limiter_limits_instead_of_cutting():
    m, events = settle(meter(-1000, power_limiter=True), -1620, TUESDAY_10, NDP)
    assert classify(m, TUESDAY_10, NDP) is State.POWER_LIMITED
    assert [type(e) for e in events] == [PowerLimited]


@pytest.mark.parametrize("limiter", [True, False])
def test_the_warnings_say_whether_the_meter_has_a_power_limiter(limiter):
    """So that the messages can say "will be limited" or "will be cut off", not both."""
    m, events = settle(meter(100, power_limiter=limiter), -100, SATURDAY_12, NDP)
    assert [type(e) for e in events] == [EmergencyCreditStarted]
    assert events[0].power_limiter is limiter
    m, events = settle(m, -1592, SATURDAY_12, NDP)
    assert [type(e) for e in events] == [DisconnectionPending]
    assert events[0].power_limiter is limiter
    _, events = settle(meter(3000, power_limiter=limiter), -1592, SATURDAY_12, NDP)
    assert [type(e) for e in events] == [DisconnectionPending]
    assert events[0].power_limiter is limiter
    for event in events:  # through the ledger's table and back, still a bool
        again = event_from_row(event.name, event.payload())
        assert again == event and again.power_limiter is limiter


def test_a_warning_stored_before_power_limiter_existed_still_loads():
    _, events = settle(meter(-1000, power_limiter=True), -1592, SATURDAY_12, NDP)
    pending = events[0]
    data = json.loads(pending.payload())
    del data["power_limiter"]
    old = event_from_row("DisconnectionPending", json.dumps(data))
    assert old == replace(pending, power_limiter=False)
    assert old.disconnect_at == MONDAY_8
    started = event_from_row("EmergencyCreditStarted", json.dumps(
        {"ean": "541440000000000019", "energy": "electricity", "language": "fr",
         "at": "2026-11-24T09:00:00Z", "balance_cents": -100, "emergency_credit_left_cents": 1400}))
    assert started.power_limiter is False and started.emergency_credit_left_cents == 1400


def test_the_minimum_top_up_is_never_below_what_a_terminal_takes():
    m = meter(-1500, supply=Supply.OFF)
    assert view_of(m).minimum_topup_cents == 1550
    assert view_of(meter(-100, supply=Supply.OFF)).minimum_topup_cents == 500


def test_a_cut_off_meter_stays_off_until_0_50():
    off = meter(-1620, supply=Supply.OFF)
    m, events = settle(off, -1000, TUESDAY_10, NDP)
    assert classify(m, TUESDAY_10, NDP) is State.DISCONNECTED  # above −15 € but still off
    assert events == []
    m, events = settle(m, 49, TUESDAY_10, NDP)
    assert classify(m, TUESDAY_10, NDP) is State.DISCONNECTED
    m, events = settle(m, 50, TUESDAY_10, NDP)
    assert [type(e) for e in events] == [ReconnectionAllowed]
    assert classify(m, TUESDAY_10, NDP) is State.LOW


def test_a_top_up_inside_the_period_cancels_the_pending_disconnection():
    m, _ = settle(meter(-1000), -1592, SATURDAY_12, NDP)
    m, events = settle(m, -1000, SATURDAY_12, NDP)
    assert events == []
    assert classify(m, MONDAY_8, NDP) is State.EMERGENCY


def test_a_posting_after_the_period_cuts_off_first_then_applies():
    pending, _ = settle(meter(-1000), -1592, SATURDAY_12, NDP)
    m, events = settle(pending, 408, TUESDAY_10, NDP)   # a top-up on Tuesday
    assert [type(e) for e in events] == [ReconnectionAllowed]  # the last word: supply back
    assert m.supply is Supply.ON
    m, events = settle(pending, -1700, TUESDAY_10, NDP)   # Tuesday's consumption
    assert [type(e) for e in events] == [Disconnected]
    assert events[0].at == MONDAY_8


def test_each_line_gives_one_event_and_rearms_when_crossed_back():
    m, events = settle(meter(600), 400, TUESDAY_10, NDP)
    assert [type(e) for e in events] == [LowCredit]
    m, events = settle(m, 300, TUESDAY_10, NDP)
    assert events == []
    m, events = settle(m, 700, TUESDAY_10, NDP)
    assert events == []
    m, events = settle(m, 100, TUESDAY_10, NDP)
    assert [type(e) for e in events] == [LowCredit]
    m, events = settle(m, -100, TUESDAY_10, NDP)
    assert [type(e) for e in events] == [EmergencyCreditStarted]
    assert events[0].emergency_credit_left_cents == 1400


@pytest.mark.parametrize(("after", "now", "told"), [
    (400, TUESDAY_10, LowCredit),
    (-100, TUESDAY_10, EmergencyCreditStarted),
    (-1592, SATURDAY_12, DisconnectionPending),
    (-1700, TUESDAY_10, Disconnected),
])
def test_a_fall_across_several_lines_tells_only_the_most_serious(after, now, told):
    """A day's consumption often crosses several lines at once: one posting, one piece of news."""
    m, events = settle(meter(3000), after, now, NDP)
    assert [type(e) for e in events] == [told]
    # Each line it passed is spent: the next posting does not tell of them again.
    _, again = settle(m, after - 1, now, NDP)
    assert again == []


def test_a_cut_meter_is_told_nothing_of_the_lines_it_already_passed():
    off = meter(40, supply=Supply.OFF)  # cut, topped up to 0,40 €: still off
    _, events = settle(off, -300, TUESDAY_10, NDP)
    assert events == []


def test_debts_and_their_daily_repayment():
    view = view_of(meter(2000), debts=[(1900, 100), (1500, 500), (0, 100)])
    assert view.debt_cents == 3400
    assert view.debt_daily_cents == 600
    assert view_of(meter(2000), debts=[(30, 100)]).debt_daily_cents == 30


def test_estimated_days_left_uses_the_last_seven_posted_days():
    # 10,00 € balance + 15,00 € emergency credit at 5,00 € a day: 5 days.
    assert estimated_days_left(1000, [500] * 7) == 5
    assert estimated_days_left(1000, [500] * 7 + [99_999]) == 5  # older days do not count
    assert estimated_days_left(1000, []) is None
    assert estimated_days_left(-1600, [500]) == 0
    assert estimated_days_left(1000, [0, 0]) is None


@pytest.mark.parametrize(("m", "amount", "now", "outcome", "more"), [
    (meter(2000), 2000, TUESDAY_10, "credited", 0),
    (meter(-1000), 500, TUESDAY_10, "emergency", 0),
    (meter(-1592, supply=Supply.PENDING, pending_since=SATURDAY_12), 500, SATURDAY_12,
     "cut_avoided", 0),
    (meter(-2100, supply=Supply.PENDING, pending_since=SATURDAY_12), 500, SATURDAY_12,
     "still_pending", 500),  # −16,00 €: 1,01 € more would do, a terminal takes 5 €
    (meter(-1620, supply=Supply.OFF), 2000, TUESDAY_10, "reconnection", 0),
    (meter(-1620, supply=Supply.OFF), 1000, TUESDAY_10, "still_off", 670),
    # The period ended before the top-up was recorded: cut at its end, then restored.
    (meter(-1592, supply=Supply.PENDING, pending_since=SATURDAY_12), 2000, TUESDAY_10,
     "reconnection", 0),
])
def test_a_top_up_is_one_event_that_says_what_it_left(m, amount, now, outcome, more):
    after, events = top_up(m, amount, now, NDP, channel="terminal")
    assert [type(e) for e in events] == [TopUpReceived]
    event = events[0]
    assert (event.outcome, event.minimum_topup_cents) == (outcome, more)
    assert event.balance_cents == m.balance_cents + amount == after.balance_cents
    if outcome == "still_pending":
        assert event.disconnect_at == MONDAY_8
    again = event_from_row(event.name, event.payload())
    assert again == event
