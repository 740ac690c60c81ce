"""The customer and CPAS texts: the real templates of locales/, rendered from made-up events."""

import itertools
import re
import shutil
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from ledger import AUDIENCES, BRUSSELS, LANGUAGES
from ledger.events import EVENT_TYPES
from messaging.render import Email, MessageTemplates, sms_text
from messaging.routing import (
    CPAS_LIST_EVENTS,
    ON_REQUEST_EVENTS,
    SERIOUS_EVENTS,
    SILENT_EVENTS,
    SMS_ONLY_EVENTS,
    message_channels,
)
from wording import LocaleError, money

LOCALES = Path(__file__).resolve().parents[2] / "locales"
ENERGIES = ("electricity", "gas")
EAN = "541449000000001234"
GSM = "gsm03.38"
MAX_SEPTETS = 306
LARGEST_CENTS = 25_000_000  # 250 000,00 €
AT = datetime(2026, 10, 12, 9, 58, tzinfo=UTC)  # Monday 11:58 in Brussels (summer time)

# What a customer receives by e-mail: every event but the answers, reminders and the survey (by
# SMS only) and the events nobody is told of.
EMAILED = [name for name in EVENT_TYPES if "email" in message_channels(name).get("customer", ())]
TOLD = [name for name in EVENT_TYPES if "customer" in message_channels(name)]
GREEN_BUTTON = {"fr": "bouton vert", "nl": "groene knop", "de": "grüne Taste"}
TIGHTNESS_TEST = {"fr": "étanchéité", "nl": "dichtheidstest", "de": "Dichtheitstest"}


@pytest.fixture(scope="module")
def templates() -> MessageTemplates:
    return MessageTemplates.load(LOCALES)


def make(name: str, *, energy: str = "electricity", language: str = "fr", ean: str = EAN,
         at: datetime = AT, cents: int | None = None, **values) -> object:
    """An event of that name; amounts it does not get are plausible made-up figures."""
    cls = EVENT_TYPES[name]
    defaults = {"balance_cents": -120, "debt_cents": 1200, "daily_repayment_cents": 100,
                "transferred_cents": 800, "threshold_cents": 500, "emergency_credit_left_cents": 1380,
                "minimum_topup_cents": 1670, "amount_cents": 2000, "channel": "terminal",
                "disconnect_at": at + timedelta(hours=20), "state": "low", "as_of": at, "notify": "sms",
                "score": 4, "to": "+32470000001", "starts_at": at + timedelta(days=2),
                "ends_at": at + timedelta(days=2, hours=2), "ean": ean, "energy": energy,
                "cpas": "CPAS-A", "day": "2026-10-12", "more": 0,
                "counts": {"going_without": 1, "disconnected": 1, "power_limited": 0,
                           "disconnection_pending": 0, "emergency": 0},
                "residents": [{"name": "Made Up", "meter_ref": "..." + ean[-4:],
                               "ean13": ean[-13:], "energy": energy, "state": "disconnected",
                               "balance_cents": -1620, "days_left": None,
                               "going_without": True}]}
    data = {f.name: defaults[f.name] for f in fields(cls) if f.name in defaults}
    if cents is not None:
        data.update({key: cents for key, value in data.items()
                     if isinstance(value, int) and key.endswith("_cents")})
    data.update(values)
    return cls(language=language, at=at, **data)


def all_messages(channel: str | None = None) -> list:
    return [pytest.param(language, name, audience, energy, id=f"{language}-{name}-{audience}-{energy}")
            for language, name, audience, energy in itertools.product(LANGUAGES, EVENT_TYPES, AUDIENCES, ENERGIES)
            if audience in message_channels(name)
            and (channel is None or channel in message_channels(name)[audience])]


@pytest.mark.parametrize(("language", "name", "audience", "energy"), all_messages())
def test_every_message_renders_without_the_full_ean(templates, language, name, audience, energy):
    event = make(name, energy=energy, language=language)
    if name in CPAS_LIST_EVENTS:  # the morning list: an e-mail to the CPAS, and no SMS
        with pytest.raises(ValueError, match="no sms message for"):
            templates.sms(event, audience=audience)
        email = templates.email(event, audience=audience)
        for text in (email.subject, email.text, email.html):
            assert EAN[-13:] not in text  # no link without the pages' address
        assert "1234" in email.text and "Made Up" in email.html
        return
    sms = templates.sms(event, audience=audience)
    if name in SMS_ONLY_EVENTS:  # an answer, a reminder, the survey: an SMS, and no e-mail
        with pytest.raises(ValueError, match="no email message for"):
            templates.email(event, audience=audience)
        assert EAN[-13:] not in sms and "+32470000001" not in sms
        if hasattr(event, "ean") and name not in ("SurveyAnswered", "SmsRestarted", "SmsStopped"):
            assert "1234" in sms  # which meter it is about, masked (STOP and START: the number's)
        if name in ON_REQUEST_EVENTS or name == "HelpSent":
            assert "078/15.78.01" in sms
        return
    email = templates.email(event, audience=audience)

    assert isinstance(email, Email)
    assert sms.strip() and email.subject.strip() and email.text.strip() and email.html.strip()
    assert "\n" not in email.subject
    assert email.html.startswith("<!DOCTYPE html>") and f'<html lang="{language}">' in email.html
    assert "<img" not in email.html and "http" not in email.html  # no images nor external resources
    for text in (sms, email.subject, email.text, email.html):
        assert EAN[-13:] not in text
    assert "1234" in sms and "1234" in email.text  # the masked form
    assert "078/15.78.01" in email.text and "078/15.78.01" in email.html


def longest_events(name: str, language: str, energy: str):
    """Every combination of −250 000,00 €, 0 and 250 000,00 €, on each weekday of a two-digit
    day and month at 23:59 in Brussels; with and without a power limiter where the event says."""
    cls = EVENT_TYPES[name]
    amounts = [f.name for f in fields(cls) if f.type is int and f.name.endswith("_cents")]
    names = {f.name for f in fields(cls)}
    limiters = (False, True) if "power_limiter" in names else (None,)
    for weekday, limiter in itertools.product(range(7), limiters):
        moment = datetime.combine(date(2026, 12, 14) + timedelta(days=weekday), time(23, 59), tzinfo=BRUSSELS)
        for combination in itertools.product((-LARGEST_CENTS, 0, LARGEST_CENTS), repeat=len(amounts)):
            values = dict(zip(amounts, combination, strict=True))
            if "disconnect_at" in names:
                values["disconnect_at"] = moment
            if "channel" in names:
                values["channel"] = "transfer"
            if limiter is not None:
                values["power_limiter"] = limiter
            yield make(name, energy=energy, language=language, at=moment, ean="541449999999999999", **values)


@pytest.mark.parametrize(("language", "name", "audience", "energy"), all_messages("sms"))
def test_every_sms_is_gsm7_and_fits_two_segments_with_the_longest_values(templates, language, name,
                                                                        audience, energy):
    longest = 0
    for event in longest_events(name, language, energy):
        sms = templates.sms(event, audience=audience)
        encoded = sms.encode(GSM)  # raises on any character outside GSM 03.38
        assert len(encoded) <= MAX_SEPTETS, f"{len(encoded)} septets: {sms}"
        longest = max(longest, len(encoded))
    ordinary = len(templates.sms(make(name, energy=energy, language=language),
                                 audience=audience).encode(GSM))
    if name in EMAILED or name in ON_REQUEST_EVENTS:  # the others say few values or none
        assert longest > ordinary  # the values did make it long


def test_the_longest_amounts_are_as_long_as_announced(templates):
    sms = templates.sms(make("LowCredit", cents=-LARGEST_CENTS))
    assert "-250 000,00 €" in sms
    assert "€ -250.000,00" in templates.sms(make("LowCredit", language="nl", cents=-LARGEST_CENTS))


def test_sms_spaces_are_plain_while_emails_keep_babel_ones(templates):
    event = make("LowCredit", balance_cents=446)
    sms = templates.sms(event)
    assert "4,46 €" in sms and "\u00a0" not in sms and "\u202f" not in sms
    assert "4,46\u00a0€" in templates.email(event).text
    assert sms_text("1\u202f000,00\u00a0€ \u2013 l\u2019énergie\u2026\n  fin") == "1 000,00 € - l'énergie... fin"


def test_low_credit_amounts_per_language(templates):
    assert "4,46 €" in templates.sms(make("LowCredit", balance_cents=446))
    assert "€ 4,46" in templates.sms(make("LowCredit", language="nl", balance_cents=446))
    assert "4,46 €" in templates.sms(make("LowCredit", language="de", balance_cents=446))
    assert "(seuil : 5,00 €)" in templates.sms(make("LowCredit", balance_cents=446, threshold_cents=500))


def test_money_is_formatted_by_babel_for_belgium():
    assert money(3880, "fr") == "38,80\u00a0€"
    assert money(3880, "nl") == "€\u00a038,80"
    assert money(3880, "de") == "38,80\u00a0€"
    assert money(-120, "fr") == "-1,20\u00a0€"


def test_a_negative_balance_is_shown_negative(templates):
    event = make("EmergencyCreditStarted", balance_cents=-120)
    assert "Votre solde est de -1,20 €" in templates.email(event).text.replace("\u00a0", " ")
    assert "Solde : -1,20 €" in templates.sms(event, audience="cpas")
    assert "Saldo: € -1,20" in templates.sms(event, audience="cpas", language="nl")
    assert "Saldo: -1,20 €" in templates.sms(event, audience="cpas", language="de")


def test_the_emergency_credit_email_is_french_and_in_brussels_time(templates):
    email = templates.email(make("EmergencyCreditStarted", energy="gas"))
    assert email.subject == "Activation de votre crédit de secours (gaz)"
    assert "lundi 12 octobre 2026 à 11:58" in email.text
    assert "lundi 12 octobre 2026 à 11:58" in email.html
    assert "09:58" not in email.text
    assert "13,80\u00a0€" in email.text  # what can still be used
    assert "lundi 12/10 à 11:58" in templates.sms(make("EmergencyCreditStarted"))


def test_winter_time_is_one_hour_ahead_of_utc(templates):
    winter = datetime(2026, 12, 14, 9, 58, tzinfo=UTC)
    assert "lundi 14 décembre 2026 à 10:58" in templates.email(make("EmergencyCreditStarted", at=winter)).text
    assert "Montag, 14. Dezember 2026 um 10:58" in templates.email(
        make("EmergencyCreditStarted", language="de", at=winter)).text
    assert "maandag 14/12 om 10:58" in templates.sms(make("EmergencyCreditStarted", language="nl", at=winter))


def test_disconnection_pending_says_when_and_how_much(templates):
    event = make("DisconnectionPending", disconnect_at=datetime(2026, 10, 13, 6, 0, tzinfo=UTC),
                 minimum_topup_cents=1642)
    sms = templates.sms(event)
    assert "mardi 13/10 à 08:00" in sms and "16,42 €" in sms
    email = templates.email(event)
    assert "mardi 13 octobre 2026 à 08:00" in email.subject
    assert "16,42\u00a0€" in email.text


# What each language says of a meter that will be limited (about 10 A) or cut off; lower case.
LIMITED_WORDS = {"fr": ("limité", "limitation"), "nl": ("beperkt", "beperking"), "de": ("begrenzt", "begrenzung")}
CUT_OFF_WORDS = {"fr": ("coupé", "coupure"), "nl": ("afgesloten", "afsluiting"),
                 "de": ("abgeschaltet", "abschaltung")}
ANY_LIMIT = {"fr": "limit", "nl": "beperk", "de": "begrenz"}  # also limitée, vermogensbegrenzer…


def warning_texts(templates, name: str, language: str, audience: str, **values) -> dict[str, str]:
    event = make(name, language=language, **values)
    email = templates.email(event, audience=audience)
    return {"sms": templates.sms(event, audience=audience), "subject": email.subject,
            "text": email.text, "html": email.html}


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("name", ["EmergencyCreditStarted", "DisconnectionPending"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_meter_with_a_power_limiter_is_told_limited_and_one_without_cut_off(templates, language, name,
                                                                               audience):
    limited = warning_texts(templates, name, language, audience, power_limiter=True)
    for part in ("sms", "text", "html"):
        text = limited[part].lower()
        assert any(word in text for word in LIMITED_WORDS[language]), f"{part}: {limited[part]}"
        assert "10 a" in text, f"{part}: {limited[part]}"  # 10 A, 10 ampères, 10 ampère, 10 Ampere
        assert not any(word in text for word in CUT_OFF_WORDS[language]), f"{part}: {limited[part]}"
    assert not any(word in limited["subject"].lower() for word in CUT_OFF_WORDS[language])
    if audience == "customer":  # the customer is told simply what still works
        assert {"fr": "frigo", "nl": "koelkast", "de": "kühlschrank"}[language] in limited["text"].lower()

    for values in ({"power_limiter": False}, {"power_limiter": True, "energy": "gas"}, {}):
        cut = warning_texts(templates, name, language, audience, **values)
        for part in ("sms", "subject", "text", "html"):
            text = cut[part].lower()
            if part != "subject":
                assert any(word in text for word in CUT_OFF_WORDS[language]), f"{values} {part}: {cut[part]}"
            assert ANY_LIMIT[language] not in text, f"{values} {part}: {cut[part]}"


def test_the_exact_words_of_a_coming_limitation(templates):
    pending = {"power_limiter": True, "disconnect_at": datetime(2026, 10, 13, 6, 0, tzinfo=UTC)}
    assert "sera limité à 10 A le mardi 13/10 à 08:00" in templates.sms(make("DisconnectionPending", **pending))
    assert "Votre compteur sera limité le mardi 13 octobre 2026 à 08:00" in templates.email(
        make("DisconnectionPending", **pending)).text
    assert "wordt beperkt tot 10 A op dinsdag 13/10 om 08:00" in templates.sms(
        make("DisconnectionPending", language="nl", **pending))
    assert "wird am Dienstag, 13.10. um 08:00 auf 10 A begrenzt" in templates.sms(
        make("DisconnectionPending", language="de", **pending))
    assert "puis courant limité à 10 A." in templates.sms(make("EmergencyCreditStarted", power_limiter=True))
    assert "limitation à 10 A le mardi 13 octobre 2026 à 08:00" in templates.email(
        make("DisconnectionPending", **pending), audience="cpas").subject
    assert "coupure le mardi 13 octobre 2026 à 08:00" in templates.email(
        make("DisconnectionPending", **{**pending, "power_limiter": False}), audience="cpas").subject


def test_html_escapes_values_while_text_and_sms_do_not(templates):
    event = make("Disconnected", ean="54144000000000<&'>")
    email = templates.email(event)
    assert "&lt;&amp;&#39;&gt;" in email.html and "<&'>" not in email.html
    assert "…<&'>" in email.text and "&lt;" not in email.text and "&#39;" not in email.text
    assert "<&'>" in templates.email(event, audience="cpas").subject
    sms = templates.sms(event)
    assert "...<&'>" in sms and "&#39;" not in sms
    assert "d'électricité" in sms and "d'électricité" in email.text


def test_electricity_and_gas_instructions_differ(templates):
    # (PowerLimited is electricity's only: the ledger refuses a power limiter on a gas meter.)
    for language, name in itertools.product(LANGUAGES, ("Disconnected", "ReconnectionAllowed")):
        electricity = make(name, language=language, energy="electricity")
        gas = make(name, language=language, energy="gas")
        for render in (templates.sms, lambda event: templates.email(event).text):
            assert GREEN_BUTTON[language] in render(electricity)
            assert TIGHTNESS_TEST[language] not in render(electricity)
            assert TIGHTNESS_TEST[language] in render(gas)
            assert GREEN_BUTTON[language] not in render(gas)
    assert "10 minutes" in templates.email(make("Disconnected", energy="gas")).text
    assert "5 secondes" in templates.email(make("Disconnected")).text


def test_prepayment_activated_uses_the_event_figures(templates):
    text = templates.email(make("PrepaymentActivated", balance_cents=2000, debt_cents=1200,
                                daily_repayment_cents=100, transferred_cents=800)).text
    assert "20,00\u00a0€" in text and "12,00\u00a0€" in text and "1,00\u00a0€ par jour" in text
    assert "compteur à budget, 8,00\u00a0€" in text
    fresh = templates.email(make("PrepaymentActivated", balance_cents=2000, debt_cents=2000,
                                 daily_repayment_cents=100, transferred_cents=0)).text
    assert "compteur à budget" not in fresh and "20,00\u00a0€ pour que" in fresh
    no_debt = templates.sms(make("PrepaymentActivated", balance_cents=3000, debt_cents=0,
                                 daily_repayment_cents=0, transferred_cents=3000))
    assert "avance" not in no_debt and "30,00 €, repris de l'ancien compteur" in no_debt


AMOUNT = re.compile(r"(?:€ )?(-?\d+,\d\d)(?: €)?")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_activation_sms_says_what_the_start_balance_is_made_of(templates, language):
    """8 € from the old meter and a 12 € advance make the 20 € start balance: the SMS must read
    so (it once gave 20 €, then "Avance de 12 €" as if on top of it)."""
    sms = templates.sms(make("PrepaymentActivated", language=language, balance_cents=2000,
                             debt_cents=1200, daily_repayment_cents=100, transferred_cents=800))
    start, old_meter, advance, daily = (int(a.replace(",", "")) for a in AMOUNT.findall(sms))
    assert (start, old_meter, advance, daily) == (2000, 800, 1200, 100)
    sentence = sms.split(". ")[1]  # the start balance and its parts are one sentence
    assert all(figure in sentence for figure in ("20,00", "8,00", "12,00", "1,00"))


OUTCOME_WORDS = {  # what each outcome of a top-up must say, per language
    "credited": {"fr": "Votre solde : 0800", "nl": "Uw saldo: 0800", "de": "Ihr Saldo: 0800"},
    "emergency": {"fr": "il reste 3,00 € de crédit de secours avant la coupure",
                  "nl": "nog € 3,00 noodkrediet gebruiken tot de afsluiting",
                  "de": "Bis zur Abschaltung bleiben 3,00 € Notkredit"},
    "cut_avoided": {"fr": "La coupure annoncée est annulée", "nl": "afsluiting gaat niet door",
                    "de": "Abschaltung findet nicht statt"},
    "still_pending": {"fr": "le compteur sera coupé le", "nl": "de meter wordt afgesloten op",
                      "de": "Der Zähler wird abgeschaltet, am"},
    "reconnection": {"fr": "Vous pouvez rétablir l'électricité. Appuyez",
                     "nl": "U kunt de elektriciteit weer inschakelen. Druk",
                     "de": "Sie können den Strom wieder einschalten. Drücken"},
    "still_off": {"fr": "trop peu pour rétablir l'électricité : rechargez encore au moins 12,50 €",
                  "nl": "nog te weinig om de elektriciteit weer in te schakelen: laad nog minstens € 12,50",
                  "de": "um den Strom wieder einzuschalten: Laden Sie noch mindestens 12,50 €"},
}


@pytest.mark.parametrize("outcome", OUTCOME_WORDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_top_up_is_confirmed_with_what_it_left(templates, language, outcome):
    event = make("TopUpReceived", language=language, amount_cents=1000, balance_cents=-1200,
                 outcome=outcome, minimum_topup_cents=1250 if outcome.startswith("still") else 0,
                 usable_before_disconnection_cents=300, emergency_credit_left_cents=300)
    sms = templates.sms(event)
    assert OUTCOME_WORDS[outcome][language] in sms
    others = [words[language] for name, words in OUTCOME_WORDS.items()
              if name not in (outcome, "credited")]  # the free line's number ends others too
    assert not any(words in sms for words in others)
    assert "10,00" in sms and "-12,00" in sms
    email = templates.email(event)
    assert "10,00" in email.subject
    if outcome.startswith("still"):  # the subject says at once that it is not enough yet
        assert "12,50" in email.subject and "12,50" in email.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_top_up_that_leaves_a_pending_cut_says_when_it_still_comes(templates, language):
    event = make("TopUpReceived", language=language, outcome="still_pending", balance_cents=-1700,
                 minimum_topup_cents=500, disconnect_at=datetime(2026, 10, 13, 8, 0, tzinfo=UTC))
    assert "13" in templates.sms(event) and "10:00" in templates.sms(event)
    assert "10:00" in templates.email(event).text


LIMITED = {"fr": "la puissance de votre compteur d'électricité", "nl": "het vermogen van uw elektriciteitsmeter",
           "de": "Die Leistung Ihres Stromzählers"}
FULL_POWER = {"fr": "toute la puissance", "nl": "volle vermogen", "de": "volle Leistung"}
SUPPLY_BACK = {"fr": "l'électricité revient", "nl": "de elektriciteit is terug", "de": "Der Strom ist wieder da"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_limited_meter_is_told_its_power_is_limited_and_full_power_returns(templates, language):
    limited = templates.sms(make("PowerLimited", language=language))
    assert LIMITED[language] in limited and FULL_POWER[language] in limited
    email = templates.email(make("PowerLimited", language=language)).text
    assert FULL_POWER[language] in email and SUPPLY_BACK[language] not in email
    for event in (make("ReconnectionAllowed", language=language, power_limiter=True),
                  make("TopUpReceived", language=language, outcome="reconnection", power_limiter=True)):
        for text in (templates.sms(event), templates.email(event).text):
            assert FULL_POWER[language] in text and SUPPLY_BACK[language] not in text
    cut = make("ReconnectionAllowed", language=language, power_limiter=False)
    assert SUPPLY_BACK[language] in templates.email(cut).text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reconnection_after_a_correction_does_not_thank_for_a_top_up(templates, language):
    """ReconnectionAllowed alone comes of a corrected reading (a top-up says it in its own
    confirmation): it must not thank the customer for a payment."""
    sms = templates.sms(make("ReconnectionAllowed", language=language))
    assert not any(word in sms for word in ("Merci", "Bedankt", "Danke"))


def test_help_numbers_and_how_to_top_up(templates):
    for language, name in itertools.product(LANGUAGES, SERIOUS_EVENTS):
        event = make(name, language=language)
        assert "078/15.78.01" in templates.sms(event)
        assert "078/15.78.01" in templates.sms(event, audience="cpas")
    for language, name in itertools.product(LANGUAGES, EMAILED):
        text = templates.email(make(name, language=language)).text
        assert "0800/92.424" in text
    for language in LANGUAGES:
        text = templates.email(make("LowCredit", language=language)).text
        assert "recharger.ores.be" in text and "13" in text and "5,00" in text and "250,00" in text


def test_french_never_says_cents(templates):
    for name, audience in itertools.product(EMAILED, AUDIENCES):
        if templates.has(name, audience):
            event = make(name)
            email = templates.email(event, audience=audience)
            for text in (templates.sms(event, audience=audience), email.subject, email.text):
                assert not re.search(r"\bcents?\b", text, re.IGNORECASE)


def test_the_cpas_audience_exists_for_serious_events_only(templates):
    assert all(templates.has(name, "customer") for name in TOLD)
    assert not any(templates.has(name, "customer") for name in SILENT_EVENTS)
    assert {name for name in EVENT_TYPES if templates.has(name, "cpas")} == (
        SERIOUS_EVENTS | CPAS_LIST_EVENTS)
    assert not templates.has("LowCredit", "cpas") and not templates.has("Nothing", "customer")
    with pytest.raises(ValueError, match="no cpas message for LowCredit"):
        templates.sms(make("LowCredit"), audience="cpas")
    with pytest.raises(ValueError):
        templates.email(make("Disconnected"), audience="neighbour")


def test_the_cpas_is_told_which_meter_and_what_to_do(templates):
    sms = templates.sms(make("Disconnected", energy="gas"), audience="cpas")
    assert sms.startswith("CPAS") and "compteur de gaz EAN ...1234" in sms and "16,70 €" in sms
    assert "OCMW" in templates.sms(make("Disconnected", language="nl"), audience="cpas")
    email = templates.email(make("PowerLimited"), audience="cpas")
    assert "mandat" in email.text and "…1234" in email.subject and "16,70\u00a0€" in email.text


def test_language_defaults_to_the_event_and_can_be_chosen(templates):
    event = make("ReconnectionAllowed", language="nl", balance_cents=380)
    assert "Het saldo van uw" in templates.sms(event)
    assert "Le solde de votre" in templates.sms(event, language="fr")
    assert "der Saldo Ihres Stromzählers" in templates.email(event, language="de").text
    with pytest.raises(ValueError):
        templates.sms(event, language="en")


def test_naive_times_are_refused(templates):
    with pytest.raises(ValueError, match="naive"):
        templates.sms(make("EmergencyCreditStarted", at=datetime(2026, 10, 12, 11, 58)))


# load() refuses broken template folders -------------------------------------------------------

@pytest.fixture
def locales_copy(tmp_path) -> Path:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES, copy)
    return copy


def test_a_missing_template_is_refused_by_name(locales_copy):
    (locales_copy / "fr" / "messages" / "LowCredit.sms.j2").unlink()
    with pytest.raises(LocaleError, match=r"fr/messages/LowCredit\.sms\.j2: missing"):
        MessageTemplates.load(locales_copy)


def test_a_missing_cpas_template_is_refused(locales_copy):
    (locales_copy / "de" / "messages" / "cpas_PowerLimited.email.j2").unlink()
    with pytest.raises(LocaleError, match=r"cpas_PowerLimited\.email\.j2"):
        MessageTemplates.load(locales_copy)


def test_a_template_that_does_not_compile_is_refused(locales_copy):
    path = locales_copy / "nl" / "messages" / "TopUpReceived.sms.j2"
    path.write_text(path.read_text(encoding="utf-8") + "{% if %}\n", encoding="utf-8")
    with pytest.raises(LocaleError, match=r"TopUpReceived\.sms\.j2, line \d+"):
        MessageTemplates.load(locales_copy)


def test_an_undefined_name_is_refused(locales_copy):
    path = locales_copy / "fr" / "messages" / "Disconnected.email.j2"
    path.write_text(path.read_text(encoding="utf-8").replace("{{ at|date_time }}", "{{ cut_at|date_time }}"),
                    encoding="utf-8")
    with pytest.raises(LocaleError, match=r"Disconnected\.email\.j2: does not render .*cut_at"):
        MessageTemplates.load(locales_copy)


def test_a_character_outside_gsm7_is_refused(locales_copy):
    path = locales_copy / "nl" / "messages" / "LowCredit.sms.j2"
    path.write_text(path.read_text(encoding="utf-8").replace("Laag saldo:", "Laag saldo in België:"),
                    encoding="utf-8")
    with pytest.raises(LocaleError, match=r"LowCredit\.sms\.j2: 'ë' cannot be sent in an SMS"):
        MessageTemplates.load(locales_copy)


def test_an_sms_longer_than_two_segments_is_refused(locales_copy):
    path = locales_copy / "de" / "messages" / "TopUpReceived.sms.j2"
    path.write_text(path.read_text(encoding="utf-8") + "Vielen Dank. " * 10, encoding="utf-8")
    with pytest.raises(LocaleError, match=r"TopUpReceived\.sms\.j2: \d+ GSM-7 characters"):
        MessageTemplates.load(locales_copy)


def test_the_rehearsal_at_load_tries_the_power_limiter_wording_too(locales_copy):
    path = locales_copy / "fr" / "messages" / "DisconnectionPending.sms.j2"
    source = path.read_text(encoding="utf-8")
    assert "(assez pour lumière et frigo)" in source
    path.write_text(source.replace("(assez pour lumière et frigo)", "(assez pour la lumière et le frigo)"),
                    encoding="utf-8")  # only the limited wording grows, past two segments
    with pytest.raises(LocaleError, match=r"DisconnectionPending\.sms\.j2: 3\d\d GSM-7 characters"):
        MessageTemplates.load(locales_copy)


def test_a_stray_template_name_is_refused(locales_copy):
    shutil.copy(locales_copy / "fr" / "messages" / "LowCredit.sms.j2",
                locales_copy / "fr" / "messages" / "cpas_LowCredit.sms.j2")
    with pytest.raises(LocaleError, match=r"cpas_LowCredit\.sms\.j2: not the name of any message"):
        MessageTemplates.load(locales_copy)


def test_an_email_without_its_layout_is_refused(locales_copy):
    path = locales_copy / "fr" / "messages" / "LowCredit.email.j2"
    path.write_text(path.read_text(encoding="utf-8").replace('{% extends "_layout.html.j2" %}', ""),
                    encoding="utf-8")
    with pytest.raises(LocaleError, match=r"LowCredit\.email\.j2: must extend _layout\.html\.j2"):
        MessageTemplates.load(locales_copy)
