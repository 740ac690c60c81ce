"""How often one caller may look up balances: a guard against guessing other people's codes.

Pure: the caller's recent look-ups come from the audit trail (every server of the line writes it
before answering, so every server sees the same history), the moment from an injected clock.
"""

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

WINDOW = timedelta(hours=1)
# The audit outcomes of a code that was typed and checked (silence is not a look-up).
LOOKED_UP = frozenset({"found", "unknown", "invalid", "code_mistyped"})
UNKNOWN = "unknown"


class Lookup(Protocol):
    at: datetime
    outcome: str


@dataclass(frozen=True)
class LookupRules:
    lookups_per_hour: int = 20
    unknown_before_lockout: int = 5
    lockout: timedelta = timedelta(hours=1)

    @property
    def memory(self) -> timedelta:
        """How far back a caller's look-ups still matter: a lockout's misses, then the lockout."""
        return WINDOW + self.lockout


def locked_until(history: Sequence[Lookup], rules: LookupRules) -> datetime | None:
    """When the last lockout of this history ends: `unknown_before_lockout` unknown codes within
    an hour lock the caller out; the misses that did so count no more."""
    misses: deque[datetime] = deque()
    until = None
    for lookup in history:
        if lookup.outcome != UNKNOWN or (until and lookup.at < until):
            continue
        while misses and misses[0] <= lookup.at - WINDOW:
            misses.popleft()
        misses.append(lookup.at)
        if len(misses) >= rules.unknown_before_lockout:
            until = lookup.at + rules.lockout
            misses.clear()
    return until


def refused_until(history: Sequence[Lookup], now: datetime, rules: LookupRules) -> datetime | None:
    """Until when this caller, whose look-ups since `now - rules.memory` are `history` (oldest
    first), may not look up a code; None if they may now. Either limit may be the later one: a
    lockout's end, or the moment enough of the last hour's look-ups have left it."""
    lookups = [lookup for lookup in history if lookup.outcome in LOOKED_UP]
    ends = []
    locked = locked_until(lookups, rules)
    if locked and locked > now:
        ends.append(locked)
    recent = sorted(lookup.at for lookup in lookups if lookup.at > now - WINDOW)
    over = len(recent) - rules.lookups_per_hour
    if over >= 0:  # one look-up more is allowed once `over + 1` of them have left the hour
        ends.append(recent[over] + WINDOW)
    return max(ends) if ends else None


def may_look_up(history: Sequence[Lookup], now: datetime, rules: LookupRules) -> bool:
    """May this caller, whose look-ups since `now - rules.memory` are `history` (oldest first),
    look up a code now?"""
    return refused_until(history, now, rules) is None
