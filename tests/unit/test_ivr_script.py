"""What the caller hears: the balance message in every state and language, and the fixed prompts."""

import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ivr.prompts import PLACEHOLDERS, TOPUP_SITE, load_prompts, phone_number_words
from ivr.script import (
    LANGUAGE_MENU,
    MAX_WORDS,
    balance_script,
    closed_script,
    language_menu,
    locked_out_greeting,
    locked_out_script,
    minimum_topup_said_cents,
    spoken_words,
    technical_problem_script,
)
from ivr.spoken import load_vocabularies, number_words
from ledger import LANGUAGES
from wording import LocaleError
from ledger import BRUSSELS, BalanceView, LastTopUp, NonDisconnectionPeriod, State
from ledger.rules import (
    emergency_credit_left_cents,
    minimum_topup_for,
    usable_before_disconnection_cents,
)
from messaging.render import TEMPLATE_GLOBALS

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
    """A balance view as the ledger would build it (made-up meter, seed 003's figures): the
    minimum top-up is the ledger's own figure for the state."""
    fields = dict(
        ean="541448000000000017", energy=energy, language=language,
        balance_cents=balance_cents, as_of=SATURDAY_10, state=state, threshold_cents=500,
        emergency_credit_left_cents=emergency_credit_left_cents(balance_cents),
        usable_before_disconnection_cents=usable_before_disconnection_cents(balance_cents),
        minimum_topup_cents=minimum_topup_for(state, balance_cents),
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
    "fr": "Solde au samedi vingt-huit novembre, dix heures.",
    "nl": "Saldo op zaterdag achtentwintig november, tien uur.",
    "de": "Saldo vom Samstag, dem achtundzwanzigsten November, zehn Uhr.",
}
# The one word of each state, as the SMS say it (locales/*/messages/*.sms.j2).
CUT_WORD = {"fr": "coupé", "nl": "afgesloten", "de": "abgeschaltet"}
NOT_THE_WORD = {"fr": ("déconnecté", "désactivé"), "nl": ("uitgeschakeld", "gedeactiveerd"),
                "de": ("getrennt", "deaktiviert")}
LIMITED = {"fr": "La puissance de votre compteur est limitée",
           "nl": "Het vermogen van uw meter is beperkt",
           "de": "Die Leistung Ihres Stromzählers ist begrenzt"}
FULL_POWER = {"fr": "toute la puissance", "nl": "het volle vermogen", "de": "die volle Leistung"}

# What must be heard, in this order, for each state (electricity, no debt, no top-up on record).
EXPECTED = {
    "normal": {
        "fr": ["trente-huit euros et quatre-vingts centimes", AS_OF["fr"]],
        "nl": ["achtendertig euro en tachtig cent", AS_OF["nl"]],
        "de": ["achtunddreißig Euro und achtzig Cent", AS_OF["de"]],
    },
    "low": {
        "fr": ["quatre euros et quarante-six centimes", AS_OF["fr"], "Votre solde est bas",
               "Pensez à recharger"],
        "nl": ["vier euro en zesenveertig cent", AS_OF["nl"], "Uw saldo is laag",
               "om op te laden"],
        "de": ["vier Euro und sechsundvierzig Cent", AS_OF["de"], "Ihr Saldo ist niedrig",
               "aufzuladen"],
    },
    "emergency": {
        "fr": ["moins un euro et vingt centimes", AS_OF["fr"], "votre crédit de secours",
               "treize euros et quatre-vingts centimes avant la coupure"],
        "nl": ["min één euro en twintig cent", AS_OF["nl"], "uw noodkrediet",
               "dertien euro en tachtig cent over tot uw meter wordt afgesloten"],
        "de": ["minus ein Euro und zwanzig Cent", AS_OF["de"], "Ihren Notkredit",
               "bis zur Abschaltung beträgt dreizehn Euro und achtzig Cent"],
    },
    "pending": {   # −15,92 €: 0,93 € avoids the cut, but a terminal takes five euros at least
        "fr": ["Votre compteur sera coupé le lundi trente novembre à huit heures",
               "rechargez au moins cinq euros", "moins quinze euros et nonante-deux centimes",
               AS_OF["fr"]],
        "nl": ["Uw meter wordt op maandag dertig november om acht uur afgesloten",
               "laadt u minstens vijf euro op", "min vijftien euro en tweeënnegentig cent",
               AS_OF["nl"]],
        "de": ["Ihr Zähler wird am Montag, dem dreißigsten November, um acht Uhr abgeschaltet",
               "laden Sie mindestens fünf Euro auf",
               "minus fünfzehn Euro und zweiundneunzig Cent", AS_OF["de"]],
    },
    "disconnected": {   # −16,20 €: 16,70 € brings it back to 0,50 €, said as seventeen euros
        "fr": ["Votre compteur d'électricité est coupé", "rechargez au moins dix-sept euros",
               "moins seize euros et vingt centimes", AS_OF["fr"],
               "cinq secondes sur le bouton vert"],
        "nl": ["Uw elektriciteitsmeter is afgesloten", "laadt u minstens zeventien euro op",
               "min zestien euro en twintig cent", AS_OF["nl"], "vijf seconden op de groene knop"],
        "de": ["Ihr Stromzähler ist abgeschaltet", "laden Sie mindestens siebzehn Euro auf",
               "minus sechzehn Euro und zwanzig Cent", AS_OF["de"],
               "fünf Sekunden lang auf die grüne Taste"],
    },
    "power_limited": {
        "fr": [LIMITED["fr"], FULL_POWER["fr"], "rechargez au moins dix-sept euros",
               "moins seize euros et vingt centimes", AS_OF["fr"], "bouton vert"],
        "nl": [LIMITED["nl"], FULL_POWER["nl"], "laadt u minstens zeventien euro op",
               "min zestien euro en twintig cent", AS_OF["nl"], "groene knop"],
        "de": [LIMITED["de"], FULL_POWER["de"], "laden Sie mindestens siebzehn Euro auf",
               "minus sechzehn Euro und zwanzig Cent", AS_OF["de"], "grüne Taste"],
    },
}

GREEN_BUTTON = {"fr": "bouton vert", "nl": "groene knop", "de": "grüne Taste"}
TIGHTNESS_TEST = {"fr": "test d'étanchéité", "nl": "dichtheidstest", "de": "Dichtheitstest"}
EMERGENCY_WORD = {"fr": "crédit de secours", "nl": "noodkrediet", "de": "Notkredit"}
DEBT = {"fr": "Dette restante", "nl": "Resterende schuld", "de": "Restschuld"}
LAST_TOPUP = {"fr": "Dernier rechargement", "nl": "Laatste oplading", "de": "Letzte Aufladung"}


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
    assert EXPECTED[case][language][0] in said[0]          # what matters most comes first


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", ["pending", "disconnected", "power_limited"])
def test_a_cut_or_pending_meter_is_told_first_with_what_to_top_up(case, language, words,
                                                                    prompts):
    state, balance = SEED_VIEWS[case]
    view = make_view(state, balance, language=language, debt_cents=2000, debt_daily_cents=100,
                     last_topup=FRIDAY_TOPUP)
    said = balance_script(view, words, prompts)
    first = said[0]
    assert {"fr": "au moins", "nl": "minstens", "de": "mindestens"}[language] in first
    balance = {"fr": "solde", "nl": "saldo", "de": "saldo"}[language]
    assert balance not in first.lower() and balance in said[1].lower()   # the balance after
    assert said[2] == AS_OF[language]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("case", "energy"), [    # only an electricity meter has a power limiter
    ("disconnected", "electricity"), ("disconnected", "gas"), ("power_limited", "electricity")])
def test_a_cut_meter_ends_on_the_button_after_the_debt_without_the_last_topup(
        case, energy, language, words, prompts):
    state, balance = SEED_VIEWS[case]
    view = make_view(state, balance, energy=energy, language=language, debt_cents=2000,
                     debt_daily_cents=100, last_topup=FRIDAY_TOPUP, estimated_days_left=0,
                     average_daily_outflow_cents=450)
    said = balance_script(view, words, prompts)
    button = prompts[language]["button_electricity" if energy == "electricity" else "button_gas"]
    assert said[-1] == button
    assert DEBT[language] in said[-2]
    text = " ".join(said)
    assert LAST_TOPUP[language] not in text
    assert {"fr": "vendredi", "nl": "vrijdag", "de": "Freitag"}[language] not in text
    assert len(said) == 5    # state and top-up, balance, as of, debt, button: no days left


@pytest.mark.parametrize("cents, said", [(500, 500), (501, 600), (1670, 1700), (1700, 1700),
                                         (1601, 1700), (25000, 25000)])
def test_spoken_minimum_topups_are_rounded_up_to_whole_euros(cents, said):
    assert minimum_topup_said_cents(cents) == said


@pytest.mark.parametrize(("balance", "expected"), [
    (-1592, "au moins cinq euros"),        # 0,93 € would avoid it: a terminal takes 5 € at least
    (-2042, "au moins six euros"),         # 5,43 € avoids it
    (-2551, "au moins onze euros"),        # 10,52 €
])
def test_the_pending_topup_is_the_ledgers_figure_rounded_up(balance, expected, words, prompts):
    view = make_view(State.DISCONNECTION_PENDING, balance)
    assert expected in balance_script(view, words, prompts)[0]


def test_the_figure_is_the_views_not_recomputed(words, prompts):
    view = make_view(State.DISCONNECTED, -1620, minimum_topup_cents=4210)
    assert "au moins quarante-trois euros" in balance_script(view, words, prompts)[0]


@pytest.mark.parametrize("state", sorted(
    {State.DISCONNECTION_PENDING, State.DISCONNECTED, State.POWER_LIMITED}))
def test_a_cut_view_without_its_minimum_topup_is_refused(state, words, prompts):
    with pytest.raises(ValueError, match="minimum top-up"):
        balance_script(make_view(state, -1620, minimum_topup_cents=None), words, prompts)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("energy", ["electricity", "gas"])
@pytest.mark.parametrize("case", list(SEED_VIEWS))
def test_no_sentence_contains_a_digit(case, energy, language, words, prompts):
    state, balance = SEED_VIEWS[case]
    view = make_view(state, balance, energy=energy, language=language, debt_cents=1500,
                     debt_daily_cents=500, last_topup=FRIDAY_TOPUP, estimated_days_left=12,
                     average_daily_outflow_cents=420)
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
    assert {"fr": "jusqu'à dix minutes.", "nl": "tot tien minuten duren.",
            "de": "bis zu zehn Minuten dauern."}[language] in gas   # no "about" after "up to"


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
    cut = balance_script(make_view(State.DISCONNECTED, -1620, energy="gas", language=language),
                         words, prompts)
    assert {"fr": "Votre compteur de gaz est coupé", "nl": "Uw gasmeter is afgesloten",
            "de": "Ihr Gaszähler ist abgeschaltet"}[language] in cut[0]


# (days to the cut, debt, daily, last top-up): the parts after the state, in this order.
TAIL = {
    "fr": ["ce sera dans environ trois jours", "Dette restante : vingt euros",
           "à raison d'un euro par jour",
           "Dernier rechargement : vingt euros, le vendredi vingt novembre."],
    "nl": ["is dat over ongeveer drie dagen", "Resterende schuld: twintig euro",
           "met één euro per dag", "Laatste oplading: twintig euro, op vrijdag twintig november."],
    "de": ["geschieht das in etwa drei Tagen", "Restschuld beträgt zwanzig Euro",
           "Rückzahlung ein Euro",
           "Letzte Aufladung: zwanzig Euro, am Freitag, dem zwanzigsten November."],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_days_to_the_cut_debt_and_last_topup_follow_the_state(language, words, prompts):
    view = make_view(State.EMERGENCY, -120, language=language, debt_cents=2000,
                     debt_daily_cents=100, last_topup=FRIDAY_TOPUP, estimated_days_left=3)
    said = balance_script(view, words, prompts)
    assert len(said) == 7   # balance, as of, emergency (two), days left, debt, last top-up
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
                                         estimated_days_left=0,
                                         average_daily_outflow_cents=450), words, prompts)
    assert with_days == plain


# Days are never "days free of worry": until the emergency credit starts, or until the cut.
UNTIL_EMERGENCY = {
    0: {"fr": "votre crédit de secours commencera dans moins d'un jour",
        "nl": "start uw noodkrediet binnen minder dan één dag",
        "de": "beginnt Ihr Notkredit in weniger als einem Tag"},
    1: {"fr": "votre crédit de secours commencera dans environ un jour",
        "nl": "start uw noodkrediet over ongeveer één dag",
        "de": "beginnt Ihr Notkredit in etwa einem Tag"},
    2: {"fr": "votre crédit de secours commencera dans environ deux jours",
        "nl": "start uw noodkrediet over ongeveer twee dagen",
        "de": "beginnt Ihr Notkredit in etwa zwei Tagen"},
    21: {"fr": "votre crédit de secours commencera dans environ vingt et un jours",
         "nl": "start uw noodkrediet over ongeveer eenentwintig dagen",
         "de": "beginnt Ihr Notkredit in etwa einundzwanzig Tagen"},
}


@pytest.mark.parametrize("days", list(UNTIL_EMERGENCY))
@pytest.mark.parametrize("language", LANGUAGES)
def test_before_the_emergency_credit_the_days_until_it_starts(days, language, words, prompts):
    # 4,46 € used at 2,00 € a day lasts two days, at 0,21 € twenty-one; over 4,46 € less than one
    daily = {0: 500, 1: 446, 2: 200, 21: 21}[days]
    view = make_view(State.LOW, 446, language=language, average_daily_outflow_cents=daily,
                     estimated_days_left=99)    # the days to the cut are not what is said here
    said = balance_script(view, words, prompts)
    assert UNTIL_EMERGENCY[days][language] in said[-1]
    assert said[-1] == said[3] and len(said) == 4


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_normal_balance_also_says_when_the_emergency_credit_starts(language, words, prompts):
    view = make_view(State.NORMAL, 3880, language=language, average_daily_outflow_cents=420)
    said = balance_script(view, words, prompts)   # 38,80 € at 4,20 € a day: nine days
    assert {"fr": "commencera dans environ neuf jours", "nl": "over ongeveer negen dagen",
            "de": "in etwa neun Tagen"}[language] in said[2]


@pytest.mark.parametrize(("days", "expected"), [
    (0, {"fr": "Au rythme actuel, ce sera dans moins d'un jour.",
         "nl": "Bij het huidige verbruik is dat binnen minder dan één dag.",
         "de": "Beim jetzigen Verbrauch geschieht das in weniger als einem Tag."}),
    (1, {"fr": "Au rythme actuel, ce sera dans environ un jour.",
         "nl": "Bij het huidige verbruik is dat over ongeveer één dag.",
         "de": "Beim jetzigen Verbrauch geschieht das in etwa einem Tag."}),
    (12, {"fr": "Au rythme actuel, ce sera dans environ douze jours.",
          "nl": "Bij het huidige verbruik is dat over ongeveer twaalf dagen.",
          "de": "Beim jetzigen Verbrauch geschieht das in etwa zwölf Tagen."}),
])
@pytest.mark.parametrize("limiter", [False, True])
@pytest.mark.parametrize("language", LANGUAGES)
def test_in_emergency_credit_the_days_until_the_cut_right_after_it(days, expected, limiter,
                                                                   language, words, prompts):
    view = make_view(State.EMERGENCY, -120, language=language, estimated_days_left=days,
                     power_limiter=limiter, average_daily_outflow_cents=450)
    said = balance_script(view, words, prompts)
    usable = said[3]
    what = ({"fr": "avant la limitation de puissance", "nl": "het vermogen van uw meter",
             "de": "bis zur Begrenzung der Leistung"} if limiter else
            {"fr": "avant la coupure", "nl": "uw meter wordt afgesloten",
             "de": "bis zur Abschaltung"})
    assert what[language] in usable
    assert said[4] == expected[language]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_power_limiter_is_limited_not_cut_when_the_credit_runs_out(language, words,
                                                                      prompts):
    limited = {"fr": "la puissance de votre compteur sera limitée",
               "nl": "het vermogen van uw meter", "de": "die leistung ihres stromzählers"}
    for view in (make_view(State.DISCONNECTION_PENDING, -1592, language=language,
                           power_limiter=True),
                 make_view(State.EMERGENCY, -120, language=language, power_limiter=True,
                           estimated_days_left=3)):
        text = " ".join(balance_script(view, words, prompts))
        assert CUT_WORD[language] not in text
        if view.state is State.DISCONNECTION_PENDING:
            assert limited[language] in text.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_power_limited_says_the_power_is_limited_and_full_power_returns(language, words,
                                                                        prompts):
    said = balance_script(make_view(State.POWER_LIMITED, -1620, language=language), words,
                          prompts)
    assert said[0].startswith(LIMITED[language])
    assert FULL_POWER[language] in said[0]
    text = " ".join(said)
    assert CUT_WORD[language] not in text
    assert {"fr": "l'électricité", "nl": "elektriciteit te hebben",
            "de": "wieder Strom"}[language] not in text    # not "electricity is back"


@pytest.mark.parametrize("language", LANGUAGES)
def test_pending_without_a_known_end_says_soon(language, words, prompts):
    view = make_view(State.DISCONNECTION_PENDING, -1592, language=language, disconnect_at=None)
    said = balance_script(view, words, prompts)
    assert {"fr": "bientôt", "nl": "binnenkort", "de": "bald"}[language] in said[0]
    assert {"fr": "cinq euros", "nl": "vijf euro", "de": "fünf Euro"}[language] in said[0]


def test_french_elides_before_un(words, prompts):
    view = make_view(State.LOW, 100, debt_cents=100, debt_daily_cents=100)
    said = balance_script(view, words, prompts)
    assert said[0] == "Le solde de votre compteur d'électricité est d'un euro."
    assert "à raison d'un euro par jour" in said[3]
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


# One word per state, the SMS's ----------------------------------------------------------------

def sms(language: str, name: str) -> str:
    return (LOCALES / language / "messages" / f"{name}.sms.j2").read_text(encoding="utf-8")


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_word_for_a_cut_meter_the_sms_one(language, prompts):
    assert CUT_WORD[language] in sms(language, "Disconnected")
    texts = [prompts[language].say(key, **{name: "x" for name in PLACEHOLDERS[key]})
             for key in PLACEHOLDERS]
    cut = [text for text in texts if CUT_WORD[language] in text]
    assert len(cut) >= 4           # pending (two), disconnected (two): each says it so
    for text in texts:
        for other in NOT_THE_WORD[language]:
            assert other not in text.lower(), text


@pytest.mark.parametrize("language", LANGUAGES)
def test_power_limited_in_the_sms_words(language, prompts):
    message = sms(language, "PowerLimited")
    assert FULL_POWER[language] in message
    assert FULL_POWER[language] in prompts[language].texts["power_limited"]
    for word in LIMITED[language].split()[-2:]:       # "est limitée", "is beperkt", ...
        assert word in message


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_about_in_up_to_ten_minutes(language, prompts):
    about = {"fr": "environ", "nl": "ongeveer", "de": "etwa"}[language]
    for key in PLACEHOLDERS:
        text = prompts[language].texts[key]
        ten = {"fr": "dix minutes", "nl": "tien minuten", "de": "zehn Minuten"}[language]
        if ten in text:
            assert about not in text, key


# The shortest answers: thirty seconds at 150 words a minute ---------------------------------------

def realistic_views(state: State, energy: str, limiter: bool, debt: tuple[int, int] | None,
                    language: str, *, long_figures: bool = False) -> BalanceView:
    """One meter as the ledger would show it in `state`: a balance with cents, computed at
    six (long: at fourteen thirty-seven), seven days of consumption behind it, a terminal top-up
    of twenty euros nine days ago (long: 55,70 €) and, with `debt`, (outstanding, daily)."""
    balance = {State.NORMAL: 3887, State.LOW: 477, State.EMERGENCY: -873,
               State.DISCONNECTION_PENDING: -1592, State.DISCONNECTED: -1677,
               State.POWER_LIMITED: -1677}[state]
    outstanding, daily = debt or (0, 0)
    return make_view(
        state, balance, energy=energy, language=language, power_limiter=limiter,
        as_of=(datetime(2026, 11, 28, 14, 37, tzinfo=BRUSSELS) if long_figures
               else datetime(2026, 11, 28, 6, 0, tzinfo=BRUSSELS)),
        debt_cents=outstanding, debt_daily_cents=daily,
        last_topup=LastTopUp(datetime(2026, 11, 20, 17, 45, tzinfo=BRUSSELS),
                             5570 if long_figures else 2000, "terminal"),
        estimated_days_left=usable_before_disconnection_cents(balance) // 430,
        average_daily_outflow_cents=430 + daily)


def meters():
    """Every state × energy × power limiter where it applies: only an electricity meter has one;
    a power-limited meter has one, a disconnected meter has none."""
    for state in State:
        for energy in ("electricity", "gas"):
            for limiter in (False, True) if energy == "electricity" else (False,):
                if (state is State.DISCONNECTED and limiter
                        or state is State.POWER_LIMITED and not limiter):
                    continue
                yield pytest.param(state, energy, limiter,
                                   id=f"{state.value}-{energy}{'-limiter' if limiter else ''}")


# The debts a meter carries: none, the start credit's advance partly repaid (1 € a day), seed
# 003's payment plan (15 € at 5 € a day) on top of it.
DEBTS = {"no debt": None, "advance": (1200, 100), "advance and plan": (2700, 600)}


@pytest.mark.parametrize("debt", list(DEBTS.values()), ids=list(DEBTS))
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("state, energy, limiter", list(meters()))
def test_every_answer_fits_in_thirty_seconds_and_says_everything(state, energy, limiter,
                                                                 language, debt, words,
                                                                 prompts):
    view = realistic_views(state, energy, limiter, debt, language)
    said = balance_script(view, words, prompts)
    count = spoken_words(said)
    assert count <= MAX_WORDS == 75, f"{count} words:\n" + "\n".join(said)
    text = " ".join(said)
    assert (DEBT[language] in text) == (debt is not None), "the debt is said when there is one"
    cut = state in (State.DISCONNECTED, State.POWER_LIMITED)
    assert (LAST_TOPUP[language] in text) == (not cut)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("state, energy, limiter", list(meters()))
def test_with_unusually_long_figures_the_answer_still_fits(state, energy, limiter, language,
                                                           words, prompts):
    view = realistic_views(state, energy, limiter, (3477, 600), language, long_figures=True)
    said = balance_script(view, words, prompts)
    assert spoken_words(said) <= MAX_WORDS, "\n".join(said)
    first = said[0] if state in (State.DISCONNECTION_PENDING, State.DISCONNECTED,
                                 State.POWER_LIMITED) else said[1]
    assert first  # the state and the balance are never what is left out
    if state in (State.DISCONNECTED, State.POWER_LIMITED):
        assert said[-1] == prompts[language]["button_gas" if energy == "gas"
                                             else "button_electricity"]
        assert DEBT[language] in said[-2]     # the debt is kept when cut


def test_what_does_not_fit_is_the_last_topup_first(words, prompts):
    view = realistic_views(State.EMERGENCY, "electricity", True, (3477, 600), "fr",
                           long_figures=True)
    said = balance_script(view, words, prompts)
    text = " ".join(said)
    assert LAST_TOPUP["fr"] not in text and DEBT["fr"] in text
    assert "ce sera dans environ" in text and "avant la limitation de puissance" in text


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
    ("fr", ["en ligne", "recharger point ores point B E", "commerce", "bureau d'accueil ORES",
            "CPAS", "treize derniers chiffres", "entre cinq euros et deux cent cinquante euros"]),
    ("nl", ["online", "recharger punt ores punt B E", "winkel", "onthaalkantoor van ORES",
            "OCMW", "laatste dertien cijfers", "tussen vijf euro en tweehonderdvijftig euro"]),
    ("de", ["online", "recharger Punkt ores Punkt B E", "Geschäft", "Kundenbüro von ORES",
            "ÖSHZ", "letzten dreizehn Ziffern", "zwischen fünf Euro und zweihundertfünfzig Euro"]),
])
def test_how_to_top_up(language, expected, prompts):
    assert_in_order(prompts[language]["how_to_top_up"], expected)
    assert prompts[language]["how_to_top_up"].endswith(expected[1] + ".")  # the address again


def test_the_top_up_site_is_the_messages_one():
    assert TOPUP_SITE == TEMPLATE_GLOBALS["topup_site"] == "recharger.ores.be"


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", ["treize derniers chiffres", "EAN", "dièse"]),
    ("nl", ["laatste dertien cijfers", "EAN", "hekje"]),
    ("de", ["letzten dreizehn Ziffern", "EAN", "Rautetaste"]),
])
def test_asking_for_the_code(language, expected, prompts):
    invoice = {"fr": "facture d'énergie", "nl": "energiefactuur", "de": "Energierechnung"}
    assert invoice[language] in prompts[language]["ask_ean"]
    assert_in_order(prompts[language]["ask_ean"], expected)
    assert_in_order(prompts[language]["ask_ean_again"], expected[:2])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("problem", ["code_mistyped", "code_unknown", "nothing_heard"])
def test_after_a_mistake_the_prompt_is_shorter_than_the_first(problem, language, prompts):
    first = prompts[language]["ask_ean"]
    again = prompts[language][problem] + " " + prompts[language]["ask_ean_again"]
    assert len(again.split()) < len(first.split()), again


CUSTOMER_SERVICE = {
    "fr": "zéro septante-huit, quinze, septante-huit, zéro un",
    "nl": "nul zeven acht, één vijf, zeven acht, nul één",
    "de": "null sieben acht, eins fünf, sieben acht, null eins",
}
HOURS = {
    "fr": ["du lundi au vendredi de huit heures à vingt heures",
           "le samedi de neuf heures à treize heures", "sauf les jours fériés"],
    "nl": ["van maandag tot vrijdag, van acht uur tot twintig uur",
           "op zaterdag van negen uur tot dertien uur", "behalve op feestdagen"],
    "de": ["montags bis freitags von acht Uhr bis zwanzig Uhr",
           "samstags von neun Uhr bis dreizehn Uhr", "außer an Feiertagen"],
}
OTHER_HOURS = {  # CUSTOMER_SERVICE_HOURS="mon-fri 09:00-17:30, sun 10:00-12:00"
    "fr": "du lundi au vendredi de neuf heures à dix-sept heures trente, et le dimanche de dix "
          "heures à douze heures, sauf",
    "nl": "van maandag tot vrijdag, van negen uur tot zeventien uur dertig, en op zondag van tien "
          "uur tot twaalf uur, behalve",
    "de": "montags bis freitags von neun Uhr bis siebzehn Uhr dreißig und sonntags von zehn Uhr "
          "bis zwölf Uhr, außer",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_customer_service_is_given_with_its_number_twice_and_its_hours(language, prompts):
    said = prompts[language]["customer_service"]
    assert said.count(CUSTOMER_SERVICE[language]) == 2
    assert_in_order(said, [CUSTOMER_SERVICE[language], *HOURS[language]])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_hours_said_are_those_the_line_transfers_by(language):
    from ivr.opening import OpeningHours
    configured = load_prompts(LOCALES, hours=OpeningHours.parse(
        "mon-fri 09:00-17:30, sun 10:00-12:00"))
    assert OTHER_HOURS[language] in configured[language]["customer_service"]


OPENS = {  # Monday 30 November 2026, 8:00 in Brussels
    "fr": "le lundi trente novembre à huit heures",
    "nl": "maandag dertig november om acht uur",
    "de": "am Montag, dem dreißigsten November, um acht Uhr",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_closed_says_when_customer_service_opens_then_how_to_top_up(language, prompts, words):
    opens = datetime(2026, 11, 30, 8, 0, tzinfo=BRUSSELS)
    said = closed_script(prompts[language], words, opens)
    assert OPENS[language] in said[0]
    assert said[1] == prompts[language]["how_to_top_up"]
    assert closed_script(prompts[language], words, None)[0] == prompts[language][
        "service_closed_for_now"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_technical_problem_and_a_lockout_also_give_the_number(language, prompts, words):
    said = technical_problem_script(prompts[language])
    locked = locked_out_script(prompts[language], words, timedelta(minutes=42))
    assert said[0] == prompts[language]["technical_problem"]
    assert locked[0].startswith(prompts[language].texts["locked_out"].split("{")[0])
    for each in (said, locked):
        assert CUSTOMER_SERVICE[language] in each[1]
        assert each[-1] == prompts[language]["goodbye"]


WAITS = {   # rounded up to five minutes, to the hour beyond an hour
    timedelta(minutes=42): {"fr": "dans quarante-cinq minutes", "nl": "over vijfenveertig minuten",
                            "de": "warten Sie bitte fünfundvierzig Minuten"},
    timedelta(minutes=59, seconds=58): {"fr": "dans une heure", "nl": "over één uur",
                                        "de": "warten Sie bitte eine Stunde"},
    timedelta(seconds=20): {"fr": "dans cinq minutes", "nl": "over vijf minuten",
                            "de": "warten Sie bitte fünf Minuten"},
    timedelta(hours=1, minutes=30): {"fr": "dans deux heures", "nl": "over twee uur",
                                     "de": "warten Sie bitte zwei Stunden"},
}


@pytest.mark.parametrize("wait", list(WAITS), ids=str)
def test_a_locked_out_caller_is_told_in_three_languages_how_long(wait, prompts, words):
    said = locked_out_greeting(prompts, words, wait)
    assert [language for language, _ in said] == ["fr"] * 3 + ["nl"] * 3 + ["de"] * 3
    for language in ("fr", "nl", "de"):
        locked, service, bye = [text for spoken_in, text in said if spoken_in == language]
        assert WAITS[wait][language] in locked
        assert CUSTOMER_SERVICE[language] in service
        assert service.count(CUSTOMER_SERVICE[language]) == 1   # short: once, no hours
        assert bye == prompts[language]["goodbye"]
        assert not DIGIT.search(locked + service)


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
    with pytest.raises(LocaleError, match=r"de/ivr\.json: prompt 'goodbye' is missing"):
        load_prompts(locales)


def test_a_digit_in_a_prompt_is_refused_naming_file_and_key(locales):
    edit(locales, "nl", lambda data: data["prompts"].update(goodbye="Bel 078/15.78.01. Tot ziens."))
    with pytest.raises(LocaleError, match=r"nl/ivr\.json: prompt 'goodbye' contains a digit"):
        load_prompts(locales)


def test_an_unknown_prompt_is_refused(locales):
    edit(locales, "fr", lambda data: data["prompts"].update(goodbey="Au revoir."))
    with pytest.raises(LocaleError, match=r"fr/ivr\.json: prompt 'goodbey' is not one"):
        load_prompts(locales)


@pytest.mark.parametrize(("key", "text", "message"), [
    ("balance_gas", "Le solde de votre compteur de gaz.", r"'balance_gas' must use .*\{amount\}"),
    ("goodbye", "Au revoir {name}.", r"'goodbye' must use the placeholders none; it uses \{name\}"),
    ("as_of", "Calculé {moment.", r"'as_of' has a broken placeholder"),
    ("low", "", r"'low' must be a non-empty text"),
])
def test_a_wrong_placeholder_is_refused(locales, key, text, message):
    edit(locales, "fr", lambda data: data["prompts"].update({key: text}))
    with pytest.raises(LocaleError, match=message):
        load_prompts(locales)


def test_a_missing_prompts_file_is_refused(locales):
    (locales / "de" / "ivr.json").unlink()
    with pytest.raises(LocaleError, match=r"de/ivr\.json: missing"):
        load_prompts(locales)


def test_a_wrong_phone_number_reading_is_refused(locales):
    edit(locales, "nl", lambda data: data.update(phone_number_reading="triplets"))
    with pytest.raises(LocaleError, match=r"nl/ivr\.json: 'phone_number_reading' .*is not one of "
                                          r"pairs, digits"):
        load_prompts(locales)


def test_a_customer_service_number_that_is_none_is_refused(locales):
    with pytest.raises(ValueError, match=r"'zéro septante-huit' is not a phone number"):
        load_prompts(locales, customer_service="zéro septante-huit")


def test_the_customer_service_number_is_said_as_given(locales):
    said = load_prompts(locales, customer_service="0800/92.424")["fr"]["customer_service"]
    assert "zéro huit cents, nonante-deux, quatre cent vingt-quatre" in said
    assert "septante-huit" not in said
