"""The domain's fixed sets and their defaults, defined once; every package names them from here.

Each set is a StrEnum: a member is its text ("fr" == Language.FR), so it goes into the database,
JSON, templates and URLs as it is. The tuples beside them are for `in` and argparse's choices
(Python 3.11's `"fr" in Language` raises TypeError).
"""

from enum import StrEnum

from .errors import InvalidInput


class Language(StrEnum):
    """A customer's or a CPAS's language: every customer-facing word exists in each (locales/)."""

    FR = "fr"
    NL = "nl"
    DE = "de"


class Energy(StrEnum):
    ELECTRICITY = "electricity"
    GAS = "gas"


class MessageChannel(StrEnum):
    """How a message goes out."""

    SMS = "sms"
    EMAIL = "email"


class Audience(StrEnum):
    """Who a message is for: the customer, or the CPAS that follows them (serious events)."""

    CUSTOMER = "customer"
    CPAS = "cpas"


class Notify(StrEnum):
    """A customer's choice of channels for their alerts."""

    SMS = "sms"
    EMAIL = "email"
    SMS_AND_EMAIL = "sms+email"
    NONE = "none"


class SmsRequest(StrEnum):
    """What an incoming SMS asks for (messaging/inbound.py reads it from the customer's words)."""

    BALANCE = "balance"
    STOP = "stop"
    START = "start"
    HELP = "help"
    SCORE = "score"  # a digit, the satisfaction survey's answer


class DailyList(StrEnum):
    """When a CPAS wants its morning list (ledger/morning.py)."""

    NEEDED = "needed"  # on a working day with someone to call
    ALWAYS = "always"  # every working day, "nobody today" too


class PaymentChannel(StrEnum):
    """Where a top-up was paid."""

    TERMINAL = "terminal"
    CPAS = "cpas"
    TRANSFER = "transfer"
    ONLINE = "online"


AGENT = "agent"  # an agent's adjustment: a top-up's channel that is no payment

LANGUAGES: tuple[Language, ...] = tuple(Language)
ENERGIES: tuple[Energy, ...] = tuple(Energy)
MESSAGE_CHANNELS: tuple[MessageChannel, ...] = tuple(MessageChannel)
AUDIENCES: tuple[Audience, ...] = tuple(Audience)
NOTIFY_CHOICES: tuple[Notify, ...] = tuple(Notify)
PAYMENT_CHANNELS: tuple[PaymentChannel, ...] = tuple(PaymentChannel)
DAILY_LIST_CHOICES: tuple[DailyList, ...] = tuple(DailyList)
TOPUP_CHANNELS: tuple[str, ...] = (*PAYMENT_CHANNELS, AGENT)
# The payment channels an API client may be: a CPAS's office top-ups go through its pages.
API_PAYMENT_CHANNELS: tuple[PaymentChannel, ...] = (
    PaymentChannel.TERMINAL, PaymentChannel.ONLINE, PaymentChannel.TRANSFER)

# Who needs help first in a CPAS's residents list: no energy now, then soon none, then eating
# into the emergency credit, then low; the others last. The states as the rules name them
# (ledger.rules.State); the list's index (ledger/schema.py) keeps each account's rank in it.
ATTENTION_ORDER = ("disconnected", "power_limited", "disconnection_pending", "emergency", "low",
                   "normal")

# The language of a caller who has not chosen one yet, and of a page whose reader's is unknown:
# Wallonia's, where the network operator serves.
DEFAULT_LANGUAGE = Language.FR


def known(field: str, value: str, choices: tuple[str, ...]) -> str:
    """`value` if it is one of `choices`; else refused with the code FIELD.unknown that the
    pages and the API translate."""
    if value not in choices:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(choices)}",
                           f"{field}.unknown", value=value)
    return value
