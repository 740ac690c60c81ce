"""When customer service answers the phone, and where the line transfers a caller. Pure.

Hours are Brussels wall-clock hours for each weekday (Monday to Friday 8:00–20:00 and Saturday
9:00–13:00 by default), never on a public holiday of the country (the `holidays` package, Belgium
by default). Times in and out are aware datetimes; the answers are in UTC.

    hours = OpeningHours.parse("mon-fri 08:00-20:00, sat 09:00-13:00")
    hours.is_open(now)          # False on Easter Monday
    hours.next_opening(now)     # the next moment it opens, for "it opens on Tuesday at eight"
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType

import holidays
import phonenumbers

from ledger import BRUSSELS
from wording import CUSTOMER_SERVICE

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = "mon-fri 08:00-20:00, sat 09:00-13:00"
_SPAN = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
                   r"(?P<opens>\d{2}:\d{2})-(?P<closes>\d{2}:\d{2})$")
LONGEST_CLOSURE = 31  # days looked ahead for the next opening (a schedule with no day open: none)


@functools.lru_cache(maxsize=16)
def _public_holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def _hour(text: str, schedule: str) -> time:
    hours, minutes = int(text[:2]), int(text[3:])
    if hours > 23 or minutes > 59:
        raise ValueError(f"{schedule!r}: {text} is no time of day (00:00 to 23:59)")
    return time(hours, minutes)


@dataclass(frozen=True)
class OpeningHours:
    """`weekly`: Monday (0) to Sunday (6) → (opens, closes), a day left out is closed."""

    weekly: Mapping[int, tuple[time, time]]
    holiday_country: str | None = "BE"
    extra_closures: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str, holiday_country: str | None = "BE") -> "OpeningHours":
        """"mon-fri 08:00-20:00, sat 09:00-13:00": comma-separated spans of days, each with its
        hours; a ValueError names what is wrong."""
        weekly: dict[int, tuple[time, time]] = {}
        for part in (piece.strip().lower() for piece in text.split(",")):
            found = _SPAN.match(part)
            if not found:
                raise ValueError(f"{text!r}: {part!r} is not like 'mon-fri 08:00-20:00'")
            names = [found["first"], found["last"] or found["first"]]
            unknown = [name for name in names if name not in WEEKDAYS]
            if unknown:
                raise ValueError(f"{text!r}: {unknown[0]!r} is no day; days are "
                                 + ", ".join(WEEKDAYS))
            first, last = (WEEKDAYS.index(name) for name in names)
            opens, closes = _hour(found["opens"], text), _hour(found["closes"], text)
            if not opens < closes:
                raise ValueError(f"{text!r}: {part!r} closes before it opens")
            if last < first:
                raise ValueError(f"{text!r}: {part!r} runs backwards (mon-fri, not fri-mon)")
            for day in range(first, last + 1):
                if day in weekly:
                    raise ValueError(f"{text!r}: {WEEKDAYS[day]} is given twice")
                weekly[day] = (opens, closes)
        return cls(MappingProxyType(weekly), holiday_country)

    def spans(self) -> list[tuple[int, int, time, time]]:
        """(first day, last day, opens, closes) of the runs of days with the same hours, Monday
        first: "Monday to Friday 8-20, Saturday 9-13", as the line says them."""
        runs: list[tuple[int, int, time, time]] = []
        for day in sorted(self.weekly):
            opens, closes = self.weekly[day]
            if runs and runs[-1][1] == day - 1 and runs[-1][2:] == (opens, closes):
                runs[-1] = (runs[-1][0], day, opens, closes)
            else:
                runs.append((day, day, opens, closes))
        return runs

    def _closed_all_day(self, day: date) -> bool:
        if day.weekday() not in self.weekly or day in self.extra_closures:
            return True
        return (self.holiday_country is not None
                and day in _public_holidays(self.holiday_country, day.year))

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(BRUSSELS)
        if self._closed_all_day(local.date()):
            return False
        opens, closes = self.weekly[local.weekday()]
        return opens <= local.time() < closes

    def next_opening(self, moment: datetime) -> datetime | None:
        """The first opening after `moment` (UTC), or None if none comes within a month."""
        local = moment.astimezone(BRUSSELS)
        for ahead in range(LONGEST_CLOSURE + 1):
            day = local.date() + timedelta(days=ahead)
            if self._closed_all_day(day):
                continue
            # The wall-clock hour that day, whatever its offset (summer time or not).
            opening = datetime.combine(day, self.weekly[day.weekday()][0], tzinfo=BRUSSELS)
            if opening > local:
                return opening.astimezone(UTC)
        return None


@dataclass(frozen=True)
class CustomerService:
    """The number the line gives and transfers to, its opening hours, and the keys its own menu
    needs to reach the right desk (`w` is half a second's wait, as Twilio's sendDigits reads)."""

    number: str  # as written and read out: "078/15.78.01"
    hours: OpeningHours
    keys: str = "wwww2"  # ORES's option 2: prepayment

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d+(?:[ ./]\d+)*", self.number):
            raise ValueError(f"{self.number!r}: write the number as it is read out, digits grouped "
                             "by '/', '.' or ' ' (078/15.78.01)")
        if not re.fullmatch(r"[0-9w#*]*", self.keys):
            raise ValueError(f"{self.keys!r}: the keys to send are digits, '#', '*' and 'w'")
        self.dialled()  # a number that cannot be dialled fails at start

    def dialled(self) -> str:
        """The number in E.164, as <Dial> wants it."""
        try:
            parsed = phonenumbers.parse(self.number, "BE")
        except phonenumbers.NumberParseException as error:
            raise ValueError(f"{self.number!r} is not a phone number: {error}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError(f"{self.number!r} is not a valid phone number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def default_customer_service() -> CustomerService:
    """ORES's customer service (wording/public.py), its default hours, its option 2."""
    return CustomerService(CUSTOMER_SERVICE, OpeningHours.parse(DEFAULT_HOURS))
