"""Reading the operators' CSV files: ',' or ';' separated, UTF-8 with or without BOM.

Each bad value is reported with its line and field; the valid rows go on to the ledger.
"""

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Generic, TypeVar

from .clock import BRUSSELS
from .contacts import normalise_email, normalise_mobile
from .ean import FULL_LENGTH, SHORT_LENGTH, is_digits, short_or_full
from .errors import InvalidInput
from .money import parse_cents
from .service import AccountInput, ConsumptionInput, RowError

ACCOUNT_COLUMNS = ("ean", "energy", "language", "name", "mobile", "email", "notify",
                   "low_credit_threshold", "transferred_balance", "activated_at", "power_limiter",
                   "cpas")
ACCOUNT_REQUIRED = ("ean", "energy", "language")
CONSUMPTION_COLUMNS = ("ean", "day", "amount", "quantity", "unit")
CONSUMPTION_REQUIRED = ("ean", "day", "amount")

_YES = {"yes", "y", "true", "1", "oui", "ja", "o", "j"}
_NO = {"no", "n", "false", "0", "non", "nee", "nein", ""}

T = TypeVar("T")


class FileRefused(Exception):
    """The whole file cannot be read (encoding, header); nothing was posted."""


@dataclass
class Parsed(Generic[T]):
    rows: list[T]
    errors: list[RowError]


def _read_table(path: Path, known: tuple[str, ...], required: tuple[str, ...]
                ) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused(f"not UTF-8 text (byte {error.start} cannot be read)") from None
    except OSError as error:
        raise FileRefused(error.strerror or str(error)) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused("the file is empty: it needs a header row") from None
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


def _lines(reader) -> Iterator[tuple[int, list[str]]]:
    try:
        for values in reader:
            yield reader.line_num, values
    except csv.Error as error:  # an unclosed quote, a field too large…
        raise FileRefused(f"line {reader.line_num}: {error}") from None


Build = Callable[[int, list[str], dict[str, int]], T]


def _parse_rows(path: Path, known: tuple[str, ...], required: tuple[str, ...],
                build: Build) -> Parsed[T]:
    """Rows built from each line's values (stripped); a line must have the header's width."""
    columns, records = _read_table(path, known, required)
    position = {name: i for i, name in enumerate(columns)}
    required_at = [(name, position[name]) for name in required]
    width = len(columns)
    rows: list[T] = []
    errors: list[RowError] = []
    for line, values in records:
        values = [v.strip() for v in values]
        if not any(values):
            continue  # a blank line, or one of separators only
        if len(values) != width:
            # Never guess which value is missing: a decimal comma in a ','-separated file
            # would shift every value after it into the wrong column.
            errors.append(RowError(line, "(row)", f"{len(values)} values for {width} columns "
                                   "(a value with a comma needs quotes, or use ';')"))
            continue
        try:
            for name, i in required_at:
                if not values[i]:
                    raise InvalidInput(name, "is required", "value.required")
            rows.append(build(line, values, position))
        except InvalidInput as error:
            errors.append(RowError(line, error.field, error.message))
    return Parsed(rows, errors)


def _optional(record: dict[str, str], name: str) -> str | None:
    return record.get(name) or None


def parse_yes_no(text: str, field: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise InvalidInput(field, f"{text!r} is not yes or no", "yes_no.invalid", text=text)


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
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
    mobile = _optional(r, "mobile")
    email = _optional(r, "email")
    threshold = _optional(r, "low_credit_threshold")
    transferred = _optional(r, "transferred_balance")
    activated = _optional(r, "activated_at")
    return AccountInput(
        ean=short_or_full(r["ean"]),
        energy=r["energy"].lower(),
        language=r["language"].lower(),
        name=_optional(r, "name"),
        mobile=normalise_mobile(mobile) if mobile else None,
        email=normalise_email(email) if email else None,
        notify=(_optional(r, "notify") or "").lower() or None,
        threshold_cents=parse_cents(threshold, "low_credit_threshold") if threshold else None,
        transferred_cents=parse_cents(transferred, "transferred_balance") if transferred else None,
        activated_at=parse_moment(activated, "activated_at") if activated else None,
        power_limiter=parse_yes_no(r.get("power_limiter", ""), "power_limiter"),
        cpas=_optional(r, "cpas"),
        line=line,
    )


def _consumption(line: int, values: list[str], position: dict[str, int]) -> ConsumptionInput:
    ean = values[position["ean"]]
    if not (is_digits(ean) and len(ean) in (SHORT_LENGTH, FULL_LENGTH)):
        ean = short_or_full(ean)  # says what is wrong with it
    # An 18-digit code is checked against the accounts: the ledger says when it is mistyped.
    quantity = position.get("quantity")
    unit = position.get("unit")
    return ConsumptionInput(
        ean,
        parse_day(values[position["day"]]),
        parse_cents(values[position["amount"]], "amount"),
        values[quantity] or None if quantity is not None else None,
        values[unit] or None if unit is not None else None,
        line,
    )


def read_accounts(path: Path) -> Parsed[AccountInput]:
    return _parse_rows(path, ACCOUNT_COLUMNS, ACCOUNT_REQUIRED, _account)


def read_consumption(path: Path) -> Parsed[ConsumptionInput]:
    return _parse_rows(path, CONSUMPTION_COLUMNS, CONSUMPTION_REQUIRED, _consumption)
