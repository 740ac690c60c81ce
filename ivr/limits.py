"""How often one caller may look up balances, and all callers together may type unknown codes:
a guard against guessing other people's codes.

Pure: the recent look-ups come from the audit trail (every server of the line writes it before
answering, so every server sees the same history), the moment from an injected clock.

Who "one caller" is: the caller's number in E.164 (`0032470555001`, `0470 55 50 01` and
`+32470555001` are one caller), or, when the number is withheld, the call itself — withheld
callers do not share one lockout, and the ceiling on unknown codes across all callers bounds what
many withheld calls may try.
"""

import functools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import phonenumbers

WINDOW = timedelta(hours=1)
CEILING_WINDOW = timedelta(minutes=1)  # the ceiling on unknown codes, all callers together
REGION = "BE"  # a number written nationally (0470…) is Belgian
# What Twilio sends as From when the caller withholds their number: the words (persisted as such
# since 2022), and the keypad spellings it used to send and may still: ANONYMOUS, RESTRICTED,
# BLOCKED, UNKNOWN (help.twilio.com, "Why am I getting calls from these strange numbers?").
WITHHELD = frozenset({"", "anonymous", "restricted", "unknown", "blocked", "private",
                      "unavailable", "withheld", "+266696687", "+7378742833", "+2562533",
                      "+8656696"})
# The audit outcomes of a code that was typed and checked (silence is not a look-up).
LOOKED_UP = frozenset({"found", "unknown", "invalid", "code_mistyped"})
UNKNOWN = "unknown"


class Lookup(Protocol):
    at: datetime
    outcome: str


def caller_identity(number: str, call: str) -> str:
    """Whom the per-caller limits count: `number` (Twilio's From) in E.164; `call:` and the
    CallSid when the number is withheld; the text as sent when it is no phone number at all
    (`client:…`, `sip:…`)."""
    text = number.strip()
    if text.lower() in WITHHELD:
        return f"call:{call}"
    e164 = _e164(text)
    if e164 is None:
        return f"as-sent:{text}"
    return f"call:{call}" if e164 in WITHHELD else e164


# A call's number comes with each of its webhooks, and parsing it took a twentieth of an
# answer's CPU: the last few thousand numbers' forms are kept, in this process's memory only.
@functools.lru_cache(maxsize=4096)
def _e164(text: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class LookupRules:
    lookups_per_hour: int = 20
    unknown_before_lockout: int = 5
    lockout: timedelta = timedelta(hours=1)
    unknown_codes_per_minute: int = 30  # all callers together

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


def ceiling_until(unknown_at: Iterable[datetime], now: datetime,
                  rules: LookupRules) -> datetime | None:
    """Until when nobody may look up a code, because the unknown codes typed by all callers in
    the last minute (`unknown_at`, their times) reached `rules.unknown_codes_per_minute`; None if
    they may now."""
    recent = sorted(at for at in unknown_at if at > now - CEILING_WINDOW)
    over = len(recent) - rules.unknown_codes_per_minute
    return None if over < 0 else recent[over] + CEILING_WINDOW
