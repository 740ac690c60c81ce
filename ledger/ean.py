"""EAN (GS1 GSRN) codes of access points: 18 digits, mod-10 check digit, found by their last 13."""

from .errors import InvalidInput

FULL_LENGTH = 18
SHORT_LENGTH = 13
PREFIX_LENGTH = FULL_LENGTH - SHORT_LENGTH


def short_code(ean: str) -> str:
    """The last 13 digits of a full EAN: what the customer types and quotes (the invoice's)."""
    return ean[PREFIX_LENGTH:]


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²' and other scripts' digits."""
    return text.isascii() and text.isdigit()


def check_digit(first_17: str) -> int:
    """GS1 mod 10: weights 3,1,3,… from the right."""
    total = 3 * sum(map(int, first_17[-1::-2])) + sum(map(int, first_17[-2::-2]))
    return (10 - total % 10) % 10


def with_check_digit(first_17: str) -> str:
    """The 18-digit EAN whose first 17 digits are given."""
    return first_17 + str(check_digit(first_17))


def is_valid_full(ean: str) -> bool:
    return (
        len(ean) == FULL_LENGTH
        and is_digits(ean)
        and ean.startswith("54")
        and check_digit(ean[:-1]) == int(ean[-1])
    )


def digits_of(text: str) -> str:
    """Drop the spaces, dots and dashes people type between digit groups."""
    return "".join(ch for ch in text if ch not in " .-/\u00a0\t")


def validate_full(text: str, field: str = "ean") -> str:
    ean = text if is_digits(text) else digits_of(text)
    if not is_digits(ean) or len(ean) != FULL_LENGTH:
        raise InvalidInput(field, f"an EAN has 18 digits (or its last 13), not {text!r}",
                           "ean.malformed", text=text)
    if not ean.startswith("54"):
        raise InvalidInput(field, "a Belgian EAN starts with 54", "ean.not_belgian")
    if check_digit(ean[:-1]) != int(ean[-1]):
        raise InvalidInput(field, "the check digit does not match: the code seems mistyped",
                           "ean.check_digit")
    return ean


def short_or_full(text: str, field: str = "ean") -> str:
    """Returns the 18 digits validated, or the 13 digits as typed (checked later with a prefix)."""
    ean = text if is_digits(text) else digits_of(text)
    if is_digits(ean) and len(ean) == SHORT_LENGTH:
        return ean
    return validate_full(ean, field) if is_digits(ean) else validate_full(text, field)


def with_prefix(prefix: str, last_13: str, field: str = "ean") -> str:
    return validate_full(prefix + last_13, field)


def masked(ean: str) -> str:
    """What logs may show of an EAN: never the whole code."""
    return "…" + ean[-4:] if len(ean) >= 4 else "…"
