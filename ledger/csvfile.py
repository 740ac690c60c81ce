"""Reading the operators' CSV files: ',' or ';' separated, UTF-8 with or without BOM.

Each bad value is reported with its line and field; the valid rows go on to the ledger.
"""

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

from .clock import BRUSSELS
from .contacts import normalise_email, normalise_mobile
from .ean import FULL_LENGTH, SHORT_LENGTH, is_digits, short_or_full
from .errors import InvalidInput
from .domain import LANGUAGES, known
from .inputs import AccountInput, AppointmentInput, ConsumptionInput, RowError
from .limits import TEXT_LIMITS, check_text
from .money import parse_cents

ACCOUNT_COLUMNS = ("ean", "energy", "language", "name", "mobile", "email", "notify",
                   "low_credit_threshold", "transferred_balance", "activated_at", "power_limiter",
                   "cpas")
ACCOUNT_REQUIRED = ("ean", "energy", "language")
CONSUMPTION_COLUMNS = ("ean", "day", "amount", "quantity", "unit")
CONSUMPTION_REQUIRED = ("ean", "day", "amount")
APPOINTMENT_COLUMNS = ("ean", "start", "end", "mobile", "language", "status")
APPOINTMENT_REQUIRED = ("ean",)
APPOINTMENT_STATUSES = ("booked", "cancelled")  # empty: booked
LONGEST_WINDOW_HOURS = 12

_YES = {"yes", "y", "true", "1", "oui", "ja", "o", "j"}
_NO = {"no", "n", "false", "0", "non", "nee", "nein", ""}

T = TypeVar("T")


# A physical line longer than this is refused on its own (as a blank line is skipped), so that
# one huge value neither fills the memory nor stops the file.
LONGEST_LINE = 8192


class FileRefused(Exception):
    """The whole file cannot be read (encoding, header); nothing was posted."""


class RowRefused(Exception):
    """Every bad value of one row, each an InvalidInput naming its field."""

    def __init__(self, errors: list[InvalidInput]):
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


class _Fields:
    """Parses a row's values one by one, keeping every refusal rather than the first."""

    def __init__(self) -> None:
        self.errors: list[InvalidInput] = []

    def take(self, parse: Callable[..., T], *args) -> T | None:
        try:
            return parse(*args)
        except InvalidInput as error:
            self.errors.append(error)
            return None

    def text(self, field: str, value: str | None) -> str | None:
        return self.take(check_text, field, value)

    def done(self) -> None:
        if self.errors:
            raise RowRefused(self.errors)


@dataclass
class Parsed(Generic[T]):
    rows: list[T]
    errors: list[RowError]


@dataclass
class Streamed(Generic[T]):
    """A file's rows, read as they are iterated (once): the file is never held whole.
    `errors` grows as the rows are read, and is complete once they are exhausted."""

    rows: Iterator[T]
    errors: list[RowError]


def _text_lines(raw: Iterable[bytes], too_long: list[RowError]) -> Iterator[str]:
    """The file's lines decoded one at a time (the file is streamed, never read whole)."""
    for number, line in enumerate(raw, start=1):
        if len(line) > LONGEST_LINE:
            too_long.append(RowError(number, "(row)", f"a line of {len(line)} bytes: at most "
                                     f"{LONGEST_LINE} are read"))
            yield "\n"  # skipped as a blank line
            continue
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise FileRefused(f"line {number}: not UTF-8 text (byte {error.start + 1} of the "
                              "line cannot be read); save the file as UTF-8") from None
        if "\x00" in text:
            too_long.append(RowError(number, "(row)", "contains a NUL character"))
            yield "\n"
            continue
        yield text


def _read_table(path: Path, known: tuple[str, ...], required: tuple[str, ...],
                too_long: list[RowError]) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    try:
        raw = path.open("rb")
    except OSError as error:
        raise FileRefused(error.strerror or str(error)) from None
    lines = _text_lines(_closing(raw), too_long)
    first_line = next(lines, None)
    if first_line is None:
        raise FileRefused("the file is empty: it needs a header row")
    if too_long:
        raise FileRefused(f"line 1: {too_long[0].message}")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(_chain(first_line, lines), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused("the file is empty: it needs a header row") from None
    except csv.Error as error:
        raise FileRefused(f"line 1: {error}") from None
    columns = [name.strip().lower() for name in header]
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise FileRefused(f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(known)})")
    twice = [c for c in known if columns.count(c) > 1]
    if twice:
        raise FileRefused(f"line 1: the column {twice[0]!r} appears twice")
    missing = [c for c in required if c not in columns]
    if missing:
        raise FileRefused(f"line 1: the column {missing[0]!r} is missing")
    return columns, _lines(reader)


def _closing(raw) -> Iterator[bytes]:
    with raw:
        yield from raw


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _lines(reader) -> Iterator[tuple[int, list[str]]]:
    try:
        for values in reader:
            yield reader.line_num, values
    except csv.Error as error:  # an unclosed quote, a field too large…
        raise FileRefused(f"line {reader.line_num}: {error}") from None


Build = Callable[[int, list[str], dict[str, int]], T]


def _stream_rows(path: Path, known: tuple[str, ...], required: tuple[str, ...],
                 build: Build) -> Streamed[T]:
    """Rows built from each line's values (stripped); a line must have the header's width.
    The header is checked now; a line further on that cannot be read raises FileRefused when
    the rows reach it."""
    skipped: list[RowError] = []
    columns, records = _read_table(path, known, required, skipped)
    errors: list[RowError] = []
    return Streamed(_built_rows(columns, records, required, build, skipped, errors), errors)


def _built_rows(columns: list[str], records: Iterator[tuple[int, list[str]]],
                required: tuple[str, ...], build: Build, skipped: list[RowError],
                errors: list[RowError]) -> Iterator[T]:
    position = {name: i for i, name in enumerate(columns)}
    required_at = [(name, position[name]) for name in required]
    width = len(columns)
    for line, values in records:
        while skipped:
            errors.append(skipped.pop(0))
        values = [v.strip() for v in values]
        if not any(values):
            continue  # a blank line, or one of separators only
        if len(values) != width:
            # Never guess which value is missing: a decimal comma in a ','-separated file
            # would shift every value after it into the wrong column.
            errors.append(RowError(line, "(row)", f"{len(values)} values for {width} columns "
                                   "(a value with a comma needs quotes, or use ';')"))
            continue
        missing = [RowError(line, name, "is required") for name, i in required_at if not values[i]]
        try:
            row = build(line, values, position)
        except RowRefused as refused:
            named = {error.field for error in missing}
            errors.extend(missing)
            errors.extend(RowError(line, error.field, error.message) for error in refused.errors
                          if error.field not in named)
            continue
        except InvalidInput as error:
            errors.extend(missing or [RowError(line, error.field, error.message)])
            continue
        if missing:
            errors.extend(missing)
        else:
            yield row
    errors.extend(skipped)


def _parse_rows(path: Path, known: tuple[str, ...], required: tuple[str, ...],
                build: Build) -> Parsed[T]:
    streamed = _stream_rows(path, known, required, build)
    return Parsed(list(streamed.rows), streamed.errors)


def _optional(record: dict[str, str], name: str) -> str | None:
    return record.get(name) or None


def parse_yes_no(text: str, field: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise InvalidInput(field, f"{text!r} is not yes or no", "yes_no.invalid", text=text)


_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
EARLIEST_YEAR = 2000  # before smart meters existed: a typing error


def parse_day(text: str, field: str = "day") -> date:
    try:
        if not _DAY.match(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a day written YYYY-MM-DD", "day.malformed",
                           text=text) from None
    if day.year < EARLIEST_YEAR:
        raise InvalidInput(field, f"{text!r} lies before {EARLIEST_YEAR}", "date.too_early",
                           text=text, year=EARLIEST_YEAR)
    return day


def parse_moment(text: str, field: str) -> datetime:
    """A date or a date and time; without a zone it is Brussels time."""
    try:
        if not _DAY.match(text[:10]):
            raise ValueError
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a date (YYYY-MM-DD) or date and time",
                           "moment.malformed", text=text) from None
    if moment.year < EARLIEST_YEAR:
        raise InvalidInput(field, f"{text!r} lies before {EARLIEST_YEAR}", "date.too_early",
                           text=text, year=EARLIEST_YEAR)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BRUSSELS)
    return moment.astimezone(UTC)


def _account(line: int, values: list[str], position: dict[str, int]) -> AccountInput:
    r = {name: values[i] for name, i in position.items()}
    f = _Fields()
    mobile = f.text("mobile", _optional(r, "mobile"))
    email = f.text("email", _optional(r, "email"))
    threshold = _optional(r, "low_credit_threshold")
    transferred = _optional(r, "transferred_balance")
    activated = _optional(r, "activated_at")
    row = AccountInput(
        ean=f.take(short_or_full, r["ean"]) if r["ean"] else "",
        energy=r["energy"].lower(),
        language=r["language"].lower(),
        name=f.text("name", _optional(r, "name")),
        mobile=f.take(normalise_mobile, mobile) if mobile else None,
        email=f.take(normalise_email, email) if email else None,
        notify=(_optional(r, "notify") or "").lower() or None,
        threshold_cents=(f.take(parse_cents, threshold, "low_credit_threshold")
                         if threshold else None),
        transferred_cents=(f.take(parse_cents, transferred, "transferred_balance")
                           if transferred else None),
        activated_at=f.take(parse_moment, activated, "activated_at") if activated else None,
        power_limiter=bool(f.take(parse_yes_no, r.get("power_limiter", ""), "power_limiter")),
        cpas=f.text("cpas", _optional(r, "cpas")),
        line=line,
    )
    f.done()
    return row


def _consumption(line: int, values: list[str], position: dict[str, int]) -> ConsumptionInput:
    ean = values[position["ean"]]
    quantity = position.get("quantity")
    unit = position.get("unit")
    day = values[position["day"]]
    amount = values[position["amount"]]
    if (is_digits(ean) and len(ean) in (SHORT_LENGTH, FULL_LENGTH) and _DAY.match(day)
            and (quantity is None or len(values[quantity]) <= TEXT_LIMITS["quantity"])
            and (unit is None or len(values[unit]) <= TEXT_LIMITS["unit"])):
        try:  # the common row, without the bookkeeping of every refusal
            return ConsumptionInput(ean, parse_day(day), parse_cents(amount, "amount"),
                                    values[quantity] or None if quantity is not None else None,
                                    values[unit] or None if unit is not None else None, line)
        except InvalidInput:
            pass
    f = _Fields()
    if ean and not (is_digits(ean) and len(ean) in (SHORT_LENGTH, FULL_LENGTH)):
        f.take(short_or_full, ean)  # says what is wrong with it
    # An 18-digit code is checked against the accounts: the ledger says when it is mistyped.
    row = ConsumptionInput(
        ean,
        f.take(parse_day, day) if day else None,
        f.take(parse_cents, amount, "amount") if amount else None,
        f.text("quantity", values[quantity] or None) if quantity is not None else None,
        f.text("unit", values[unit] or None) if unit is not None else None,
        line,
    )
    f.done()
    return row


def _appointment(line: int, values: list[str], position: dict[str, int]) -> AppointmentInput:
    r = {name: values[i] for name, i in position.items()}
    f = _Fields()
    status = (_optional(r, "status") or "booked").lower()
    f.take(known, "status", status, APPOINTMENT_STATUSES)
    cancelled = status == "cancelled"
    start, end = _optional(r, "start"), _optional(r, "end")
    if not cancelled:
        for name, value in (("start", start), ("end", end)):
            if not value:
                f.errors.append(InvalidInput(name, "is required for a booked appointment",
                                             "value.required"))
    starts_at = f.take(parse_moment, start, "start") if start else None
    ends_at = f.take(parse_moment, end, "end") if end else None
    if starts_at and ends_at and not (
            starts_at < ends_at <= starts_at + timedelta(hours=LONGEST_WINDOW_HOURS)):
        f.errors.append(InvalidInput("end", f"the window must end after it starts, within "
                                     f"{LONGEST_WINDOW_HOURS} hours", "value.refused"))
    mobile = f.text("mobile", _optional(r, "mobile"))
    language = (_optional(r, "language") or "").lower() or None
    if language:
        f.take(known, "language", language, LANGUAGES)
    row = AppointmentInput(
        ean=f.take(short_or_full, r["ean"]) if r["ean"] else "",
        starts_at=None if cancelled else starts_at, ends_at=None if cancelled else ends_at,
        mobile=f.take(normalise_mobile, mobile) if mobile else None,
        language=language, cancelled=cancelled, line=line)
    f.done()
    return row


def read_accounts(path: Path) -> Parsed[AccountInput]:
    return _parse_rows(path, ACCOUNT_COLUMNS, ACCOUNT_REQUIRED, _account)


def read_consumption(path: Path) -> Parsed[ConsumptionInput]:
    return _parse_rows(path, CONSUMPTION_COLUMNS, CONSUMPTION_REQUIRED, _consumption)


def stream_accounts(path: Path) -> Streamed[AccountInput]:
    return _stream_rows(path, ACCOUNT_COLUMNS, ACCOUNT_REQUIRED, _account)


def stream_consumption(path: Path) -> Streamed[ConsumptionInput]:
    return _stream_rows(path, CONSUMPTION_COLUMNS, CONSUMPTION_REQUIRED, _consumption)


def read_appointments(path: Path) -> Parsed[AppointmentInput]:
    """An appointments file is a day's bookings: read whole."""
    return _parse_rows(path, APPOINTMENT_COLUMNS, APPOINTMENT_REQUIRED, _appointment)
