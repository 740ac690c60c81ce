"""Time comes from an injected clock, so rules that depend on time can be tested at any hour."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class SettableClock:
    """A clock that stays where it is told; demo history and tests move it by hand."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def set(self, moment: datetime) -> None:
        self.current = utc(moment)


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in saldo carries its zone")
    return moment.astimezone(UTC)


def to_text(moment: datetime) -> str:
    """UTC as fixed-width ISO text, which sorts like time on SQLite and PostgreSQL alike."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_text(text: str) -> datetime:
    moment = datetime.fromisoformat(text)  # ten times faster than strptime, on the hot path
    if moment.tzinfo is None:
        raise ValueError(f"{text!r}: stored times end in Z")
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)  # "Z" gives UTC itself
