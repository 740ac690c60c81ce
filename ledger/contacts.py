"""Contact details: mobiles in E.164 (a landline cannot receive SMS), e-mail addresses."""

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from .errors import InvalidInput

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_mobile(text: str, field: str = "mobile") -> str:
    try:
        number = phonenumbers.parse(text, "BE")
    except NumberParseException:
        raise InvalidInput(field, f"{text!r} is not a phone number", "phone.unreadable",
                           text=text) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(field, f"{text!r} is not a valid phone number", "phone.invalid",
                           text=text)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidInput(field, f"{text!r} is not a mobile number (SMS cannot reach a landline)",
                           "phone.not_mobile", text=text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str, field: str = "email") -> str:
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInput(field, f"{text!r} is not an e-mail address ({error})",
                           "email.invalid", text=text) from None
