"""The prepayment rules (seed 003), as pure functions of balance and time. No I/O here."""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from .calendar import NonDisconnectionPeriod
from .events import (
    Disconnected,
    DisconnectionPending,
    EmergencyCreditStarted,
    Event,
    LowCredit,
    PowerLimited,
    ReconnectionAllowed,
    TopUpReceived,
)

START_CREDIT_CENTS = 2000
START_CREDIT_DAILY_CENTS = 100
EMERGENCY_CREDIT_CENTS = 1500
RECONNECTION_MINIMUM_CENTS = 50
DEFAULT_THRESHOLD_CENTS = 500
TOPUP_MIN_CENTS = 500
TOPUP_MAX_CENTS = 25000
EXHAUSTED_AT_CENTS = -EMERGENCY_CREDIT_CENTS


class State(StrEnum):
    NORMAL = "normal"
    LOW = "low"
    EMERGENCY = "emergency"
    DISCONNECTION_PENDING = "disconnection_pending"
    DISCONNECTED = "disconnected"
    POWER_LIMITED = "power_limited"


NEEDS_TOPUP_TO_RESTORE = {
    State.DISCONNECTION_PENDING,
    State.DISCONNECTED,
    State.POWER_LIMITED,
}


class Supply(StrEnum):
    """The meter's switch as the ledger last set it."""

    ON = "on"
    PENDING = "pending"  # exhausted inside the NDP: cut off when it ends
    OFF = "off"  # disconnected, or power-limited on a meter with a limiter


@dataclass(frozen=True)
class Meter:
    """What the rules need to know of one account."""

    ean: str
    energy: str
    language: str
    balance_cents: int
    threshold_cents: int
    power_limiter: bool
    supply: Supply = Supply.ON
    pending_since: datetime | None = None


def classify(meter: Meter, now: datetime, ndp: NonDisconnectionPeriod) -> State:
    supply = meter.supply
    if supply is Supply.PENDING and meter.pending_since and ndp.end_after(meter.pending_since) <= now:
        supply = Supply.OFF  # the period is over; the worker's tick is about to record it
    if supply is Supply.OFF:
        return State.POWER_LIMITED if meter.power_limiter else State.DISCONNECTED
    if supply is Supply.PENDING:
        return State.DISCONNECTION_PENDING
    if meter.balance_cents < 0:
        return State.EMERGENCY
    if meter.balance_cents < meter.threshold_cents:
        return State.LOW
    return State.NORMAL


def minimum_topup_cents(balance_cents: int) -> int:
    """What brings the balance back to 0,50 €, and never less than a terminal takes (5 €)."""
    return max(RECONNECTION_MINIMUM_CENTS - balance_cents, TOPUP_MIN_CENTS)


def minimum_topup_to_avoid_cut_cents(balance_cents: int) -> int:
    """While a disconnection is pending: what takes the balance back above −15 € (settle()
    cancels the cut then), and never less than a terminal takes."""
    return max(EXHAUSTED_AT_CENTS - balance_cents + 1, TOPUP_MIN_CENTS)


def minimum_topup_for(state: State, balance_cents: int) -> int | None:
    """The one figure the line, the messages and the pages give for a state, if it needs one."""
    if state is State.DISCONNECTION_PENDING:
        return minimum_topup_to_avoid_cut_cents(balance_cents)
    if state in NEEDS_TOPUP_TO_RESTORE:
        return minimum_topup_cents(balance_cents)
    return None


def emergency_credit_left_cents(balance_cents: int) -> int:
    return min(EMERGENCY_CREDIT_CENTS, max(0, EMERGENCY_CREDIT_CENTS + min(balance_cents, 0)))


def usable_before_disconnection_cents(balance_cents: int) -> int:
    return max(0, balance_cents - EXHAUSTED_AT_CENTS)


def crosses_a_line(before_cents: int, after_cents: int, threshold_cents: int) -> bool:
    """Whether a meter that is on meets one of settle()'s lines on its way; if not, settle()
    would only move the balance — the import path's shortcut."""
    return after_cents < before_cents and (
        before_cents >= threshold_cents > after_cents
        or before_cents >= 0 > after_cents
        or before_cents > EXHAUSTED_AT_CENTS >= after_cents
    )


def _cut_off(meter: Meter, at: datetime) -> tuple[Meter, Event]:
    common = dict(ean=meter.ean, energy=meter.energy, language=meter.language, at=at,
                  balance_cents=meter.balance_cents,
                  minimum_topup_cents=minimum_topup_cents(meter.balance_cents))
    event = PowerLimited(**common) if meter.power_limiter else Disconnected(**common)
    return replace(meter, supply=Supply.OFF, pending_since=None), event


def end_pending(meter: Meter, now: datetime, ndp: NonDisconnectionPeriod) -> tuple[Meter, list[Event]]:
    """A meter exhausted inside the NDP is cut off when the period ends (at that moment)."""
    if meter.supply is not Supply.PENDING or meter.pending_since is None:
        return meter, []
    ends = ndp.end_after(meter.pending_since)
    if ends > now:
        return meter, []
    cut, event = _cut_off(meter, ends)
    return cut, [event]


# How serious each piece of news is: of the lines one posting crosses, the customer is told of
# the most serious only (a day's consumption often crosses several at once).
_SEVERITY = {LowCredit: 1, EmergencyCreditStarted: 2, DisconnectionPending: 3, Disconnected: 4,
             PowerLimited: 4}


def headline(events: list[Event]) -> list[Event]:
    """The one event of a posting worth telling: the supply restored if it was (the last word),
    else the most serious line crossed. Keeps it a list: empty when nothing changed."""
    if not events:
        return []
    restored = [e for e in events if isinstance(e, ReconnectionAllowed)]
    if restored:
        return restored[-1:]
    return [max(events, key=lambda e: _SEVERITY[type(e)])]


def settle(meter: Meter, new_balance_cents: int, now: datetime,
           ndp: NonDisconnectionPeriod) -> tuple[Meter, list[Event]]:
    """Move the balance and return the one event to tell of, if any (see headline()).

    Each line (threshold, 0, −15 €, and 0,50 € for a cut-off meter) is crossed downwards — or
    upwards for reconnection; crossing back re-arms it.
    """
    meter, events = _settle_every_line(meter, new_balance_cents, now, ndp)
    return meter, headline(events)


def _settle_every_line(meter: Meter, new_balance_cents: int, now: datetime,
                       ndp: NonDisconnectionPeriod) -> tuple[Meter, list[Event]]:
    meter, events = end_pending(meter, now, ndp)
    before = meter.balance_cents
    after = new_balance_cents
    meter = replace(meter, balance_cents=after)
    common = dict(ean=meter.ean, energy=meter.energy, language=meter.language, at=now,
                  balance_cents=after)

    on = meter.supply is Supply.ON  # a cut meter is told nothing of lines it already passed
    if on and before >= meter.threshold_cents > after:
        events.append(LowCredit(threshold_cents=meter.threshold_cents, **common))
    if on and before >= 0 > after:
        events.append(EmergencyCreditStarted(
            emergency_credit_left_cents=emergency_credit_left_cents(after),
            power_limiter=bool(meter.power_limiter), **common))

    if meter.supply is Supply.OFF:
        if after >= RECONNECTION_MINIMUM_CENTS:
            meter = replace(meter, supply=Supply.ON)
            events.append(ReconnectionAllowed(power_limiter=bool(meter.power_limiter), **common))
    elif meter.supply is Supply.PENDING:
        if after > EXHAUSTED_AT_CENTS:
            meter = replace(meter, supply=Supply.ON, pending_since=None)  # topped up in time
    elif before > EXHAUSTED_AT_CENTS >= after:
        if ndp.contains(now):
            meter = replace(meter, supply=Supply.PENDING, pending_since=now)
            events.append(DisconnectionPending(
                disconnect_at=ndp.end_after(now),
                minimum_topup_cents=minimum_topup_to_avoid_cut_cents(after),
                power_limiter=bool(meter.power_limiter), **common))
        else:
            meter, event = _cut_off(meter, now)
            events.append(event)
    return meter, events


class TopUpOutcome(StrEnum):
    """What a top-up left, for its confirmation to say."""

    CREDITED = "credited"  # the balance is 0 or more, supply on
    EMERGENCY = "emergency"  # still below 0: emergency credit in use
    CUT_AVOIDED = "cut_avoided"  # a pending disconnection is cancelled
    STILL_PENDING = "still_pending"  # not enough: the cut still happens at disconnect_at
    RECONNECTION = "reconnection"  # the supply can be restored (the button)
    STILL_OFF = "still_off"  # not enough to restore the supply


def top_up(meter: Meter, amount_cents: int, now: datetime, ndp: NonDisconnectionPeriod, *,
           channel: str) -> tuple[Meter, list[Event]]:
    """A payment: one event, its confirmation, saying what it left and what more is needed."""
    before = meter
    meter, events = _settle_every_line(meter, meter.balance_cents + amount_cents, now, ndp)
    balance = meter.balance_cents
    disconnect_at = None
    if meter.supply is Supply.OFF:
        outcome, more = TopUpOutcome.STILL_OFF, minimum_topup_cents(balance)
    elif meter.supply is Supply.PENDING:
        outcome, more = TopUpOutcome.STILL_PENDING, minimum_topup_to_avoid_cut_cents(balance)
        disconnect_at = ndp.end_after(meter.pending_since) if meter.pending_since else None
    elif any(isinstance(e, ReconnectionAllowed) for e in events):
        outcome, more = TopUpOutcome.RECONNECTION, 0
    elif before.supply is Supply.PENDING:
        outcome, more = TopUpOutcome.CUT_AVOIDED, 0
    elif balance < 0:
        outcome, more = TopUpOutcome.EMERGENCY, 0
    else:
        outcome, more = TopUpOutcome.CREDITED, 0
    return meter, [TopUpReceived(
        ean=meter.ean, energy=meter.energy, language=meter.language, at=now, balance_cents=balance,
        amount_cents=amount_cents, channel=channel, outcome=outcome.value,
        minimum_topup_cents=more, disconnect_at=disconnect_at,
        power_limiter=bool(meter.power_limiter),
        emergency_credit_left_cents=emergency_credit_left_cents(balance),
        usable_before_disconnection_cents=usable_before_disconnection_cents(balance))]
