"""Money at the edges: text in, integer cents inside. Never float."""

import re

from .errors import InvalidInput

_AMOUNT = re.compile(r"^([+-]?)([0-9]{1,9})(?:[.,]([0-9]{1,2}))?$")  # ASCII digits only


def parse_cents(text: str, field: str = "amount") -> int:
    """'38,80', '38.80', '38', '-1,20', '€ 5' → cents."""
    cleaned = text.replace("€", "").replace("EUR", "").replace(" ", "").replace("\u00a0", "")
    match = _AMOUNT.match(cleaned)
    if not match:
        raise InvalidInput(field, f"{text!r} is not an amount in euros (for example 38,80)",
                           "amount.not_a_number", text=text)
    sign, euros, decimals = match.groups()
    cents = int(euros) * 100 + int((decimals or "0").ljust(2, "0"))
    return -cents if sign == "-" else cents


def format_cents(cents: int) -> str:
    """Plain operator-facing form, "-1,20 €". Customer-facing words live in locales/."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros},{rest:02d} €"
