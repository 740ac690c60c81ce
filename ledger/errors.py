"""The ledger's exception tree.

LedgerError
├── InvalidInput        a value is malformed or breaks a rule (names the field)
├── UnknownAccount      no account has this EAN
├── ReferenceConflict   a reference was reused for another top-up or payment plan
└── DemoRefused         the database holds real data, the demo will not touch it

Every refusal carries a stable `code` (see REFUSALS) and the `params` its wording needs, so that
a page says it in the reader's language; `message` stays the English for logs, the CLI and the
API. Plain data: what to say, and how, is the callers' business.
"""

from collections.abc import Mapping

# Each code and the names of the parameters it carries. Names ending in `_cents` are amounts,
# `text` and `value` are what was given. A new code needs its translation in every
# locales/*/portal.json ("refusal." + code): a test and the pages' start check it.
REFUSALS: Mapping[str, tuple[str, ...]] = {
    "value.refused": (),  # a raise that names no code of its own
    "value.required": (),
    "account.unknown": (),
    "reference.conflict": (),
    "reference.missing": (),
    "reference.is_the_meter": (),
    "amount.not_a_number": ("text",),
    "amount.out_of_range": ("low_cents", "high_cents"),
    "amount.zero_adjustment": (),
    "reason.missing": (),
    "channel.unknown": ("value",),
    "debt.not_positive": (),
    "daily.out_of_range": ("low_cents", "high_cents"),
    "threshold.out_of_range": ("low_cents", "high_cents"),
    "ean.malformed": ("text",),
    "ean.not_belgian": (),
    "ean.check_digit": (),
    "ean.prefix_unknown": (),
    "energy.unknown": ("value",),
    "language.unknown": ("value",),
    "daily_list.unknown": ("value",),
    "power_limiter.not_electricity": (),
    "notify.unknown": ("value",),
    "notify.needs_mobile": ("value",),
    "notify.needs_email": ("value",),
    "phone.unreadable": ("text",),
    "phone.invalid": ("text",),
    "phone.not_mobile": ("text",),
    "email.invalid": ("text",),
    "yes_no.invalid": ("text",),
    "day.malformed": ("text",),
    "moment.malformed": ("text",),
    "date.too_early": ("text", "year"),
    "date.in_the_future": (),
    "status.unknown": ("value",),
    "cpas.missing": (),
    "text.too_long": ("max_length", "length"),
    "text.nul": (),
    "database.folder_missing": ("folder",),
    "demo.refused": (),
}
DEFAULT_REFUSAL = "value.refused"


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code = DEFAULT_REFUSAL
    params: Mapping[str, int | str] = {}


class InvalidInput(LedgerError):
    def __init__(self, field: str, message: str, code: str = DEFAULT_REFUSAL,
                 **params: int | str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code
        self.params = params


class UnknownAccount(LedgerError):
    code = "account.unknown"

    def __init__(self, ean_text: str):
        super().__init__("no prepayment account has this EAN")
        self.ean_text = ean_text


class ReferenceConflict(LedgerError):
    code = "reference.conflict"

    def __init__(self, reference: str):
        super().__init__(f"reference {reference!r} was already used for another payment")
        self.reference = reference


class DemoRefused(LedgerError):
    code = "demo.refused"
