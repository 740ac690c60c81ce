"""The words ivr/, messaging/ and portal/ share: how the locale folders are read (one error
type, naming the file), Babel's money and dates in each language, and the platform's own
numbers and sites, written once. It knows nothing of those packages; they do not borrow from
each other."""

from .files import LocaleError, read_json
from .formats import (
    BABEL_LOCALES,
    date_time,
    day_month,
    full_date,
    hour,
    long_date,
    money,
    short_date,
    short_date_time,
)
from .public import (
    BALANCE_LINE,
    CUSTOMER_SERVICE,
    GAS_LEAK_LINE,
    PUBLIC_FACTS,
    TOPUP_POINTS_SITE,
    TOPUP_SITE,
)

__all__ = [
    "BABEL_LOCALES", "BALANCE_LINE", "CUSTOMER_SERVICE", "GAS_LEAK_LINE", "PUBLIC_FACTS",
    "TOPUP_POINTS_SITE", "TOPUP_SITE", "LocaleError", "date_time", "day_month", "full_date",
    "hour", "long_date", "money", "read_json", "short_date", "short_date_time",
]
