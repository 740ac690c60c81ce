"""The line's sentences: locales/<language>/ivr.json, every prompt checked at start (its key,
its placeholders, no digit left to the voice), and the customer-service number read aloud digit
group by digit group in each language's words.

    prompts = load_prompts(LOCALES)            # at start: a wrong file fails here, named
    prompts["fr"].say("ask_ean")
"""

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType

from ledger import BRUSSELS, LANGUAGES
from ledger.rules import TOPUP_MAX_CENTS, TOPUP_MIN_CENTS
from wording import CUSTOMER_SERVICE, TOPUP_SITE, LocaleError, read_json

from .opening import DEFAULT_HOURS, OpeningHours
from .spoken import (
    Vocabulary,
    amount_words,
    load_vocabularies,
    number_words,
    time_words,
    web_address_words,
)

PROMPTS_FILE = "ivr.json"

# Every prompt and the placeholders it must use — all of them, and no other.
PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType({
    key: frozenset(fields) for key, fields in {
        # the fixed prompts of the call
        "greeting": (),
        "language_option": (),
        "ask_ean": (),
        "ask_ean_again": (),
        "code_mistyped": (),
        "code_unknown": (),
        "nothing_heard": (),
        "menu_after_balance": (),
        "menu_invalid": (),
        "offer_customer_service": (),     # after three failed codes, while it is open
        "transferring": (),
        "transfer_failed": (),            # the transfer was busy, not answered, or failed
        "service_closed": ("moment",),    # when it opens
        "service_closed_for_now": (),     # no opening within a month
        "pace_slow": (),                  # key 8: the slower voice, and how to leave it
        "pace_normal": (),                # key 8 again
        "sms_sent": (),                   # menu 4: on its way to the mobile on file
        "sms_no_mobile": (),              # menu 4, and no mobile on file for the meter
        "known_caller": ("meters",),      # the caller's number is on file: its meters...
        "meter_electricity": (),          # ...named so, joined by "and"
        "meter_gas": (),
        "and": (),
        "confirmation_wrong": (),         # four digits that end none of them
        "alerts_not_on_file": (),         # menu 5: only the number on file may change the alert
        "alerts_current": ("threshold", "channel"),
        "channel_sms": (),
        "channel_email": (),
        "channel_sms_email": (),
        "channel_none": (),
        "alerts_choose": (),
        "alerts_thresholds": (),          # ledger.requests.ALERT_THRESHOLDS_CENTS, in order
        "alerts_channels": (),            # ledger.requests.ALERT_CHANNELS, in order
        "alerts_confirm_threshold": ("amount",),
        "alerts_confirm_channel": ("channel",),
        "alerts_no_email": (),
        "alerts_changed": (),
        "alerts_unchanged": (),
        "how_to_top_up": ("topup_minimum", "topup_maximum", "topup_site"),
        "too_many_failures": (),
        "customer_service": ("customer_service", "hours"),
        "hours_span": ("first", "last", "opens", "closes"),  # {hours}: Monday to Friday...
        "hours_day": ("day", "opens", "closes"),               # ...or one day...
        "hours_and": (),                                       # ...joined so (with its comma)
        "customer_service_short": ("customer_service",),
        "technical_problem": (),
        "locked_out": ("wait",),          # also before the language menu, in each language
        "goodbye": (),
        # the balance message: a cut or a pending cut first, with what to top up
        "pending": ("moment", "amount"),
        "pending_limited": ("moment", "amount"),
        "pending_soon": ("amount",),
        "pending_soon_limited": ("amount",),
        "disconnected_electricity": ("amount",),
        "disconnected_gas": ("amount",),
        "power_limited": ("amount",),
        "balance_electricity": ("amount",),
        "balance_gas": ("amount",),
        "balance": ("amount",),           # once the first sentence has named the meter
        "as_of": ("moment",),
        "low": (),
        "emergency": (),
        "emergency_usable": ("amount",),
        "emergency_usable_limited": ("amount",),
        "debt": ("amount", "daily"),
        "debt_no_plan": ("amount",),
        "last_topup": ("amount", "date"),
        # days until the emergency credit starts (balance 0); in emergency credit, said right
        # after emergency_usable(_limited), when what it names comes (the cut or the limit, −15 €)
        "days_to_emergency": ("days",),
        "days_to_emergency_one": (),
        "days_to_emergency_less_than_one": (),
        "days_to_cut": ("days",),
        "days_to_cut_one": (),
        "days_to_cut_less_than_one": (),
        "days_to_limit": ("days",),
        "days_to_limit_one": (),
        "days_to_limit_less_than_one": (),
        # what restores the supply, the last words before the menu
        "button_electricity": (),
        "button_gas": (),
    }.items()
})

PHONE_NUMBER_READINGS = ("pairs", "digits")
_PHONE_NUMBER = re.compile(r"\d+(?:[ ./]\d+)*")
DIGIT = re.compile(r"\d")
# French elides "de" and "que" before the number "un": "d'un euro", "qu'un jour" (not "huit",
# whose h is aspirated, nor "onze"). A template cannot know which amount it will get.
_FR_ELISION = re.compile(r"\b([dD]|[qQ]u)e (une?)\b")


# Phone numbers ------------------------------------------------------------------------------------

def phone_number_words(number: str, vocabulary: Vocabulary, reading: str) -> str:
    """A phone number as written ("078/15.78.01") read aloud, one comma between its groups.

    "pairs": each group as a number, its leading zeros said one by one — "zéro septante-huit,
    quinze, septante-huit, zéro un", as Belgian French says it. "digits": one digit at a time —
    "nul zeven acht, één vijf, zeven acht, nul één": Dutch and German say the unit before the
    ten (achtenzeventig, achtundsiebzig), and a caller writing the number down swaps them.
    """
    if not _PHONE_NUMBER.fullmatch(number):
        raise ValueError(f"{number!r} is not a phone number (digits, grouped by '/', '.' or ' ')")
    if reading not in PHONE_NUMBER_READINGS:
        raise ValueError(f"unknown phone number reading {reading!r}; known: "
                         + ", ".join(PHONE_NUMBER_READINGS))
    language = vocabulary.language
    groups = []
    for group in re.split(r"[ ./]", number):
        if reading == "digits":
            said = [number_words(int(digit), language) for digit in group]
        else:
            rest = group.lstrip("0")
            said = [number_words(0, language)] * (len(group) - len(rest))
            if rest:
                said.append(number_words(int(rest), language))
        groups.append(" ".join(said))
    return ", ".join(groups)


# The prompts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prompts:
    """One language's texts from locales/<language>/ivr.json, checked at load."""

    language: str
    texts: Mapping[str, str]
    customer_service_number: str     # as written, e.g. "078/15.78.01"; never said so
    constants: Mapping[str, str]     # customer_service, topup_minimum/maximum/site, as words

    def __post_init__(self) -> None:
        # The prompts that need no field of the caller's, filled once: a balance answer says
        # several, and filling each again was a tenth of its CPU (bench/ivr_webhooks.py).
        fixed = {}
        for key, template in self.texts.items():
            try:
                fixed[key] = self._filled(template, {})
            except (KeyError, IndexError, ValueError):  # a field the caller gives
                continue
        object.__setattr__(self, "_fixed", MappingProxyType(fixed))

    def say(self, key: str, **fields: str) -> str:
        """The prompt `key` with its placeholders filled: prompts["fr"].say("goodbye")."""
        if not fields and key in self._fixed:
            return self._fixed[key]
        try:
            template = self.texts[key]
        except KeyError:
            raise KeyError(f"no prompt {key!r}; known: {', '.join(sorted(self.texts))}") from None
        return self._filled(template, fields)

    def _filled(self, template: str, fields: Mapping[str, str]) -> str:
        said = template.format_map({**self.constants, **fields})
        if self.language == "fr" and "e un" in said:  # the pattern's cheap part first
            said = _FR_ELISION.sub(r"\1'\2", said)
        return said

    def __getitem__(self, key: str) -> str:
        return self.say(key)


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def _braced(names) -> str:
    return ", ".join("{" + name + "}" for name in sorted(names)) or "none"


def hours_words(hours: OpeningHours, texts: Mapping[str, str], vocabulary: Vocabulary) -> str:
    """Customer service's hours as the line says them, from the schedule it transfers by: "du
    lundi au vendredi de huit heures à vingt heures, et le samedi de neuf heures à treize
    heures"."""
    def at(moment: time) -> str:
        return time_words(datetime.combine(date(2026, 1, 5), moment, tzinfo=BRUSSELS), vocabulary)

    def day(number: int) -> str:
        return vocabulary.weekdays[number].lower()  # "montags": German says days so too

    said = [texts["hours_day"].format(day=day(first), opens=at(opens), closes=at(closes))
            if first == last else
            texts["hours_span"].format(first=day(first), last=day(last), opens=at(opens),
                                       closes=at(closes))
            for first, last, opens, closes in hours.spans()]
    if len(said) <= 1:
        return "".join(said)
    return ", ".join(said[:-1]) + texts["hours_and"] + " " + said[-1]


def _load_one(locales_dir: Path, language: str, vocabulary: Vocabulary,
              number: str, hours: OpeningHours) -> Prompts:
    path = locales_dir / language / PROMPTS_FILE

    def refuse(message: str) -> LocaleError:
        return LocaleError(f"{path}: {message}")

    data = read_json(locales_dir, language, PROMPTS_FILE)
    for key in ("phone_number_reading", "prompts"):
        if key not in data:
            raise refuse(f"{key!r} is missing")
    reading, texts = data["phone_number_reading"], data["prompts"]
    if reading not in PHONE_NUMBER_READINGS:
        raise refuse(f"'phone_number_reading' {reading!r} is not one of "
                     + ", ".join(PHONE_NUMBER_READINGS))
    if not isinstance(texts, dict):
        raise refuse("'prompts' must be an object of key: text")

    for key in PLACEHOLDERS:
        if key not in texts:
            raise refuse(f"prompt {key!r} is missing")
    for key, text in texts.items():
        if key not in PLACEHOLDERS:
            raise refuse(f"prompt {key!r} is not one the line says (a typo?)")
        if not isinstance(text, str) or not text.strip():
            raise refuse(f"prompt {key!r} must be a non-empty text")
        if DIGIT.search(text):
            raise refuse(f"prompt {key!r} contains a digit; write numbers as words, "
                         "the voice must not guess how to say them")
        try:
            used = _placeholders(text)
        except ValueError as error:
            raise refuse(f"prompt {key!r} has a broken placeholder ({error})") from None
        expected = PLACEHOLDERS[key]
        if used != expected:
            raise refuse(f"prompt {key!r} must use the placeholders {_braced(expected)}; "
                         f"it uses {_braced(used)}")

    constants = {
        "customer_service": phone_number_words(number, vocabulary, reading),
        "hours": hours_words(hours, texts, vocabulary),
        "topup_minimum": amount_words(TOPUP_MIN_CENTS, vocabulary),
        "topup_maximum": amount_words(TOPUP_MAX_CENTS, vocabulary),
        "topup_site": web_address_words(TOPUP_SITE, vocabulary),
    }
    return Prompts(language=language, texts=MappingProxyType(dict(texts)),
                   customer_service_number=number, constants=MappingProxyType(constants))


def load_prompts(locales_dir: Path, customer_service: str = CUSTOMER_SERVICE,
                 hours: OpeningHours | None = None) -> dict[str, Prompts]:
    """Read and check locales/{fr,nl,de}/ivr.json (and spoken.json beside them), once, at start.

    Refused, with the file and the key named (LocaleError): a missing or unknown key, a digit in
    a prompt, a placeholder missing or unknown. `customer_service`, as written ("078/15.78.01"),
    is said in each language's words; a ValueError if it is no phone number. `hours`: when it
    answers (by default ivr.opening.DEFAULT_HOURS), said from the schedule.
    """
    hours = hours or OpeningHours.parse(DEFAULT_HOURS)
    if not _PHONE_NUMBER.fullmatch(customer_service):
        raise ValueError(f"the customer-service number {customer_service!r} is not a phone "
                         "number (digits, grouped by '/', '.' or ' ')")
    locales_dir = Path(locales_dir)
    vocabularies = load_vocabularies(locales_dir)
    return {language: _load_one(locales_dir, language, vocabularies[language], customer_service,
                                hours)
            for language in LANGUAGES}


# The balance message ------------------------------------------------------------------------------
