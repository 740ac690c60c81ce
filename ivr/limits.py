"""How often one caller may look up balances: a guard against guessing other people's codes.

Pure bookkeeping over an injected clock; the state lives in memory for one server process.
"""

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger import Clock

WINDOW = timedelta(hours=1)


@dataclass
class CallerLimits:
    clock: Clock
    lookups_per_hour: int = 20
    unknown_before_lockout: int = 5
    lockout: timedelta = timedelta(hours=1)
    _lookups: dict[str, deque[datetime]] = field(default_factory=lambda: defaultdict(deque))
    _unknown: dict[str, deque[datetime]] = field(default_factory=lambda: defaultdict(deque))
    _locked_until: dict[str, datetime] = field(default_factory=dict)

    def _recent(self, times: deque[datetime]) -> deque[datetime]:
        since = self.clock.now() - WINDOW
        while times and times[0] <= since:
            times.popleft()
        return times

    def allows(self, caller: str) -> bool:
        """May this caller look up a code now?"""
        until = self._locked_until.get(caller)
        if until and until > self.clock.now():
            return False
        self._locked_until.pop(caller, None)
        return len(self._recent(self._lookups[caller])) < self.lookups_per_hour

    def looked_up(self, caller: str, *, unknown: bool) -> None:
        now = self.clock.now()
        self._lookups[caller].append(now)
        if unknown:
            misses = self._recent(self._unknown[caller])
            misses.append(now)
            if len(misses) >= self.unknown_before_lockout:
                self._locked_until[caller] = now + self.lockout
                misses.clear()
