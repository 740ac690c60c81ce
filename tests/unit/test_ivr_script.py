"""What the caller hears: the balance message in every state and language, and the fixed prompts."""

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from ivr.script import (
    LANGUAGE_MENU,
    PLACEHOLDERS,
    PromptsError,
    balance_script,
    language_menu,
    load_prompts,
    locked_out_script,
    phone_number_words,
    technical_problem_script,
    too_many_failures_script,
)
from ivr.spoken import LANGUAGES, load_vocabularies, number_words
from ledger import BRUSSELS, BalanceView, LastTopUp, NonDisconnectionPeriod, State
from ledger.rules import (
    NEEDS_TOPUP_TO_RESTORE,
    emergency_credit_left_cents,
    minimum_topup_cents,
    usable_before_disconnection_cents,
)

LOCALES = Path(__file__).resolve().parents[2] / "locales"
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=BRUSSELS)
MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=BRUSSELS)
FRIDAY_TOPUP = LastTopUp(at=datetime(2026, 11, 20, 17, 45, tzinfo=BRUSSELS), amount_cents=2000,
                         channel="terminal")
DIGIT = re.compile(r"\d")


@pytest.fixture(scope="module")
def prompts():
    return load_prompts(LOCALES)


@pytest.fixture(scope="module")
def words():
    return load_vocabularies(LOCALES)


def make_view(state: State, balance_cents: int, *, energy: str = "electricity",
              language: str = "fr", **overrides) -> BalanceView:
    """A balance view as the ledger would build it (made-up meter, seed 003's figures)."""
    fields = dict(
        ean="541448000000000017", energy=energy, language=language,
        balance_cents=balance_cents, as_of=SATURDAY_10, state=state, threshold_cents=500,
        emergency_credit_left_cents=emergency_credit_left_cents(balance_cents),
        usable_before_disconnection_cents=usable_before_disconnection_cents(balance_cents),
        minimum_topup_cents=(minimum_topup_cents(balance_cents)
                             if state in NEEDS_TOPUP_TO_RESTORE else None),
        debt_cents=0, debt_daily_cents=0, last_topup=None, estimated_days_left=None,
        power_limiter=state is State.POWER_LIMITED,
        disconnect_at=MONDAY_8 if state is State.DISCONNECTION_PENDING else None,
    )
    fields.update(overrides)
    return BalanceView(**fields)


SEED_VIEWS = {
    "normal": (State.NORMAL, 3880),
    "low": (State.LOW, 446),
    "emergency": (State.EMERGENCY, -120),
    "pending": (State.DISCONNECTION_PENDING, -1592),
    "disconnected": (State.DISCONNECTED, -1620),
    "power_limited": (State.POWER_LIMITED, -1620),
}

AS_OF = {
    "fr": "le samedi vingt-huit novembre à dix heures",
    "nl": "op zaterdag achtentwintig november om tien uur",
    "de": "am Samstag, dem achtundzwanzigsten November, um zehn Uhr",
}

# What must be heard, in this order, for each state (electricity).
EXPECTED = {
    "normal": {
        "fr": ["trente-huit euros et quatre-vingts centimes", AS_OF["fr"]],
        "nl": ["achtendertig euro en tachtig cent", AS_OF["nl"]],
        "de": ["achtunddreißig Euro und achtzig Cent", AS_OF["de"]],
    },
    "low": {
        "fr": ["quatre euros et quarante-six centimes", AS_OF["fr"], "solde est bas",
               "Si le solde est épuisé, le crédit de secours sera activé"],
        "nl": ["vier euro en zesenveertig cent", AS_OF["nl"], "saldo is laag",
               "wordt het noodkrediet ingeschakeld"],
        "de": ["vier Euro und sechsundvierzig Cent", AS_OF["de"], "Saldo ist niedrig",
               "wird der Notkredit aktiviert"],
    },
    "emergency": {
        "fr": ["moins un euro et vingt centimes", AS_OF["fr"], "votre crédit de secours",
               "treize euros et quatre-vingts centimes", "votre compteur sera déconnecté"],
        "nl": ["min één euro en twintig cent", AS_OF["nl"], "uw noodkrediet",
               "dertien euro en tachtig cent", "wordt uw meter afgesloten"],
        "de": ["minus ein Euro und zwanzig Cent", AS_OF["de"], "Ihren Notkredit",
               "dreizehn Euro und achtzig Cent", "wird Ihr Zähler abgeschaltet"],
    },
    "pending": {
        "fr": ["moins quinze euros et nonante-deux centimes", AS_OF["fr"],
               "Votre compteur sera déconnecté le lundi trente novembre à huit heures",
               "au moins seize euros et quarante-deux centimes"],
        "nl": ["min vijftien euro en tweeënnegentig cent", AS_OF["nl"],
               "Uw meter wordt op maandag dertig november om acht uur afgesloten",
               "minstens zestien euro en tweeënveertig cent"],
        "de": ["minus fünfzehn Euro und zweiundneunzig Cent", AS_OF["de"],
               "Ihr Zähler wird am Montag, dem dreißigsten November, um acht Uhr abgeschaltet",
               "mindestens sechzehn Euro und zweiundvierzig Cent"],
    },
    "disconnected": {
        "fr": ["moins seize euros et vingt centimes", AS_OF["fr"], "Votre compteur est désactivé",
               "au moins seize euros et septante centimes", "cinq secondes sur le bouton vert"],
        "nl": ["min zestien euro en twintig cent", AS_OF["nl"], "Uw meter is afgesloten",
               "minstens zestien euro en zeventig cent", "vijf seconden op de groene knop"],
        "de": ["minus sechzehn Euro und zwanzig Cent", AS_OF["de"], "Ihr Zähler ist abgeschaltet",
               "mindestens sechzehn Euro und siebzig Cent",
               "fünf Sekunden lang auf die grüne Taste"],
    },
    "power_limited": {
        "fr": ["moins seize euros et vingt centimes", AS_OF["fr"],
               "La puissance de votre compteur est limitée",
               "au moins seize euros et septante centimes", "bouton vert"],
        "nl": ["min zestien euro en twintig cent", AS_OF["nl"],
               "Het vermogen van uw meter is beperkt",
               "minstens zestien euro en zeventig cent", "groene knop"],
        "de": ["minus sechzehn Euro und zwanzig Cent", AS_OF["de"],
               "Die Leistung Ihres Zählers ist begrenzt",
               "mindestens sechzehn Euro und siebzig Cent", "grüne Taste"],
    },
}

GREEN_BUTTON = {"fr": "bouton vert", "nl": "groene knop", "de": "grüne Taste"}
TIGHTNESS_TEST = {"fr": "test d'étanchéité", "nl": "dichtheidstest", "de": "Dichtheitstest"}
EMERGENCY_WORD = {"fr": "crédit de secours", "nl": "noodkrediet", "de": "Notkredit"}


def assert_in_order(text: str, fragments: list[str]) -> None:
    position = 0
    for fragment in fragments:
        found = text.find(fragment, position)
        assert found >= 0, f"{fragment!r} not found after position {position} in:\n{text}"
        position = found + len(fragment)


def test_the_seed_pending_case_is_a_saturday_cut_off_on_monday_at_eight():
    assert SATURDAY_10.weekday() == 5
    assert NonDisconnectionPeriod().end_after(SATURDAY_10) == MONDAY_8


# The balance message ------------------------------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", list(SEED_VIEWS))
def test_each_state_says_the_important_words_in_order(case, language, words, prompts):
    state, balance = SEED_VIEWS[case]
    said = balance_script(make_view(state, balance, language=language), words, prompts)
    assert_in_order(" ".join(said), EXPECTED[case][language])
    assert EXPECTED[case][language][0] in said[0]          # the balance comes first
    assert AS_OF[language] in said[1]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("energy", ["electricity", "gas"])
@pytest.mark.parametrize("case", list(SEED_VIEWS))
def test_no_sentence_contains_a_digit(case, energy, language, words, prompts):
    state, balance = SEED_VIEWS[case]
    view = make_view(state, balance, energy=energy, language=language, debt_cents=1500,
                     debt_daily_cents=500, last_topup=FRIDAY_TOPUP, estimated_days_left=12)
    said = balance_script(view, words, prompts)
    assert said
    for sentence in said:
        assert not DIGIT.search(sentence), sentence
        assert sentence.strip() == sentence and sentence[-1] in ".!?"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", ["disconnected", "power_limited"])
def test_the_green_button_for_electricity_the_tightness_test_for_gas(case, language, words,
                                                                      prompts):
    state, balance = SEED_VIEWS[case]
    electricity = " ".join(balance_script(make_view(state, balance, language=language),
                                          words, prompts))
    gas = " ".join(balance_script(make_view(state, balance, energy="gas", language=language),
                                  words, prompts))
    assert GREEN_BUTTON[language] in electricity and TIGHTNESS_TEST[language] not in electricity
    assert TIGHTNESS_TEST[language] in gas and GREEN_BUTTON[language] not in gas
    assert {"fr": "dix minutes", "nl": "tien minuten", "de": "zehn Minuten"}[language] in gas


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", ["normal", "low", "emergency", "pending"])
def test_no_button_while_the_meter_is_not_cut_off(case, language, words, prompts):
    state, balance = SEED_VIEWS[case]
    for energy in ("electricity", "gas"):
        text = " ".join(balance_script(make_view(state, balance, energy=energy,
                                                 language=language), words, prompts))
        assert GREEN_BUTTON[language] not in text and TIGHTNESS_TEST[language] not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_normal_says_the_balance_and_nothing_about_emergency_credit(language, words, prompts):
    said = balance_script(make_view(State.NORMAL, 3880, language=language), words, prompts)
    assert len(said) == 2
    assert EMERGENCY_WORD[language] not in " ".join(said)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_gas_meter_is_named_as_gas(language, words, prompts):
    said = balance_script(make_view(State.NORMAL, 3880, energy="gas", language=language),
                          words, prompts)
    assert {"fr": "compteur de gaz", "nl": "gasmeter", "de": "Gaszählers"}[language] in said[0]


# (debt, daily, last top-up, days left): the parts after the state, in this order.
TAIL = {
    "fr": ["une dette de vingt euros", "à raison d'un euro par jour",
           "pour la dernière fois le vendredi vingt novembre, pour vingt euros",
           "environ trois jours"],
    "nl": ["een schuld van twintig euro", "met één euro per dag",
           "opgeladen op vrijdag twintig november, voor twintig euro", "ongeveer drie dagen"],
    "de": ["Restschuld beträgt zwanzig Euro", "Rückzahlung beträgt ein Euro",
           "Aufladung am Freitag, dem zwanzigsten November, betrug zwanzig Euro",
           "etwa drei Tage"],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_debt_last_topup_and_days_left_follow_the_state(language, words, prompts):
    view = make_view(State.EMERGENCY, -120, language=language, debt_cents=2000,
                     debt_daily_cents=100, last_topup=FRIDAY_TOPUP, estimated_days_left=3)
    said = balance_script(view, words, prompts)
    assert len(said) == 7   # balance, as of, state (two), debt, last top-up, days left
    assert_in_order(" ".join(said), EXPECTED["emergency"][language] + TAIL[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_debt_without_daily_repayment_says_only_the_debt(language, words, prompts):
    view = make_view(State.NORMAL, 3880, language=language, debt_cents=1500)
    said = balance_script(view, words, prompts)
    assert len(said) == 3
    fifteen = {"fr": "quinze euros", "nl": "vijftien euro", "de": "fünfzehn Euro"}
    assert fifteen[language] in said[2]
    assert {"fr": "par jour", "nl": "per dag", "de": "täglich"}[language] not in said[2]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", ["pending", "disconnected", "power_limited"])
def test_no_days_left_once_the_meter_is_cut_or_about_to_be(case, language, words, prompts):
    state, balance = SEED_VIEWS[case]
    plain = balance_script(make_view(state, balance, language=language), words, prompts)
    with_days = balance_script(make_view(state, balance, language=language,
                                         estimated_days_left=0), words, prompts)
    assert with_days == plain


@pytest.mark.parametrize(("days", "expected"), [
    (0, {"fr": "moins d'un jour", "nl": "minder dan één dag", "de": "weniger als einem Tag"}),
    (1, {"fr": "environ un jour", "nl": "ongeveer één dag", "de": "etwa einen Tag"}),
    (2, {"fr": "environ deux jours", "nl": "ongeveer twee dagen", "de": "etwa zwei Tage"}),
    (21, {"fr": "environ vingt et un jours", "nl": "ongeveer eenentwintig dagen",
          "de": "etwa einundzwanzig Tage"}),
])
@pytest.mark.parametrize("language", LANGUAGES)
def test_days_left_in_words(days, expected, language, words, prompts):
    view = make_view(State.LOW, 446, language=language, estimated_days_left=days)
    assert expected[language] in balance_script(view, words, prompts)[-1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_power_limiter_is_limited_not_disconnected_when_the_credit_runs_out(language, words,
                                                                                prompts):
    limited = {"fr": "la puissance de votre compteur sera limitée",
               "nl": "het vermogen van uw meter", "de": "die leistung ihres zählers"}
    cut = {"fr": "déconnecté", "nl": "afgesloten", "de": "abgeschaltet"}
    for view in (make_view(State.EMERGENCY, -120, language=language, power_limiter=True),
                 make_view(State.DISCONNECTION_PENDING, -1592, language=language,
                           power_limiter=True)):
        text = " ".join(balance_script(view, words, prompts))
        assert limited[language] in text.lower() and cut[language] not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_pending_without_a_known_end_says_soon(language, words, prompts):
    view = make_view(State.DISCONNECTION_PENDING, -1592, language=language, disconnect_at=None)
    said = balance_script(view, words, prompts)
    assert {"fr": "bientôt", "nl": "binnenkort", "de": "bald"}[language] in said[2]
    assert {"fr": "seize euros et quarante-deux centimes", "nl": "zestien euro en tweeënveertig",
            "de": "sechzehn Euro und zweiundvierzig Cent"}[language] in said[3]


def test_french_elides_before_un(words, prompts):
    view = make_view(State.LOW, 100, debt_cents=100, debt_daily_cents=100)
    said = balance_script(view, words, prompts)
    assert said[0] == "Le solde de votre compteur d'électricité est d'un euro."
    assert "une dette d'un euro" in said[3] and "à raison d'un euro par jour" in said[3]
    assert "de un" not in " ".join(said)
    eight = balance_script(make_view(State.NORMAL, 800), words, prompts)[0]
    assert eight.endswith("est de huit euros.")                 # an aspirated h: no elision


def test_the_language_chosen_on_the_call_wins_over_the_accounts(words, prompts):
    view = make_view(State.EMERGENCY, -120, language="nl")
    assert "noodkrediet" in " ".join(balance_script(view, words, prompts))
    assert "Notkredit" in " ".join(balance_script(view, words, prompts, language="de"))
    single = balance_script(view, words["fr"], prompts["fr"], language="fr")
    assert single == balance_script(view, words, prompts, language="fr")
    with pytest.raises(ValueError, match="'fr'"):
        balance_script(view, words["fr"], prompts["fr"])          # one language, not the account's
    with pytest.raises(ValueError, match="'en'"):
        balance_script(view, words, prompts, language="en")


def test_an_unknown_energy_is_refused(words, prompts):
    with pytest.raises(ValueError, match="water"):
        balance_script(make_view(State.NORMAL, 3880, energy="water"), words, prompts)


# The fixed prompts --------------------------------------------------------------------------------

def test_every_locale_file_has_the_same_keys():
    files = {language: json.loads((LOCALES / language / "ivr.json").read_text(encoding="utf-8"))
             for language in LANGUAGES}
    tops = {language: set(data) for language, data in files.items()}
    keys = {language: set(data["prompts"]) for language, data in files.items()}
    assert tops["fr"] == tops["nl"] == tops["de"]
    assert keys["fr"] == keys["nl"] == keys["de"] == set(PLACEHOLDERS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_prompt_says_a_digit_once_filled(language, prompts):
    for key in PLACEHOLDERS:
        fields = {name: "x" for name in PLACEHOLDERS[key]}
        assert not DIGIT.search(prompts[language].say(key, **fields)), key


def test_the_language_menu_says_each_key_in_its_own_language(prompts):
    menu = language_menu(prompts)
    assert [(key, language) for key, language, _ in menu] == [("1", "nl"), ("2", "fr"), ("3", "de")]
    assert [text for _, _, text in menu] == [
        "Voor Nederlands, druk op één.", "Pour le français, tapez deux.",
        "Für Deutsch drücken Sie die Drei."]
    for key, language, text in menu:
        assert number_words(int(key), language).lower() in text.lower()
    assert dict(LANGUAGE_MENU) == {"1": "nl", "2": "fr", "3": "de"}


MENU_KEYS = {
    "fr": ["tapez un.", "tapez deux.", "tapez trois.", "tapez zéro."],
    "nl": ["druk op één.", "druk op twee.", "druk op drie.", "druk op nul."],
    "de": ["die Eins.", "die Zwei.", "die Drei.", "die Null."],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_menu_after_the_balance_repeat_another_top_up_end(language, prompts):
    assert_in_order(prompts[language]["menu_after_balance"], MENU_KEYS[language])


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", ["en ligne", "commerce", "bureau d'accueil ORES", "CPAS", "treize derniers chiffres",
            "entre cinq euros et deux cent cinquante euros"]),
    ("nl", ["online", "winkel", "onthaalkantoor van ORES", "OCMW", "laatste dertien cijfers",
            "tussen vijf euro en tweehonderdvijftig euro"]),
    ("de", ["online", "Geschäft", "Kundenbüro von ORES", "ÖSHZ", "letzten dreizehn Ziffern",
            "zwischen fünf Euro und zweihundertfünfzig Euro"]),
])
def test_how_to_top_up(language, expected, prompts):
    assert_in_order(prompts[language]["how_to_top_up"], expected)


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", ["treize derniers chiffres", "EAN", "dièse"]),
    ("nl", ["laatste dertien cijfers", "EAN", "hekje"]),
    ("de", ["letzten dreizehn Ziffern", "EAN", "Rautetaste"]),
])
def test_asking_for_the_code(language, expected, prompts):
    invoice = {"fr": "facture d'énergie", "nl": "energiefactuur", "de": "Energierechnung"}
    assert invoice[language] in prompts[language]["ask_ean"]
    assert_in_order(prompts[language]["ask_ean"], expected)


CUSTOMER_SERVICE = {
    "fr": "zéro septante-huit, quinze, septante-huit, zéro un",
    "nl": "nul zeven acht, één vijf, zeven acht, nul één",
    "de": "null sieben acht, eins fünf, sieben acht, null eins",
}
HOURS = {
    "fr": ["du lundi au vendredi de huit heures à vingt heures",
           "le samedi de neuf heures à treize heures", "sauf les jours fériés"],
    "nl": ["van maandag tot vrijdag, van acht tot twintig uur",
           "op zaterdag van negen tot dertien uur", "behalve op feestdagen"],
    "de": ["montags bis freitags von acht bis zwanzig Uhr", "samstags von neun bis dreizehn Uhr",
           "außer an Feiertagen"],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_three_failures_the_customer_service_number_twice_then_goodbye(language, prompts):
    said = too_many_failures_script(prompts[language])
    assert said[-1] == prompts[language]["goodbye"]
    assert said[1].count(CUSTOMER_SERVICE[language]) == 2
    assert_in_order(said[1], [CUSTOMER_SERVICE[language], *HOURS[language]])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_technical_problem_and_a_lockout_also_give_the_number(language, prompts):
    for script, first in ((technical_problem_script, "technical_problem"),
                          (locked_out_script, "locked_out")):
        said = script(prompts[language])
        assert said[0] == prompts[language][first]
        assert CUSTOMER_SERVICE[language] in said[1]
        assert said[-1] == prompts[language]["goodbye"]


@pytest.mark.parametrize(("number", "language", "reading", "expected"), [
    ("078/15.78.01", "fr", "pairs", "zéro septante-huit, quinze, septante-huit, zéro un"),
    ("078/15.78.01", "fr", "digits", "zéro sept huit, un cinq, sept huit, zéro un"),
    ("0800/92.424", "fr", "pairs", "zéro huit cents, nonante-deux, quatre cent vingt-quatre"),
    ("0800/87.087", "fr", "pairs", "zéro huit cents, quatre-vingt-sept, zéro quatre-vingt-sept"),
    ("0800 00", "fr", "pairs", "zéro huit cents, zéro zéro"),
    ("078/15.78.01", "nl", "pairs", "nul achtenzeventig, vijftien, achtenzeventig, nul één"),
    ("0800/92.424", "nl", "digits", "nul acht nul nul, negen twee, vier twee vier"),
    ("0800/92.424", "de", "digits", "null acht null null, neun zwei, vier zwei vier"),
])
def test_phone_numbers_in_words(number, language, reading, expected, words):
    assert phone_number_words(number, words[language], reading) == expected


@pytest.mark.parametrize("number", ["", "078/", "+32 78 15 78 01", "078-15-78-01", "zéro"])
def test_a_phone_number_that_is_not_one_is_refused(number, words):
    with pytest.raises(ValueError, match="phone number"):
        phone_number_words(number, words["fr"], "pairs")


# The loader refuses what the line could not say ---------------------------------------------------

@pytest.fixture
def locales(tmp_path) -> Path:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES, copy)
    return copy


def edit(locales: Path, language: str, change) -> None:
    path = locales / language / "ivr.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_the_copied_locales_load(locales):
    assert set(load_prompts(locales)) == set(LANGUAGES)


def test_a_missing_prompt_is_refused_naming_file_and_key(locales):
    edit(locales, "de", lambda data: data["prompts"].pop("goodbye"))
    with pytest.raises(PromptsError, match=r"de/ivr\.json: prompt 'goodbye' is missing"):
        load_prompts(locales)


def test_a_digit_in_a_prompt_is_refused_naming_file_and_key(locales):
    edit(locales, "nl", lambda data: data["prompts"].update(goodbye="Bel 078/15.78.01. Tot ziens."))
    with pytest.raises(PromptsError, match=r"nl/ivr\.json: prompt 'goodbye' contains a digit"):
        load_prompts(locales)


def test_an_unknown_prompt_is_refused(locales):
    edit(locales, "fr", lambda data: data["prompts"].update(goodbey="Au revoir."))
    with pytest.raises(PromptsError, match=r"fr/ivr\.json: prompt 'goodbey' is not one"):
        load_prompts(locales)


@pytest.mark.parametrize(("key", "text", "message"), [
    ("balance_gas", "Le solde de votre compteur de gaz.", r"'balance_gas' must use .*\{amount\}"),
    ("goodbye", "Au revoir {name}.", r"'goodbye' must use the placeholders none; it uses \{name\}"),
    ("as_of", "Calculé {moment.", r"'as_of' has a broken placeholder"),
    ("low", "", r"'low' must be a non-empty text"),
])
def test_a_wrong_placeholder_is_refused(locales, key, text, message):
    edit(locales, "fr", lambda data: data["prompts"].update({key: text}))
    with pytest.raises(PromptsError, match=message):
        load_prompts(locales)


def test_a_missing_prompts_file_is_refused(locales):
    (locales / "de" / "ivr.json").unlink()
    with pytest.raises(PromptsError, match=r"de/ivr\.json: missing"):
        load_prompts(locales)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("customer_service_number", "zéro septante-huit", "is not a phone number"),
    ("phone_number_reading", "triplets", "is not one of pairs, digits"),
])
def test_a_wrong_customer_service_setting_is_refused(locales, field, value, message):
    edit(locales, "nl", lambda data: data.update({field: value}))
    with pytest.raises(PromptsError, match=rf"nl/ivr\.json: '{field}' .*{message}"):
        load_prompts(locales)


def test_the_customer_service_number_is_data(locales):
    edit(locales, "fr", lambda data: data.update(customer_service_number="0800/92.424"))
    said = load_prompts(locales)["fr"]["customer_service"]
    assert "zéro huit cents, nonante-deux, quatre cent vingt-quatre" in said
    assert "septante-huit" not in said
