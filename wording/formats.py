"""Money and dates as each language writes them (Babel, Belgian locales), in Brussels time."""

import functools
from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

from ledger import BRUSSELS, Language
from ledger.clock import utc

BABEL_LOCALES = {Language.FR: "fr_BE", Language.NL: "nl_BE", Language.DE: "de_BE"}
DATE_TIME_PATTERNS = {
    Language.FR: "EEEE d MMMM y 'à' HH:mm",
    Language.NL: "EEEE d MMMM y 'om' HH:mm",
    Language.DE: "EEEE, d. MMMM y 'um' HH:mm",
}
SHORT_DATE_TIME_PATTERNS = {  # no month names: French "août" and "décembre" are not GSM-7
    Language.FR: "EEEE dd/MM 'à' HH:mm",
    Language.NL: "EEEE dd/MM 'om' HH:mm",
    Language.DE: "EEEE, dd.MM. 'um' HH:mm",
}

SHORT_DATE_PATTERNS = {
    Language.FR: "EEEE dd/MM",
    Language.NL: "EEEE dd/MM",
    Language.DE: "EEEE, dd.MM.",
}


@functools.lru_cache(maxsize=4096)  # Babel takes ~80 µs a call; amounts repeat (thresholds…)
def money(cents: int, language: str) -> str:
    """"38,80 €" (fr, de), "€ 38,80" (nl)."""
    return format_currency(Decimal(cents) / 100, "EUR", locale=BABEL_LOCALES[language])


def date_time(moment: datetime, language: str) -> str:
    """E-mail form, Brussels time: "lundi 12 octobre 2026 à 11:58"."""
    return format_datetime(utc(moment), DATE_TIME_PATTERNS[language], tzinfo=BRUSSELS,
                           locale=BABEL_LOCALES[language])


def short_date_time(moment: datetime, language: str) -> str:
    """SMS form, Brussels time: "lundi 12/10 à 11:58"."""
    return format_datetime(utc(moment), SHORT_DATE_TIME_PATTERNS[language], tzinfo=BRUSSELS,
                           locale=BABEL_LOCALES[language])


def short_date(moment: datetime, language: str) -> str:
    """SMS form of a day, Brussels time: "lundi 12/10"."""
    return format_datetime(utc(moment), SHORT_DATE_PATTERNS[language], tzinfo=BRUSSELS,
                           locale=BABEL_LOCALES[language])


def hour(moment: datetime, language: str) -> str:
    """The time of day, Brussels time: "11:58"."""
    return format_datetime(utc(moment), "HH:mm", tzinfo=BRUSSELS, locale=BABEL_LOCALES[language])


def full_date(day: date, language: str) -> str:
    """"lundi 12 octobre 2026"."""
    return format_date(day, format="full", locale=BABEL_LOCALES[language])


def long_date(day: date, language: str) -> str:
    """"12 octobre 2026"."""
    return format_date(day, format="long", locale=BABEL_LOCALES[language])


def day_month(day: date, language: str) -> str:
    """"12/10", a chart's axis."""
    return format_date(day, format="d/M", locale=BABEL_LOCALES[language])
