"""Amounts, dates, times and counts as words for the text-to-speech: never digits left to the voice.

Pure functions, data in and text out. The words said around numbers (euro, centimes, moins,
weekdays, months, the date templates) come from locales/<language>/spoken.json, read once by
load_vocabularies(); the number words themselves are grammar and live here, per language:
Belgian French (septante, nonante, quatre-vingts), Dutch and German. Written by hand rather than
with num2words, whose fr_BE says "quatre-vingt" for 80 and "deux cents cinquante" for 250.
"""

import functools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ledger import BRUSSELS, LANGUAGES
from wording import LocaleError, read_json

VOCABULARY_FILE = "spoken.json"
LARGEST = 999_999


# Belgian French ---------------------------------------------------------------------------------

_FR_UNITS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
             "onze", "douze", "treize", "quatorze", "quinze", "seize")
_FR_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante", 7: "septante",
            8: "quatre-vingt", 9: "nonante"}


def _fr_below_hundred(n: int) -> str:
    if n < 17:
        return _FR_UNITS[n]
    if n < 20:
        return "dix-" + _FR_UNITS[n - 10]
    tens, unit = divmod(n, 10)
    word = _FR_TENS[tens]
    if unit == 0:
        return word + "s" if tens == 8 else word              # quatre-vingts
    if unit == 1 and tens != 8:
        return word + " et un"                                # septante et un, but quatre-vingt-un
    return f"{word}-{_FR_UNITS[unit]}"


def _fr_below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _fr_below_hundred(n)
    head = "cent" if hundreds == 1 else _FR_UNITS[hundreds] + " cent"
    if rest == 0:
        return head + "s" if hundreds > 1 else head           # deux cents, but deux cent cinquante
    return f"{head} {_fr_below_hundred(rest)}"


def _fr(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    if thousands == 0:
        return _fr_below_thousand(n)
    if thousands == 1:
        head = "mille"
    else:
        head = _fr_below_thousand(thousands)
        if head.endswith(("vingts", "cents")):                # quatre-vingt mille, deux cent mille
            head = head[:-1]
        head += " mille"
    return head if rest == 0 else f"{head} {_fr_below_thousand(rest)}"


# Dutch: one word up to "duizend", a space after it (Taalunie) ------------------------------------

_NL_UNITS = ("nul", "een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien",
             "elf", "twaalf", "dertien", "veertien", "vijftien", "zestien", "zeventien", "achttien",
             "negentien")
_NL_TENS = {2: "twintig", 3: "dertig", 4: "veertig", 5: "vijftig", 6: "zestig", 7: "zeventig",
            8: "tachtig", 9: "negentig"}


def _nl_below_hundred(n: int) -> str:
    if n < 20:
        return _NL_UNITS[n]
    tens, unit = divmod(n, 10)
    if unit == 0:
        return _NL_TENS[tens]
    unit_word = _NL_UNITS[unit]
    joint = "ën" if unit_word.endswith("e") else "en"         # tweeëntwintig, drieëndertig
    return unit_word + joint + _NL_TENS[tens]


def _nl_below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _nl_below_hundred(n)
    head = ("" if hundreds == 1 else _NL_UNITS[hundreds]) + "honderd"
    return head if rest == 0 else head + _nl_below_hundred(rest)


def _nl(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    parts = []
    if thousands:
        parts.append(("" if thousands == 1 else _nl_below_thousand(thousands)) + "duizend")
    if rest or not thousands:
        parts.append(_nl_below_thousand(rest))
    # A lone "een" gets its accents, or the voice says the article ("'n") instead of the number.
    return " ".join("één" if part == "een" else part for part in parts)


# German: one word up to a million (Duden); "hundert" and "tausend" without "ein" -----------------

_DE_UNITS = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
             "zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn",
             "achtzehn", "neunzehn")
_DE_TENS = {2: "zwanzig", 3: "dreißig", 4: "vierzig", 5: "fünfzig", 6: "sechzig", 7: "siebzig",
            8: "achtzig", 9: "neunzig"}


def _de_attributive(word: str) -> str:
    """Before a noun "eins" becomes "ein": ein Euro, hundertein Euro, einundzwanzigtausend."""
    return word[:-1] if word.endswith("eins") else word


def _de_below_hundred(n: int) -> str:
    if n < 20:
        return _DE_UNITS[n]
    tens, unit = divmod(n, 10)
    if unit == 0:
        return _DE_TENS[tens]
    return _de_attributive(_DE_UNITS[unit]) + "und" + _DE_TENS[tens]


def _de_below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _de_below_hundred(n)
    head = ("" if hundreds == 1 else _DE_UNITS[hundreds]) + "hundert"
    return head if rest == 0 else head + _de_below_hundred(rest)


def _de(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    if thousands == 0:
        return _de_below_thousand(n)
    if thousands == 1:
        head = "tausend"
    else:
        head = _de_attributive(_de_below_thousand(thousands)) + "tausend"
    return head if rest == 0 else head + _de_below_thousand(rest)


def _fr_millions(m: int) -> str:  # un million, deux millions, quatre-vingts millions (a noun)
    return "un million" if m == 1 else f"{_fr(m)} millions"


def _nl_millions(m: int) -> str:  # één miljoen, twee miljoen
    return f"{_nl(m)} miljoen"


def _de_millions(m: int) -> str:  # eine Million, zwei Millionen
    return "eine Million" if m == 1 else f"{_de_attributive(_de(m))} Millionen"


_NUMBER_WORDS = {"fr": _fr, "nl": _nl, "de": _de}
_MILLIONS = {"fr": _fr_millions, "nl": _nl_millions, "de": _de_millions}


@functools.lru_cache(maxsize=4096)  # amounts and times repeat; a balance says several
def number_words(n: int, language: str) -> str:
    """0 to 999 999 as said on its own: fr "quatre-vingts", nl "tweeëntwintig", de "hunderteins"."""
    if language not in _NUMBER_WORDS:
        known = ", ".join(LANGUAGES)
        raise ValueError(f"no number words for language {language!r}; known: {known}")
    if not 0 <= n <= LARGEST:
        raise ValueError(f"{n} is outside the numbers said in words (0 to {LARGEST})")
    return _NUMBER_WORDS[language](n)


def _large_number_words(n: int, language: str) -> str:
    """Up to 999 999 999 999 before a noun, millions as nouns of their own: "un million deux
    cent mille", "twee miljoen", "eine Million" (a balance the ledger holds is under 22 million
    euros: whatever it holds, the line can say it)."""
    if n <= LARGEST:
        return number_words(n, language)
    millions, rest = divmod(n, 1_000_000)
    if millions > LARGEST:
        raise ValueError(f"{n} is outside the numbers said in words")
    head = _MILLIONS[language](millions)
    return head if rest == 0 else f"{head} {number_words(rest, language)}"


# The words around the numbers ---------------------------------------------------------------------

@dataclass(frozen=True)
class Vocabulary:
    """One language's fixed words, from locales/<language>/spoken.json. Nouns are (one, other);
    `feminine` names the nouns a "one" agrees with (une heure, eine Stunde)."""

    language: str
    minus: str
    and_: str
    euro: tuple[str, str]
    cent: tuple[str, str]
    day: tuple[str, str]
    hour: tuple[str, str]             # of the clock: "dix heures", "ein Uhr"
    duration_hour: tuple[str, str]    # of a wait: "une heure", "eine Stunde"
    duration_minute: tuple[str, str]
    weekdays: tuple[str, ...]
    months: tuple[str, ...]
    date: str
    moment: str
    short_moment: str
    dot: str                          # in a web address: "point", "punt", "Punkt"
    feminine: frozenset[str] = frozenset()


def load_vocabulary(locales: Path, language: str) -> Vocabulary:
    """Read and check locales/<language>/spoken.json: a wrong entry fails here, at start."""
    path = Path(locales) / language / VOCABULARY_FILE
    data = read_json(locales, language, VOCABULARY_FILE)

    def noun(key: str) -> tuple[str, str]:
        return data[key]["one"], data[key]["other"]

    try:
        vocabulary = Vocabulary(
            language=language, minus=data["minus"], and_=data["and"],
            euro=noun("euro"), cent=noun("cent"), day=noun("day"), hour=noun("hour"),
            duration_hour=noun("duration_hour"), duration_minute=noun("duration_minute"),
            weekdays=tuple(data["weekdays"]), months=tuple(data["months"]),
            date=data["date"], moment=data["moment"], short_moment=data["short_moment"],
            dot=data["dot"],
            feminine=frozenset(key for key, entry in data.items()
                               if isinstance(entry, dict) and entry.get("feminine") is True),
        )
        vocabulary.date.format(weekday="", day="", month="")
        vocabulary.moment.format(date="", time="")
        vocabulary.short_moment.format(weekday="", day="", month="", time="")
    except KeyError as missing:
        raise LocaleError(f"{path}: {missing} is missing") from None
    except (TypeError, AttributeError, ValueError, IndexError) as error:
        raise LocaleError(f"{path}: an entry of the wrong shape ({error})") from None
    if len(vocabulary.weekdays) != 7 or len(vocabulary.months) != 12:
        raise LocaleError(f"{path}: expected 7 weekdays (Monday first) and 12 months")
    return vocabulary


def load_vocabularies(locales: Path) -> dict[str, Vocabulary]:
    return {language: load_vocabulary(locales, language) for language in LANGUAGES}


# Counting things ----------------------------------------------------------------------------------

def _feminine(word: str, language: str) -> str:
    """French "un" agrees with a feminine noun: une heure, vingt et une heures."""
    return word + "e" if language == "fr" and word.endswith("un") else word


def _count(n: int, noun: tuple[str, str], vocabulary: Vocabulary, feminine: bool = False) -> str:
    """A number before its noun: "un euro", "zéro jour", "nul dagen", "hundertein Euro"."""
    language = vocabulary.language
    word = _large_number_words(n, language)
    if language == "de":
        word = _de_attributive(word)
        if feminine and word.endswith("ein"):
            word += "e"                                       # eine Stunde (but ein Uhr)
    elif feminine:
        word = _feminine(word, language)
    singular = n == 1 or (n == 0 and language == "fr")        # French counts zero in the singular
    name = noun[0] if singular else noun[1]
    if language == "fr" and n >= 1_000_000 and n % 1_000_000 == 0:  # un million d'euros
        return f"{word} d'{name}" if name[:1] in "aeiouéh" else f"{word} de {name}"
    return f"{word} {name}"


def amount_words(cents: int, vocabulary: Vocabulary) -> str:
    """Euros and cents, the sign said first: "moins seize euros et vingt centimes".

    Whole euros leave out the cents ("un euro"), under a euro leaves out the euros ("cinquante
    centimes"), and nothing at all is "zéro euro" / "nul euro" / "null Euro".
    """
    euros, rest = divmod(abs(cents), 100)
    parts = []
    if euros or not rest:
        parts.append(_count(euros, vocabulary.euro, vocabulary))
    if rest:
        parts.append(_count(rest, vocabulary.cent, vocabulary))
    words = f" {vocabulary.and_} ".join(parts)
    return f"{vocabulary.minus} {words}" if cents < 0 else words


def days_words(n: int, vocabulary: Vocabulary) -> str:
    """A number of days: "un jour", "twee dagen", "zwei Tagen" (German in the dative: the line
    says days only after "in", and one day in prompts of its own, "in etwa einem Tag")."""
    if n < 0:
        raise ValueError(f"{n} is not a number of days")
    return _count(n, vocabulary.day, vocabulary)


# Dates and times, in Brussels ---------------------------------------------------------------------

_DE_IRREGULAR_ORDINALS = {1: "ersten", 3: "dritten", 7: "siebten", 8: "achten"}


def _in_brussels(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment} has no time zone; it cannot be said in Brussels time")
    return moment.astimezone(BRUSSELS)


def _day_of_month(day: int, language: str) -> str:
    if language == "fr":
        return "premier" if day == 1 else number_words(day, language)
    if language == "de":                                      # dative ordinal: am ..., dem ersten
        if day in _DE_IRREGULAR_ORDINALS:
            return _DE_IRREGULAR_ORDINALS[day]
        return number_words(day, language) + ("sten" if day >= 20 else "ten")
    return number_words(day, language)


def date_words(moment: datetime, vocabulary: Vocabulary) -> str:
    """The day, said as "on" that day: "le lundi vingt-trois novembre", "op maandag drieëntwintig
    november", "am Montag, dem dreiundzwanzigsten November". No year: the line tells of recent days.
    """
    local = _in_brussels(moment)
    return vocabulary.date.format(
        weekday=vocabulary.weekdays[local.weekday()],
        day=_day_of_month(local.day, vocabulary.language),
        month=vocabulary.months[local.month - 1],
    )


def time_words(moment: datetime, vocabulary: Vocabulary) -> str:
    """The 24-hour time, minutes left out on the hour: "quatorze heures trente", "ein Uhr"."""
    local = _in_brussels(moment)
    hours = _count(local.hour, vocabulary.hour, vocabulary,
                   feminine="hour" in vocabulary.feminine)
    if local.minute == 0:
        return hours
    minutes = _feminine(number_words(local.minute, vocabulary.language), vocabulary.language)
    return f"{hours} {minutes}"


def moment_words(moment: datetime, vocabulary: Vocabulary) -> str:
    """Date and time together: "le lundi vingt-trois novembre à quatorze heures trente"."""
    return vocabulary.moment.format(
        date=date_words(moment, vocabulary), time=time_words(moment, vocabulary))


def short_moment_words(moment: datetime, vocabulary: Vocabulary) -> str:
    """Day and time as a label, no article: "samedi vingt-huit novembre, dix heures"."""
    local = _in_brussels(moment)
    return vocabulary.short_moment.format(
        weekday=vocabulary.weekdays[local.weekday()],
        day=_day_of_month(local.day, vocabulary.language),
        month=vocabulary.months[local.month - 1],
        time=time_words(moment, vocabulary),
    )


# Waits and web addresses --------------------------------------------------------------------------

WAIT_STEP_MINUTES = 5  # "dans vingt-trois minutes" is a figure to forget; round up to five


def wait_words(wait: timedelta, vocabulary: Vocabulary) -> str:
    """How long until something is possible again, rounded up so that it is by then: minutes up
    to an hour ("quarante minutes", "une heure"), whole hours beyond ("deux heures")."""
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    minutes = math.ceil(minutes / WAIT_STEP_MINUTES) * WAIT_STEP_MINUTES
    if minutes < 60:
        noun, n, key = vocabulary.duration_minute, minutes, "duration_minute"
    else:
        noun, n, key = vocabulary.duration_hour, math.ceil(minutes / 60), "duration_hour"
    return _count(n, noun, vocabulary, feminine=key in vocabulary.feminine)


def web_address_words(address: str, vocabulary: Vocabulary) -> str:
    """A web address as said on the phone: "recharger point ores point B E". The dots are said;
    a two-letter country code is spelled, or "be" is heard as a word."""
    if not address or any(ch.isdigit() or ch in "/:" or ch.isspace() for ch in address):
        raise ValueError(f"{address!r} is not a web address said in words (name.name.tld)")
    labels = address.lower().split(".")
    if not all(labels):
        raise ValueError(f"{address!r} is not a web address (an empty part between dots)")
    said = [" ".join(label.upper()) if i == len(labels) - 1 and len(label) == 2 else label
            for i, label in enumerate(labels)]
    return f" {vocabulary.dot} ".join(said)
