import pytest

from ledger import InvalidInput, format_cents, parse_cents
from ledger.contacts import normalise_email, normalise_mobile
from ledger.ean import check_digit, masked, short_or_full, validate_full, with_prefix


@pytest.mark.parametrize(("text", "cents"), [
    ("38,80", 3880), ("38.80", 3880), ("38", 3800), ("-1,20", -120), ("0,5", 50),
    ("250,00", 25000), ("€ 5", 500), ("1 234,56", 123456), ("+7,01", 701),
])
def test_amounts_at_the_edge_become_cents(text, cents):
    assert parse_cents(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "1,234", "12,3,4", "1.2.3", "--1", "1e3", "NaN"])
def test_malformed_amounts_are_refused_with_the_field_named(text):
    with pytest.raises(InvalidInput) as caught:
        parse_cents(text, "transferred_balance")
    assert caught.value.field == "transferred_balance"


def test_cents_are_shown_with_a_comma():
    assert format_cents(-120) == "-1,20 €"
    assert format_cents(5) == "0,05 €"


# Made-up access points: prefix 54144 and the GS1 mod-10 check digit.
VALID = "541440000000000019"


def test_the_gs1_check_digit_weighs_three_from_the_right():
    assert check_digit("54144000000000001") == 9
    # A published GS1 example: 629104150021 + check 3 (EAN-13).
    assert check_digit("629104150021") == 3


def test_a_full_ean_is_verified():
    assert validate_full("5414 4000 0000 0000 19") == VALID
    with pytest.raises(InvalidInput, match="check digit"):
        validate_full("541440000000000018")
    with pytest.raises(InvalidInput, match="starts with 54"):
        validate_full("641440000000000014")
    with pytest.raises(InvalidInput, match="18 digits"):
        validate_full("54144000")


def test_the_last_13_digits_are_kept_and_rebuilt_with_the_prefix():
    assert short_or_full("0000000000019") == "0000000000019"
    assert with_prefix("54144", "0000000000019") == VALID
    with pytest.raises(InvalidInput, match="mistyped"):
        with_prefix("54144", "0000000000018")


def test_logs_never_see_the_whole_ean():
    assert masked(VALID) == "…0019"


def test_mobiles_are_stored_in_e164():
    assert normalise_mobile("0470 12 34 56") == "+32470123456"
    assert normalise_mobile("+31 6 12345678") == "+31612345678"


def test_a_landline_cannot_receive_sms():
    with pytest.raises(InvalidInput, match="not a mobile"):
        normalise_mobile("081 22 33 44")


def test_emails_are_checked_without_the_network():
    assert normalise_email("Jan@Example.org") == "Jan@example.org"
    with pytest.raises(InvalidInput, match="e-mail"):
        normalise_email("jan@")
