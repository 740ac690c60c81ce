"""The non-disconnection period (NDP): when no meter may be cut off.

Default (card meters in Wallonia, seed 003): weekdays 16:00–08:00, whole Saturdays and Sundays,
and Belgian public holidays, in Europe/Brussels. Everything is configuration.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import holidays

from .clock import BRUSSELS, utc


@dataclass(frozen=True)
class NonDisconnectionPeriod:
    protected_from: time = time(16, 0)  # a working day's protection starts then...
    protected_until: time = time(8, 0)  # ...and lasts until this hour of the next working day
    weekends: bool = True
    holiday_country: str | None = "BE"
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.protected_from < self.protected_until:
            raise ValueError("the protected hours must span the night (until < from; "
                             "equal hours protect no hours)")

    def _holidays(self, year: int) -> holidays.HolidayBase | dict:
        if self.holiday_country is None:
            return {}
        return _country_holidays(self.holiday_country, year)

    def load_holidays(self, moment: datetime) -> None:
        """Loads now the public holidays of the moment's year in Brussels and of the next (the
        first load takes ~100 ms)."""
        year = moment.astimezone(BRUSSELS).year
        for loaded in (year, year + 1):
            self._holidays(loaded)

    def is_protected_day(self, day: date) -> bool:
        """A day protected from its first to its last minute."""
        if self.weekends and day.weekday() >= 5:
            return True
        return self.is_public_holiday(day)

    def is_public_holiday(self, day: date) -> bool:
        return day in self.extra_holidays or day in self._holidays(day.year)

    def contains(self, moment: datetime) -> bool:
        local = utc(moment).astimezone(BRUSSELS)
        if self.is_protected_day(local.date()):
            return True
        if self.protected_from == self.protected_until:
            return False  # protected days only
        return local.time() >= self.protected_from or local.time() < self.protected_until

    def end_after(self, moment: datetime) -> datetime:
        """When the period containing `moment` ends (UTC); `moment` itself if it is outside one."""
        if not self.contains(moment):
            return utc(moment)
        local = utc(moment).astimezone(BRUSSELS)
        day = local.date()
        if self.is_protected_day(day) or local.time() >= self.protected_from:
            day += timedelta(days=1)
        while self.is_protected_day(day):
            day += timedelta(days=1)
        if self.protected_from == self.protected_until:
            return utc(datetime.combine(day, time(0), tzinfo=BRUSSELS))  # whole days only
        return utc(datetime.combine(day, self.protected_until, tzinfo=BRUSSELS))


_cache: dict[tuple[str, int], holidays.HolidayBase] = {}


def _country_holidays(country: str, year: int) -> holidays.HolidayBase:
    key = (country, year)
    if key not in _cache:
        _cache[key] = holidays.country_holidays(country, years=year)
    return _cache[key]
