"""Every limit on what the ledger is given, stated once and checked in its service functions.

Text widths come from the columns of ledger/schema.py (so that a limit and its column cannot
drift); fields kept in a `Text` column get a limit of their own here, so that PostgreSQL and
SQLite (which ignores VARCHAR widths) refuse the same values. Every door (CSV, CLI, API,
pages) reaches the same check: an InvalidInput naming the field and the limit.
"""

from collections.abc import Mapping

from . import schema
from .books import TopUpReference, plan_debt_book
from .errors import InvalidInput


def _width(column) -> int:
    return column.type.length


# Whose numbering a top-up reference follows (a CPAS office's code, "client-123"): part of its
# idempotency key, so as long as a CPAS code may be.
ISSUER = _width(schema.accounts.c.cpas)
# What a top-up's key and a plan's book add to the reference at their longest.
_TOPUP_KEY = len(str(TopUpReference("c" * _width(schema.accounts.c.last_topup_channel), "",
                                    "i" * ISSUER)))
_PLAN_BOOK = len(plan_debt_book(2**31 - 1, ""))

TEXT_LIMITS: Mapping[str, int] = {
    # A reference becomes part of a posting's key and of a payment plan's book.
    "reference": min(_width(schema.postings.c.reference) - _TOPUP_KEY,
                     _width(schema.debts.c.book) - _PLAN_BOOK),
    "cpas": _width(schema.accounts.c.cpas),
    "mobile": _width(schema.accounts.c.mobile),
    "quantity": _width(schema.consumption_days.c.quantity),
    "unit": _width(schema.consumption_days.c.unit),
    "actor": _width(schema.audit.c.actor),
    "issuer": ISSUER,
    # Text columns: the ledger's own limits.
    "name": 200,
    "email": 254,  # RFC 5321's longest address
    "reason": 500,
    "detail": 500,
}

# Amounts: an Integer column holds 32 bits on PostgreSQL; no balance may leave that range.
LARGEST_CENTS = 2**31 - 1
# Defaults of the DAY_CONSUMPTION_MAX and ADJUSTMENT_MAX settings.
DAY_CONSUMPTION_MAX_CENTS = 1000_00
ADJUSTMENT_MAX_CENTS = 10_000_00


_IN_KEYS = ("cpas", "issuer")  # the parts of an idempotency key before its reference


def check_text(field: str, value: str | None, limit: int | None = None) -> str | None:
    """`value` unchanged if it fits `field`'s limit and has no NUL character; None stays None."""
    if value is None:
        return None
    if "\x00" in value:
        raise InvalidInput(field, "contains a NUL character", "text.nul")
    limit = TEXT_LIMITS[field] if limit is None else limit
    if field in _IN_KEYS and ":" in value:
        # "topup:channel@issuer:reference": CPAS "A" with receipt "B:C" and CPAS "A:B" with
        # receipt "C" would make one key.
        raise InvalidInput(field, "may not contain ':'", "value.refused")
    if len(value) > limit:
        raise InvalidInput(field, f"is {len(value)} characters long, at most {limit} are kept",
                           "text.too_long", max_length=limit, length=len(value))
    return value
