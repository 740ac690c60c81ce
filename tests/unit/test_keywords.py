"""What an SMS asks for, from the customer's words: each keyword of each language, case and
accents aside, with or without a meter's digits; anything else is a request for help."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import SmsRequest
from messaging.keywords import Keywords
from wording import LocaleError

LOCALES = Path(__file__).resolve().parents[2] / "locales"
KEYWORDS = Keywords.load(LOCALES)
CODE = "5414490000000012"[-13:].rjust(13, "0")


@pytest.mark.parametrize(("body", "request_", "language"), [
    ("SOLDE", SmsRequest.BALANCE, "fr"), ("solde", SmsRequest.BALANCE, "fr"),
    ("Solde svp", SmsRequest.BALANCE, "fr"), ("SALDO", SmsRequest.BALANCE, None),
    ("Guthaben", SmsRequest.BALANCE, "de"), ("STOP", SmsRequest.STOP, None),
    ("Arrêt", SmsRequest.STOP, "fr"), ("arret.", SmsRequest.STOP, "fr"),
    ("STOPP", SmsRequest.STOP, "de"), ("Start", SmsRequest.START, None),
    ("Démarrer", SmsRequest.START, "fr"), ("AIDE", SmsRequest.HELP, "fr"),
    ("help", SmsRequest.HELP, "nl"), ("HILFE!", SmsRequest.HELP, "de"),
    ("  Stop merci ", SmsRequest.STOP, None),
])
def test_each_keyword_in_each_language(body, request_, language):
    asked = KEYWORDS.read(body)
    assert (asked.request, asked.language) == (request_, language)


@pytest.mark.parametrize("body", [f"SOLDE {CODE}", f"solde {CODE[:4]} {CODE[4:8]} {CODE[8:]}",
                                  f"Saldo 54144{CODE}", f"guthaben {CODE[:6]}.{CODE[6:]}"])
def test_the_balance_of_one_meter_by_its_digits(body):
    asked = KEYWORDS.read(body)
    assert (asked.request, asked.digits) == (SmsRequest.BALANCE, CODE)


@pytest.mark.parametrize("body", ["SOLDE 1234", "SOLDE 12345678901234", "bonjour", "", "6",
                                  "0", "1 2", "SOLDEE", "STOPPING"])
def test_anything_else_asks_for_help(body):
    asked = KEYWORDS.read(body)
    assert asked.request is SmsRequest.HELP and asked.digits is None


@pytest.mark.parametrize(("body", "score"), [("1", 1), ("5", 5), (" 4 ", 4), ("3!", 3)])
def test_a_digit_from_one_to_five_is_the_surveys_answer(body, score):
    asked = KEYWORDS.read(body)
    assert (asked.request, asked.score) == (SmsRequest.SCORE, score)


@given(st.text(max_size=2000))
def test_any_text_is_read_as_one_request(body):
    asked = KEYWORDS.read(body)
    assert asked.request in SmsRequest
    assert asked.digits is None or (asked.digits.isdigit() and len(asked.digits) == 13)
    assert asked.score is None or 1 <= asked.score <= 5


def test_a_keyword_with_an_accent_or_two_meanings_stops_the_start(tmp_path):
    for language in ("fr", "nl", "de"):
        (tmp_path / language).mkdir()
        (tmp_path / language / "sms.json").write_text(
            (LOCALES / language / "sms.json").read_text(encoding="utf-8"), encoding="utf-8")
    fr = tmp_path / "fr" / "sms.json"
    fr.write_text('{"balance": ["SOLDE"], "stop": ["ARRÊT"], "start": ["START"], '
                  '"help": ["AIDE"]}', encoding="utf-8")
    with pytest.raises(LocaleError, match="ARRÊT"):
        Keywords.load(tmp_path)
    fr.write_text('{"balance": ["SOLDE"], "stop": ["STOP"], "start": ["START"], '
                  '"help": ["SALDO"]}', encoding="utf-8")
    with pytest.raises(LocaleError, match="SALDO"):
        Keywords.load(tmp_path)
