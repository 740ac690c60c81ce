"""The CPAS pages' words: one word per meter state and language, the same as the messages and
the line use, and a cut announced with its moment, in Brussels time."""

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger import BalanceView, State
from ledger.cpas import HISTORY_DAYS, Day, ResidentFile
from ledger.outbox import MessageRecord
from wording import date_time, short_date_time
from ledger import LANGUAGES
from portal.texts import delivery_text, history_title, state_text

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {language: json.loads((ROOT / "locales" / language / "portal.json")
                              .read_text(encoding="utf-8")) for language in LANGUAGES}
CUT = {"fr": "Coupé", "nl": "Afgesloten", "de": "Abgeschaltet"}
LIMITED = {"fr": "Puissance limitée", "nl": "Vermogen beperkt", "de": "Leistung begrenzt"}
# Other words for a cut meter that the line or old pages used; a page must not mix them in.
NOT_FOR_THE_METER = {"fr": ("déconnecté", "désactivé"),
                     "nl": ("uitgeschakeld", "gedeactiveerd"),
                     "de": ("gesperrt", "getrennt", "deaktiviert")}
# These speak of the staff member's session or account, not of a meter.
ABOUT_THE_ACCOUNT = {"log_out", "refusal.login.refused"}
# 25 November 2026, 07:00 UTC: 08:00 in Brussels (winter time), when the NDP ends.
AT = datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)


def view(state: State, *, power_limiter: bool = False, disconnect_at=None) -> BalanceView:
    return BalanceView(
        ean="541440000000000019", energy="electricity", language="fr", balance_cents=-1550,
        as_of=AT, state=state, threshold_cents=500, emergency_credit_left_cents=0,
        usable_before_disconnection_cents=0, minimum_topup_cents=1600, debt_cents=0,
        debt_daily_cents=0, last_topup=None, estimated_days_left=None,
        power_limiter=power_limiter, disconnect_at=disconnect_at)


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_word_for_a_cut_meter_and_one_for_a_limited_one(language):
    texts = TEXTS[language]
    assert texts["state_disconnected"] == texts["event_Disconnected"] == CUT[language]
    assert texts["state_power_limited"] == texts["event_PowerLimited"] == LIMITED[language]
    other_words = [(key, value) for key, value in texts.items() if key not in ABOUT_THE_ACCOUNT
                   for word in NOT_FOR_THE_METER[language] if word in value.lower()]
    assert other_words == []


@pytest.mark.parametrize("language, list_words, page_words", [
    ("fr", "Coupure annoncée pour le mercredi 25/11 à 08:00",
     "Coupure annoncée pour le mercredi 25 novembre 2026 à 08:00"),
    ("nl", "Afsluiting aangekondigd voor woensdag 25/11 om 08:00",
     "Afsluiting aangekondigd voor woensdag 25 november 2026 om 08:00"),
    ("de", "Abschaltung angekündigt für Mittwoch, 25.11. um 08:00",
     "Abschaltung angekündigt für Mittwoch, 25. November 2026 um 08:00"),
])
def test_an_announced_cut_says_when_in_brussels_time(language, list_words, page_words):
    pending = view(State.DISCONNECTION_PENDING, disconnect_at=AT)
    texts = TEXTS[language]
    assert state_text(pending, texts, lambda m: short_date_time(m, language)) == list_words
    assert state_text(pending, texts, lambda m: date_time(m, language)) == page_words


def test_an_announced_limitation_says_it_limits_and_when():
    pending = view(State.DISCONNECTION_PENDING, power_limiter=True, disconnect_at=AT)
    assert state_text(pending, TEXTS["fr"], lambda m: date_time(m, "fr")) == \
        "Limitation de puissance annoncée pour le mercredi 25 novembre 2026 à 08:00"
    no_moment = view(State.DISCONNECTION_PENDING)
    assert state_text(no_moment, TEXTS["nl"], str) == "Afsluiting aangekondigd"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_other_states_are_their_one_word(language):
    texts = TEXTS[language]
    assert state_text(view(State.DISCONNECTED), texts, str) == CUT[language]
    assert state_text(view(State.POWER_LIMITED), texts, str) == LIMITED[language]


def message(state: str, superseded_by: str | None = None) -> MessageRecord:
    return MessageRecord(3, "LowCredit", AT, "customer", "sms", state, 0, AT, None, None, None,
                         superseded_by)


@pytest.mark.parametrize("language, expected", [
    ("fr", "Remplacé par « Coupé », pas envoyé"),
    ("nl", "Vervangen door “Afgesloten”, niet verstuurd"),
    ("de", "Ersetzt durch „Abgeschaltet“, nicht gesendet"),
])
def test_a_superseded_message_says_what_overtook_it_and_that_it_was_not_sent(language,
                                                                            expected):
    texts = TEXTS[language]
    assert delivery_text(message("superseded", "Disconnected"), texts) == expected
    assert delivery_text(message("superseded"), texts) == texts["delivery_superseded"]
    assert delivery_text(message("delivered"), texts) == texts["delivery_delivered"]


def resident_file(first: date, days: int) -> ResidentFile:
    history = [Day(first + timedelta(days=i), None, 2000) for i in range(days)]
    return ResidentFile("Zoé Normale", view(State.NORMAL), [], history, [], [])


@pytest.mark.parametrize("language, title", [
    ("fr", "Depuis l'activation du prépaiement le 14 novembre 2026"),
    ("nl", "Sinds de activering van de voorafbetaling op 14 november 2026"),
    ("de", "Seit der Aktivierung der Vorauszahlung am 14. November 2026"),
])
def test_the_history_is_titled_from_the_activation_or_as_the_whole_window(language, title):
    texts = TEXTS[language]
    assert history_title(resident_file(date(2026, 11, 14), 11), texts, language) == title
    whole = history_title(resident_file(date(2026, 9, 26), HISTORY_DAYS), texts, language)
    assert whole == texts["history"].format(days=HISTORY_DAYS) and "60" in whole
    assert history_title(resident_file(date(2026, 10, 1), 55), TEXTS["fr"], "fr") == \
        "Depuis l'activation du prépaiement le 1er octobre 2026"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_event_has_its_name_on_a_residents_page(language):
    from ledger.events import EVENT_TYPES
    from portal.texts import load_texts
    texts = load_texts(Path(__file__).resolve().parents[2] / "locales")[language]
    assert [name for name in EVENT_TYPES if f"event_{name}" not in texts] == []
