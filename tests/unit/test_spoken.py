"""Numbers, amounts, dates and times as the balance line says them, checked against known words."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.spoken import (
    BRUSSELS, LANGUAGES, LARGEST, amount_words, date_words, days_words, load_vocabularies,
    load_vocabulary, moment_words, number_words, short_moment_words, time_words, wait_words,
    web_address_words,
)

LOCALES = Path(__file__).resolve().parents[2] / "locales"


@pytest.fixture(scope="module")
def words():
    return load_vocabularies(LOCALES)


# n: (Belgian French, Dutch, German)
NUMBERS = {
    0: ("zéro", "nul", "null"),
    1: ("un", "één", "eins"),
    2: ("deux", "twee", "zwei"),
    11: ("onze", "elf", "elf"),
    16: ("seize", "zestien", "sechzehn"),
    17: ("dix-sept", "zeventien", "siebzehn"),
    21: ("vingt et un", "eenentwintig", "einundzwanzig"),
    22: ("vingt-deux", "tweeëntwintig", "zweiundzwanzig"),
    23: ("vingt-trois", "drieëntwintig", "dreiundzwanzig"),
    30: ("trente", "dertig", "dreißig"),
    31: ("trente et un", "eenendertig", "einunddreißig"),
    32: ("trente-deux", "tweeëndertig", "zweiunddreißig"),
    61: ("soixante et un", "eenenzestig", "einundsechzig"),
    70: ("septante", "zeventig", "siebzig"),
    71: ("septante et un", "eenenzeventig", "einundsiebzig"),
    77: ("septante-sept", "zevenenzeventig", "siebenundsiebzig"),
    80: ("quatre-vingts", "tachtig", "achtzig"),
    81: ("quatre-vingt-un", "eenentachtig", "einundachtzig"),
    88: ("quatre-vingt-huit", "achtentachtig", "achtundachtzig"),
    90: ("nonante", "negentig", "neunzig"),
    91: ("nonante et un", "eenennegentig", "einundneunzig"),
    99: ("nonante-neuf", "negenennegentig", "neunundneunzig"),
    100: ("cent", "honderd", "hundert"),
    101: ("cent un", "honderdeen", "hunderteins"),
    111: ("cent onze", "honderdelf", "hundertelf"),
    121: ("cent vingt et un", "honderdeenentwintig", "hunderteinundzwanzig"),
    180: ("cent quatre-vingts", "honderdtachtig", "hundertachtzig"),
    181: ("cent quatre-vingt-un", "honderdeenentachtig", "hunderteinundachtzig"),
    200: ("deux cents", "tweehonderd", "zweihundert"),
    201: ("deux cent un", "tweehonderdeen", "zweihunderteins"),
    250: ("deux cent cinquante", "tweehonderdvijftig", "zweihundertfünfzig"),
    280: ("deux cent quatre-vingts", "tweehonderdtachtig", "zweihundertachtzig"),
    999: ("neuf cent nonante-neuf", "negenhonderdnegenennegentig", "neunhundertneunundneunzig"),
    1000: ("mille", "duizend", "tausend"),
    1001: ("mille un", "duizend één", "tausendeins"),
    1100: ("mille cent", "duizend honderd", "tausendhundert"),
    2000: ("deux mille", "tweeduizend", "zweitausend"),
    2022: ("deux mille vingt-deux", "tweeduizend tweeëntwintig", "zweitausendzweiundzwanzig"),
    21000: ("vingt et un mille", "eenentwintigduizend", "einundzwanzigtausend"),
    25000: ("vingt-cinq mille", "vijfentwintigduizend", "fünfundzwanzigtausend"),
    80000: ("quatre-vingt mille", "tachtigduizend", "achtzigtausend"),
    80080: ("quatre-vingt mille quatre-vingts", "tachtigduizend tachtig", "achtzigtausendachtzig"),
    101000: ("cent un mille", "honderdeenduizend", "hunderteintausend"),
    200000: ("deux cent mille", "tweehonderdduizend", "zweihunderttausend"),
    280000: ("deux cent quatre-vingt mille", "tweehonderdtachtigduizend",
             "zweihundertachtzigtausend"),
    999999: ("neuf cent nonante-neuf mille neuf cent nonante-neuf",
             "negenhonderdnegenennegentigduizend negenhonderdnegenennegentig",
             "neunhundertneunundneunzigtausendneunhundertneunundneunzig"),
}


@pytest.mark.parametrize(("n", "expected"), NUMBERS.items())
def test_number_words(n, expected):
    assert tuple(number_words(n, language) for language in LANGUAGES) == expected


# cents: (Belgian French, Dutch, German); the list first.
AMOUNTS = {
    50: ("cinquante centimes", "vijftig cent", "fünfzig Cent"),
    100: ("un euro", "één euro", "ein Euro"),
    101: ("un euro et un centime", "één euro en één cent", "ein Euro und ein Cent"),
    7100: ("septante et un euros", "eenenzeventig euro", "einundsiebzig Euro"),
    8000: ("quatre-vingts euros", "tachtig euro", "achtzig Euro"),
    8100: ("quatre-vingt-un euros", "eenentachtig euro", "einundachtzig Euro"),
    9000: ("nonante euros", "negentig euro", "neunzig Euro"),
    9900: ("nonante-neuf euros", "negenennegentig euro", "neunundneunzig Euro"),
    10000: ("cent euros", "honderd euro", "hundert Euro"),
    20000: ("deux cents euros", "tweehonderd euro", "zweihundert Euro"),
    25000: ("deux cent cinquante euros", "tweehonderdvijftig euro", "zweihundertfünfzig Euro"),
    -120: ("moins un euro et vingt centimes", "min één euro en twintig cent",
           "minus ein Euro und zwanzig Cent"),
    -1620: ("moins seize euros et vingt centimes", "min zestien euro en twintig cent",
            "minus sechzehn Euro und zwanzig Cent"),
    # and around them
    0: ("zéro euro", "nul euro", "null Euro"),
    1: ("un centime", "één cent", "ein Cent"),
    -1: ("moins un centime", "min één cent", "minus ein Cent"),
    -50: ("moins cinquante centimes", "min vijftig cent", "minus fünfzig Cent"),
    21: ("vingt et un centimes", "eenentwintig cent", "einundzwanzig Cent"),
    200: ("deux euros", "twee euro", "zwei Euro"),
    1000: ("dix euros", "tien euro", "zehn Euro"),
    -1500: ("moins quinze euros", "min vijftien euro", "minus fünfzehn Euro"),
    -1592: ("moins quinze euros et nonante-deux centimes",
            "min vijftien euro en tweeënnegentig cent",
            "minus fünfzehn Euro und zweiundneunzig Cent"),
    1380: ("treize euros et quatre-vingts centimes", "dertien euro en tachtig cent",
           "dreizehn Euro und achtzig Cent"),
    3880: ("trente-huit euros et quatre-vingts centimes", "achtendertig euro en tachtig cent",
           "achtunddreißig Euro und achtzig Cent"),
    446: ("quatre euros et quarante-six centimes", "vier euro en zesenveertig cent",
          "vier Euro und sechsundvierzig Cent"),
    2199: ("vingt et un euros et nonante-neuf centimes",
           "eenentwintig euro en negenennegentig cent",
           "einundzwanzig Euro und neunundneunzig Cent"),
    3100: ("trente et un euros", "eenendertig euro", "einunddreißig Euro"),
    10101: ("cent un euros et un centime", "honderdeen euro en één cent",
            "hundertein Euro und ein Cent"),
    18000: ("cent quatre-vingts euros", "honderdtachtig euro", "hundertachtzig Euro"),
    100100: ("mille un euros", "duizend één euro", "tausendein Euro"),
    200000: ("deux mille euros", "tweeduizend euro", "zweitausend Euro"),
    2500000: ("vingt-cinq mille euros", "vijfentwintigduizend euro", "fünfundzwanzigtausend Euro"),
}


@pytest.mark.parametrize(("cents", "expected"), AMOUNTS.items())
def test_amount_words(words, cents, expected):
    assert tuple(amount_words(cents, words[language]) for language in LANGUAGES) == expected


# (UTC moment): (fr, nl, de) date and time said in Brussels
MOMENTS = {
    datetime(2026, 11, 23, 13, 30, tzinfo=UTC): (
        "le lundi vingt-trois novembre à quatorze heures trente",
        "op maandag drieëntwintig november om veertien uur dertig",
        "am Montag, dem dreiundzwanzigsten November, um vierzehn Uhr dreißig"),
    # 23:30 UTC on 30 November is already 1 December in Brussels
    datetime(2026, 11, 30, 23, 30, tzinfo=UTC): (
        "le mardi premier décembre à zéro heure trente",
        "op dinsdag één december om nul uur dertig",
        "am Dienstag, dem ersten Dezember, um null Uhr dreißig"),
    datetime(2026, 12, 3, 0, 0, tzinfo=UTC): (
        "le jeudi trois décembre à une heure",
        "op donderdag drie december om één uur",
        "am Donnerstag, dem dritten Dezember, um ein Uhr"),
    datetime(2026, 12, 21, 20, 1, tzinfo=UTC): (
        "le lundi vingt et un décembre à vingt et une heures une",
        "op maandag eenentwintig december om eenentwintig uur één",
        "am Montag, dem einundzwanzigsten Dezember, um einundzwanzig Uhr eins"),
    datetime(2026, 12, 31, 10, 21, tzinfo=UTC): (
        "le jeudi trente et un décembre à onze heures vingt et une",
        "op donderdag eenendertig december om elf uur eenentwintig",
        "am Donnerstag, dem einunddreißigsten Dezember, um elf Uhr einundzwanzig"),
    # summer time starts on Sunday 29 March 2026: 01:30 UTC is 03:30 in Brussels
    datetime(2026, 3, 29, 1, 30, tzinfo=UTC): (
        "le dimanche vingt-neuf mars à trois heures trente",
        "op zondag negenentwintig maart om drie uur dertig",
        "am Sonntag, dem neunundzwanzigsten März, um drei Uhr dreißig"),
    datetime(2026, 8, 1, 11, 5, tzinfo=UTC): (
        "le samedi premier août à treize heures cinq",
        "op zaterdag één augustus om dertien uur vijf",
        "am Samstag, dem ersten August, um dreizehn Uhr fünf"),
}


@pytest.mark.parametrize(("moment", "expected"), MOMENTS.items())
def test_moment_words_in_brussels(words, moment, expected):
    assert tuple(moment_words(moment, words[language]) for language in LANGUAGES) == expected


def test_date_and_time_are_also_said_apart(words):
    moment = datetime(2026, 11, 23, 14, 0, tzinfo=BRUSSELS)
    said = [(date_words(moment, words[language]), time_words(moment, words[language]))
            for language in LANGUAGES]
    assert said == [
        ("le lundi vingt-trois novembre", "quatorze heures"),
        ("op maandag drieëntwintig november", "veertien uur"),
        ("am Montag, dem dreiundzwanzigsten November", "vierzehn Uhr"),
    ]


@pytest.mark.parametrize(("day", "ordinal"), [
    (2, "zweiten"), (3, "dritten"), (7, "siebten"), (8, "achten"), (11, "elften"),
    (16, "sechzehnten"), (17, "siebzehnten"), (19, "neunzehnten"), (20, "zwanzigsten"),
    (30, "dreißigsten"),
])
def test_german_days_of_the_month_are_dative_ordinals(words, day, ordinal):
    moment = datetime(2026, 12, day, 12, tzinfo=BRUSSELS)
    assert f", dem {ordinal} Dezember" in date_words(moment, words["de"])


def test_a_moment_without_a_time_zone_is_refused(words):
    with pytest.raises(ValueError, match="time zone"):
        time_words(datetime(2026, 11, 23, 14, 30), words["fr"])


# German days are in the dative: the line says them after "in" ("in etwa drei Tagen"); one day
# has prompts of its own ("in etwa einem Tag").
@pytest.mark.parametrize(("n", "expected"), [
    (0, ("zéro jour", "nul dagen", "null Tagen")),
    (2, ("deux jours", "twee dagen", "zwei Tagen")),
    (21, ("vingt et un jours", "eenentwintig dagen", "einundzwanzig Tagen")),
    (101, ("cent un jours", "honderdeen dagen", "hundertein Tagen")),
])
def test_days_words(words, n, expected):
    assert tuple(days_words(n, words[language]) for language in LANGUAGES) == expected


def test_negative_days_are_refused(words):
    with pytest.raises(ValueError):
        days_words(-1, words["nl"])


@pytest.mark.parametrize("n", [-1, LARGEST + 1])
def test_numbers_outside_the_range_are_refused(n):
    with pytest.raises(ValueError, match="outside"):
        number_words(n, "fr")


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="language"):
        number_words(5, "en")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_number_below_ten_thousand_has_its_own_words(language):
    said = {number_words(n, language) for n in range(10_000)}
    assert len(said) == 10_000


@given(st.integers(0, LARGEST))
def test_number_words_follow_each_language_spelling(n):
    fr, nl, de = (number_words(n, language) for language in LANGUAGES)
    assert not re.search(r"\d", fr + nl + de)
    assert "soixante-dix" not in fr and "quatre-vingt-dix" not in fr and "huitante" not in fr
    # "vingts" and "cents" take their s only at the very end of the number
    assert not re.search(r"(vingts|cents) ", fr)
    assert " " not in de
    assert nl.count(" ") <= 1 and (" " not in nl or "duizend " in nl)


@given(cents=st.integers(-LARGEST * 100, LARGEST * 100))
def test_amounts_are_words_with_the_sign_first(words, cents):
    for language, vocabulary in words.items():
        said = amount_words(cents, vocabulary)
        assert not re.search(r"\d", said)
        assert said.startswith(vocabulary.minus + " ") == (cents < 0)
        if language == "fr":
            assert not said.endswith((" cent", " cents"))


def test_a_broken_locale_file_fails_when_loaded(tmp_path):
    entries = json.loads((LOCALES / "fr" / "spoken.json").read_text(encoding="utf-8"))
    del entries["minus"]
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "spoken.json").write_text(json.dumps(entries), encoding="utf-8")
    with pytest.raises(ValueError, match="minus"):
        load_vocabulary(tmp_path, "fr")


def test_a_locale_file_with_missing_months_fails_when_loaded(tmp_path):
    entries = json.loads((LOCALES / "de" / "spoken.json").read_text(encoding="utf-8"))
    entries["months"] = entries["months"][:11]
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "spoken.json").write_text(json.dumps(entries), encoding="utf-8")
    with pytest.raises(ValueError, match="12 months"):
        load_vocabulary(tmp_path, "de")


# When the balance was calculated, as a label; waits; web addresses ------------------------------

@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2026, 11, 28, 10, 0, tzinfo=BRUSSELS), (
        "samedi vingt-huit novembre, dix heures", "zaterdag achtentwintig november, tien uur",
        "Samstag, dem achtundzwanzigsten November, zehn Uhr")),
    (datetime(2026, 12, 1, 1, 21, tzinfo=BRUSSELS), (
        "mardi premier décembre, une heure vingt et une",
        "dinsdag één december, één uur eenentwintig",
        "Dienstag, dem ersten Dezember, ein Uhr einundzwanzig")),
])
def test_short_moment_words(words, moment, expected):
    assert tuple(short_moment_words(moment, words[language]) for language in LANGUAGES) == expected


@pytest.mark.parametrize(("wait", "expected"), [
    (timedelta(seconds=1), ("cinq minutes", "vijf minuten", "fünf Minuten")),
    (timedelta(minutes=21), ("vingt-cinq minutes", "vijfentwintig minuten",
                             "fünfundzwanzig Minuten")),
    (timedelta(minutes=55), ("cinquante-cinq minutes", "vijfenvijftig minuten",
                             "fünfundfünfzig Minuten")),
    (timedelta(minutes=55, seconds=1), ("une heure", "één uur", "eine Stunde")),
    (timedelta(hours=1), ("une heure", "één uur", "eine Stunde")),
    (timedelta(hours=1, minutes=1), ("deux heures", "twee uur", "zwei Stunden")),
    (timedelta(hours=21), ("vingt et une heures", "eenentwintig uur", "einundzwanzig Stunden")),
])
def test_waits_are_rounded_up_so_that_it_is_possible_by_then(words, wait, expected):
    assert tuple(wait_words(wait, words[language]) for language in LANGUAGES) == expected


def test_a_web_address_is_said_with_its_dots_and_its_country_spelled(words):
    assert [web_address_words("recharger.ores.be", words[language]) for language in LANGUAGES] == [
        "recharger point ores point B E", "recharger punt ores punt B E",
        "recharger Punkt ores Punkt B E"]
    assert web_address_words("ores.net", words["fr"]) == "ores point net"


@pytest.mark.parametrize("address", ["", "https://ores.be", "ores..be", "ores.be/ou", "ores 2.be"])
def test_what_is_no_web_address_to_say_is_refused(words, address):
    with pytest.raises(ValueError, match="web address"):
        web_address_words(address, words["fr"])
