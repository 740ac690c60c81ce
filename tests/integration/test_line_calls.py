"""Whole calls to the balance line as transcripts, in nl, fr and de: every state of the ledger,
every wrong input, the menu after the balance, and a broken database.

The line is mounted at /voice on a real test server, over a real Ledger on a SQLite file holding
the demo's made-up customers (saldo/demo.py), built on a Saturday so that one meter is waiting for
the end of the non-disconnection period. ivr.phone.Phone places the calls: it signs every request
as Twilio does, follows the TwiML as Twilio does, and presses scripted keys.

What is checked comes from the locale files (the sentences the line must say) and from tables of
amounts written out here by hand (the words the caller must hear), not from ivr/spoken.py.
"""

import asyncio
import json
import re
import shutil
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from ivr.app import create_line_app
from ivr.line import LineConfig
from ivr.flow import Voice
from ivr.phone import DEFAULT_CALLER, Phone
from ivr.prompts import load_prompts
from ledger import BRUSSELS, AccountInput, Ledger, NonDisconnectionPeriod, SettableClock, State
from ledger.ean import with_check_digit
from saldo.demo import CUSTOMERS, DEMO_PREFIX, build_demo

from tests.browser import logged_server

TOKEN = "made-up-auth-token"
PUBLIC = "https://saldo.example.be"
LOCALES = Path(__file__).resolve().parents[2] / "locales"
VOICES = {"fr": Voice("Polly.Isabelle-Neural", "fr-BE"), "nl": Voice("Polly.Lisa-Neural", "nl-BE"),
          "de": Voice("Polly.Vicki-Neural", "de-DE")}
LANGUAGES = ("nl", "fr", "de")
LANGUAGE_KEY = {"nl": "1", "fr": "2", "de": "3"}
PROMPTS = load_prompts(LOCALES)
TEXTS = {language: json.loads((LOCALES / language / "ivr.json").read_text(encoding="utf-8"))
         for language in LANGUAGES}

# Inside the non-disconnection period: a meter exhausted now waits until Monday 8:00.
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=BRUSSELS)

# One demo customer per state (saldo/demo.py), its energy, and what the caller must hear.
CUSTOMER = {state: next(c for c in CUSTOMERS if c.target is state) for state in State}
CODE = {state: customer.ean[-13:] for state, customer in CUSTOMER.items()}

# The balance, and the amount each state's advice names, written out by hand per language: the
# minimum top-up is said in whole euros, rounded up (−15,92 € pending: 0,93 € avoids the cut, but a
# terminal takes five euros at least; −16,20 € cut: 16,70 € restores it, said seventeen euros).
AMOUNTS = {
    "fr": {
        State.NORMAL: ["trente-huit euros et quatre-vingts centimes"],
        State.LOW: ["quatre euros et quarante-six centimes"],
        State.EMERGENCY: ["moins un euro et vingt centimes",
                          "treize euros et quatre-vingts centimes"],
        State.DISCONNECTION_PENDING: ["moins quinze euros et nonante-deux centimes", "cinq euros"],
        State.DISCONNECTED: ["moins seize euros et vingt centimes", "dix-sept euros"],
        State.POWER_LIMITED: ["moins seize euros et dix centimes", "dix-sept euros"],
    },
    "nl": {
        State.NORMAL: ["achtendertig euro en tachtig cent"],
        State.LOW: ["vier euro en zesenveertig cent"],
        State.EMERGENCY: ["min één euro en twintig cent", "dertien euro en tachtig cent"],
        State.DISCONNECTION_PENDING: ["min vijftien euro en tweeënnegentig cent", "vijf euro"],
        State.DISCONNECTED: ["min zestien euro en twintig cent", "zeventien euro"],
        State.POWER_LIMITED: ["min zestien euro en tien cent", "zeventien euro"],
    },
    "de": {
        State.NORMAL: ["achtunddreißig Euro und achtzig Cent"],
        State.LOW: ["vier Euro und sechsundvierzig Cent"],
        State.EMERGENCY: ["minus ein Euro und zwanzig Cent", "dreizehn Euro und achtzig Cent"],
        State.DISCONNECTION_PENDING: ["minus fünfzehn Euro und zweiundneunzig Cent", "fünf Euro"],
        State.DISCONNECTED: ["minus sechzehn Euro und zwanzig Cent", "siebzehn Euro"],
        State.POWER_LIMITED: ["minus sechzehn Euro und zehn Cent", "siebzehn Euro"],
    },
}
MONDAY = {"fr": "lundi", "nl": "maandag", "de": "Montag"}
# When customer service opens after the demo's Saturday afternoon: Monday 30 November, 8:00.
OPENS_MONDAY_8 = {"fr": "le lundi trente novembre à huit heures",
                  "nl": "op maandag dertig november om acht uur",
                  "de": "am Montag, dem dreißigsten November, um acht Uhr"}
GREEN_BUTTON = {"fr": "bouton vert", "nl": "groene knop", "de": "grüne Taste"}
TIGHTNESS_TEST = {"fr": "étanchéité", "nl": "dichtheidstest", "de": "Dichtheitstest"}
CUSTOMER_SERVICE = {"fr": "zéro septante-huit, quinze, septante-huit, zéro un",
                    "nl": "nul zeven acht, één vijf, zeven acht, nul één",
                    "de": "null sieben acht, eins fünf, sieben acht, null eins"}
TOPUP_LIMITS = {"fr": ("cinq euros", "deux cent cinquante euros"),
                "nl": ("vijf euro", "tweehonderdvijftig euro"),
                "de": ("fünf Euro", "zweihundertfünfzig Euro")}
TOPUP_SITE = {"fr": "recharger point ores point B E", "nl": "recharger punt ores punt B E",
              "de": "recharger Punkt ores Punkt B E"}
CUT_WORD = {"fr": "coupé", "nl": "afgesloten", "de": "abgeschaltet"}
# The sentences that tell one state from another; each is said in its own state only.
STATE_PROMPTS = ("low", "emergency", "button_electricity", "button_gas")
# How the days left begin: until the emergency credit starts, or (in it) until the cut.
DAYS_UNTIL = {"emergency": ("days_to_emergency", "days_to_emergency_one",
                            "days_to_emergency_less_than_one"),
              "cut": ("days_to_cut", "days_to_cut_one", "days_to_cut_less_than_one")}


def prompt(language: str, key: str) -> str:
    return PROMPTS[language].say(key)


def head(language: str, key: str) -> str:
    """A prompt's text before its first placeholder: how its sentence begins."""
    return TEXTS[language]["prompts"][key].split("{")[0]


def says_days(sentence: str, language: str, until: str) -> bool:
    return any(sentence.startswith(head(language, key)) for key in DAYS_UNTIL[until])


def expected_sentences(language: str, state: State) -> list[str]:
    """How the balance message begins, sentence by sentence, in this order: a cut or a pending
    cut first with what to top up, then the balance, as of when, what the state means. A
    sentence naming a moment is given by how it begins."""
    say = PROMPTS[language].say
    amounts = AMOUNTS[language][state]
    electricity = CUSTOMER[state].energy == "electricity"
    balance = say("balance_electricity" if electricity else "balance_gas", amount=amounts[0])
    as_of = head(language, "as_of")
    if state is State.LOW:
        return [balance, as_of, say("low")]
    if state is State.EMERGENCY:
        return [balance, as_of, say("emergency"), say("emergency_usable", amount=amounts[1])]
    if state is State.DISCONNECTION_PENDING:
        return [head(language, "pending"), balance, as_of]
    if state is State.DISCONNECTED:
        return [say("disconnected_electricity" if electricity else "disconnected_gas",
                    amount=amounts[1]), say("balance", amount=amounts[0]), as_of]
    if state is State.POWER_LIMITED:
        return [say("power_limited", amount=amounts[1]), say("balance", amount=amounts[0]), as_of]
    return [balance, as_of]


def unknown_code() -> str:
    """Well formed, right check digit, but no meter of the demo has it."""
    body = f"{DEMO_PREFIX}{99:012d}"
    return with_check_digit(body)[-13:]


def mistyped_code() -> str:
    """A demo code with its last digit changed: the check digit no longer matches."""
    code = CODE[State.NORMAL]
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def mistyped_full_code() -> str:
    """A demo meter's whole EAN, as on the invoice, with two digits swapped: the check digit no
    longer matches (a swap of neighbours with different digits always changes the sum)."""
    ean = CUSTOMER[State.NORMAL].ean
    i = next(i for i in range(8, 16) if ean[i] != ean[i + 1])
    return ean[:i] + ean[i + 1] + ean[i] + ean[i + 2:]


# The ledger and the line -------------------------------------------------------------------------

def _url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory) -> Path:
    """The demo, built once (on its own event loop, in a thread) and copied for each test."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"

    async def build() -> None:
        clock = SettableClock(SATURDAY)
        ledger = await Ledger.open(_url(path), clock=clock, ndp=NonDisconnectionPeriod())
        try:
            assert await build_demo(ledger, clock, SATURDAY)
        finally:
            await ledger.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, build()).result()
    return path


@pytest.fixture
async def demo_ledger(demo_database, tmp_path):
    for part in demo_database.parent.glob(demo_database.name + "*"):
        shutil.copy(part, tmp_path / part.name)
    opened = await Ledger.open(_url(tmp_path / demo_database.name), clock=SettableClock(SATURDAY),
                               ndp=NonDisconnectionPeriod())
    yield opened
    await opened.close()


@dataclass
class Keypad:
    """Scripted keys; an entry may also be a coroutine function of the prompt (to act mid-call)."""

    entries: list

    async def __call__(self, prompt: str) -> str:
        assert self.entries, f"the call asked for more keys than scripted: {prompt!r}"
        entry = self.entries.pop(0)
        return await entry(prompt) if callable(entry) else entry


@dataclass
class Call:
    transcript: list[tuple]
    heard: list[tuple[str, str, str | None]]  # (text, language, voice), as Twilio would speak
    answers: list[tuple[int, str]]  # (status, body) of every webhook, as the server sent them

    @property
    def said(self) -> list[str]:
        return [event[2] for event in self.transcript if event[0] == "say"]

    def said_after(self, digits: str, occurrence: int = 0) -> list[str]:
        """The sentences said after the keys `digits` were sent, up to the next <Gather>."""
        starts = [i for i, event in enumerate(self.transcript)
                  if event in (("digits", digits), ("speech", digits))]
        assert len(starts) > occurrence, f"{digits!r} never sent: {self.transcript}"
        said = []
        for event in self.transcript[starts[occurrence] + 1:]:
            if event[0] != "say":
                break
            said.append(event[2])
        return said

    @property
    def gathers(self) -> list[str]:
        return [event[1] for event in self.transcript if event[0] == "gather"]


@dataclass
class Switchboard:
    base_url: str
    ledger: Ledger
    answers: list[tuple[int, str]] = field(default_factory=list)

    async def call(self, *entries, transfer=None, caller: str = DEFAULT_CALLER) -> Call:
        keypad = Keypad(list(entries))
        heard = []
        self.answers.clear()
        phone = Phone(self.base_url, auth_token=TOKEN, public_base_url=PUBLIC, keypad=keypad,
                      hear=lambda text, language, voice: heard.append((text, language, voice)),
                      transfer=transfer, caller=caller)
        transcript = await phone.call()  # an HTTP 500 or bad TwiML would raise PhoneError
        assert not keypad.entries, f"keys left unused: {keypad.entries}; {transcript}"
        call = Call(transcript, heard, list(self.answers))
        assert_well_spoken(call)
        return call


def mount(ledger: Ledger, answers: list[tuple[int, str]]) -> web.Application:
    """The root app with the line at /voice, as `saldo serve` mounts it, plus a recorder."""

    @web.middleware
    async def record(request: web.Request, handler):
        response = await handler(request)
        answers.append((response.status, getattr(response, "text", None) or ""))
        return response

    root = web.Application(middlewares=[record])
    config = LineConfig(PUBLIC, TOKEN, b"made-up-hash-key", VOICES, LOCALES)
    root.add_subapp("/voice", create_line_app(config, lambda request: ledger))
    return root


@pytest.fixture
async def line(demo_ledger):
    answers = []
    async with logged_server(mount(demo_ledger, answers)) as server:
        yield Switchboard(str(server.make_url("")), demo_ledger, answers)


def assert_well_spoken(call: Call) -> None:
    """Every call: no digit left to the voice, each sentence in a configured voice and its
    language, and the call ends by hanging up."""
    for text, language, voice in call.heard:
        assert not re.search(r"\d", text), f"a digit is said: {text!r}"
        assert (voice, language) in {(v.name, v.language) for v in VOICES.values()}, text
    assert call.transcript[-1] == ("hangup",)
    assert all(status == 200 for status, _ in call.answers), call.answers
    last = ET.fromstring(call.answers[-1][1])
    assert last[-1].tag == "Hangup", call.answers[-1][1]  # hung up, not left to run out


def assert_in_language(call: Call, language: str, start: int = 0) -> None:
    """From the `start`-th sentence on, everything is said in `language`'s voice."""
    voice = VOICES[language]
    for text, spoken_in, name in call.heard[start:]:
        assert (spoken_in, name) == (voice.language, voice.name), text


WELCOME_SENTENCES = 6  # three greetings, three language options


def assert_welcome(call: Call) -> None:
    said = call.said[:WELCOME_SENTENCES]
    assert said == [prompt(language, "greeting") for language in ("fr", "nl", "de")] + [
        prompt(language, "language_option") for language in LANGUAGES]
    for (text, spoken_in, _voice), language in zip(call.heard, ("fr", "nl", "de", *LANGUAGES),
                                                   strict=False):
        assert spoken_in == VOICES[language].language, text


# A whole call, for every language and every state ------------------------------------------------

@pytest.mark.parametrize("state", list(State), ids=[state.value for state in State])
@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_whole_call_says_the_balance_first_then_what_to_do(line, language, state):
    customer = CUSTOMER[state]
    view = await line.ledger.balance_view(customer.ean, actor="test")
    assert view.state is state  # the demo, built on a Saturday, has every state

    call = await line.call(LANGUAGE_KEY[language], CODE[state] + "#", "0")

    assert_welcome(call)
    assert_in_language(call, language, start=WELCOME_SENTENCES)
    assert call.gathers[1] == prompt(language, "ask_ean")
    balance = call.said_after(CODE[state])
    assert balance[-1] == prompt(language, "menu_after_balance")
    message = balance[:-1]
    expected = expected_sentences(language, state)
    assert len(message) > len(expected)
    for heard, wanted in zip(message, expected, strict=False):
        assert heard.startswith(wanted), (heard, wanted)
    text = " ".join(message)
    for amount in AMOUNTS[language][state]:
        assert amount in text
    cut = state in (State.DISCONNECTED, State.POWER_LIMITED)
    button = "button_electricity" if customer.energy == "electricity" else "button_gas"
    for key in STATE_PROMPTS:
        if prompt(language, key) not in expected and not (cut and key == button):
            assert prompt(language, key) not in text, key
    assert len(text.split()) <= 75, text                 # thirty seconds, before the menu
    if state is State.DISCONNECTION_PENDING:
        assert MONDAY[language] in message[0]  # waits for the end of the weekend
        assert AMOUNTS[language][state][1] in message[0]  # and what avoids it, at once
    if state in (State.DISCONNECTION_PENDING, State.DISCONNECTED):
        assert CUT_WORD[language] in message[0]
    if cut:  # cut off: the message ends on the button that restores it, no last top-up
        assert message[-1] == prompt(language, button)
        assert not any(s.startswith(head(language, "last_topup")) for s in message), message
    else:
        assert GREEN_BUTTON[language] not in text and TIGHTNESS_TEST[language] not in text
        assert message[-1].startswith(head(language, "last_topup")), message
    days = [s for s in message
            if says_days(s, language, "emergency") or says_days(s, language, "cut")]
    if state in (State.NORMAL, State.LOW):
        assert len(days) == 1 and says_days(days[0], language, "emergency"), message
    elif state is State.EMERGENCY:
        assert len(days) == 1 and says_days(days[0], language, "cut"), message
        assert message[message.index(days[0]) - 1] == expected[-1]  # right after "until the cut"
    else:
        assert days == [], message
    assert call.transcript[-3:] == [("digits", "0"),
                                    ("say", VOICES[language].language, prompt(language, "goodbye")),
                                    ("hangup",)]


async def test_the_debt_and_its_daily_repayment_are_said(line):
    """Emma Wouters (demo) repays an earlier debt of 15 € at 5 € a day."""
    emma = next(c for c in CUSTOMERS if c.number == 8)
    call = await line.call("1", emma.ean[-13:] + "#", "0")
    balance = call.said_after(emma.ean[-13:])
    assert PROMPTS["nl"].say("debt", amount="vijftien euro", daily="vijf euro") in balance


# Wrong inputs ------------------------------------------------------------------------------------

WRONG_CODES = {
    "fewer digits": (CODE[State.NORMAL][:12] + "#", "code_mistyped"),
    "fewer digits then a pause": (CODE[State.NORMAL][:7], "code_mistyped"),
    "more digits": (CODE[State.NORMAL] + "4#", "code_mistyped"),
    "a star": (CODE[State.NORMAL][:5] + "*" + CODE[State.NORMAL][6:] + "#", "code_mistyped"),
    "silence": ("", "nothing_heard"),
    "wrong check digit": (mistyped_code() + "#", "code_mistyped"),
    "the whole code, mistyped": (mistyped_full_code() + "#", "code_mistyped"),
    "seventeen digits": (CUSTOMER[State.NORMAL].ean[1:] + "#", "code_mistyped"),
    "unknown code": (unknown_code() + "#", "code_unknown"),
}


def sent(keys_pressed: str) -> str:
    """What Twilio posts of the keys: up to '#'."""
    return keys_pressed.split("#")[0]


@pytest.mark.parametrize("wrong", WRONG_CODES.values(), ids=WRONG_CODES.keys())
@pytest.mark.parametrize("language", ["fr", "nl", "de"])
async def test_a_wrong_code_is_explained_and_asked_again(line, language, wrong):
    keys_pressed, problem = wrong
    call = await line.call(LANGUAGE_KEY[language], keys_pressed, CODE[State.LOW] + "#", "0")

    assert_in_language(call, language, start=WELCOME_SENTENCES)
    assert call.said_after(sent(keys_pressed)) == [prompt(language, problem),
                                                   prompt(language, "ask_ean_again")]
    assert call.gathers[2] == prompt(language, problem) + " " + prompt(language, "ask_ean_again")
    # the reminder, explanation included, is shorter than the first request
    assert len(call.gathers[2].split()) < len(call.gathers[1].split())
    assert call.gathers[1] == prompt(language, "ask_ean")
    # asked again, the right code is found
    balance = call.said_after(CODE[State.LOW])
    assert AMOUNTS[language][State.LOW][0] in balance[0]
    assert call.transcript[-2:] == [("say", VOICES[language].language,
                                     prompt(language, "goodbye")), ("hangup",)]


@pytest.mark.parametrize("language", ["fr", "nl", "de"])
async def test_three_failures_offer_customer_service_while_it_is_open(line, language):
    wrong = [CODE[State.NORMAL][:12] + "#", unknown_code() + "#", ""]
    call = await line.call(LANGUAGE_KEY[language], *wrong, "0")  # Saturday 11:00: open

    assert_in_language(call, language, start=WELCOME_SENTENCES)
    assert call.said_after(sent(wrong[0])) == [prompt(language, "code_mistyped"),
                                               prompt(language, "ask_ean_again")]
    assert call.said_after(sent(wrong[1])) == [prompt(language, "code_unknown"),
                                               prompt(language, "ask_ean_again")]
    assert call.said_after("") == [prompt(language, "too_many_failures"),
                                   prompt(language, "offer_customer_service")]
    assert call.said_after("0") == [prompt(language, "goodbye")]
    assert len(call.gathers) == 5  # the language, three codes, the offer: no fourth code


@pytest.mark.parametrize("language", ["fr", "nl", "de"])
async def test_three_failures_when_it_is_closed_say_when_it_opens_and_hang_up(line, language):
    line.ledger.clock.set(SATURDAY.replace(hour=14))  # closed at 13:00
    wrong = [CODE[State.NORMAL][:12] + "#", unknown_code() + "#", ""]
    call = await line.call(LANGUAGE_KEY[language], *wrong)

    end = call.said_after("")
    assert end[0] == prompt(language, "too_many_failures")
    assert OPENS_MONDAY_8[language] in end[1]
    assert end[2:] == [prompt(language, "how_to_top_up"), prompt(language, "customer_service"),
                       prompt(language, "goodbye")]
    assert end[3].count(CUSTOMER_SERVICE[language]) == 2  # said, then repeated
    assert call.transcript[-1] == ("hangup",)
    assert len(call.gathers) == 4  # the language, then three codes: no fourth try


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("state", [State.NORMAL, State.DISCONNECTED], ids=["normal", "cut"])
async def test_the_whole_ean_from_the_invoice_is_accepted(line, language, state):
    whole = CUSTOMER[state].ean
    assert len(whole) == 18
    call = await line.call(LANGUAGE_KEY[language], whole + "#", "0")
    balance = call.said_after(whole)
    assert AMOUNTS[language][state][0] in " ".join(balance)
    assert balance[-1] == prompt(language, "menu_after_balance")
    trail = await line.ledger.audit_trail()
    assert (trail[0]["ean"], trail[0]["outcome"]) == (whole, "found")


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_whole_ean_mistyped_is_refused_as_mistyped_not_looked_up(line, language):
    code = mistyped_full_code()
    call = await line.call(LANGUAGE_KEY[language], code + "#", CODE[State.LOW] + "#", "0")
    assert call.said_after(code) == [prompt(language, "code_mistyped"),
                                     prompt(language, "ask_ean_again")]
    trail = await line.ledger.audit_trail()
    assert [(r["ean"], r["outcome"]) for r in trail[:2]] == [
        (CUSTOMER[State.LOW].ean, "found"), (None, "code_mistyped")]


async def test_the_failures_count_across_kinds_and_the_third_ends_the_codes(line):
    wrong = ["12#", mistyped_code() + "#", "1234*#"]
    call = await line.call("2", *wrong, "")  # silence at the offer: goodbye
    assert call.said[-3:] == [prompt("fr", "too_many_failures"),
                              prompt("fr", "offer_customer_service"), prompt("fr", "goodbye")]
    assert call.transcript[-1] == ("hangup",)


@pytest.mark.parametrize("then, language", [("", "fr"), ("3", "de"), ("1", "nl")],
                         ids=["silence twice: French", "silence then 3", "silence then 1"])
async def test_silence_at_the_language_menu_asks_once_more(line, then, language):
    call = await line.call("", then, CODE[State.EMERGENCY] + "#", "0")

    greetings = [prompt(lang, "greeting") for lang in ("fr", "nl", "de")]
    options = [prompt(lang, "language_option") for lang in LANGUAGES]
    assert call.said[:9] == greetings + options + options  # greeted once, asked twice
    assert call.transcript[7:9] == [("digits", ""), ("say", "nl-BE", options[0])]
    assert call.gathers[2] == prompt(language, "ask_ean")
    assert_in_language(call, language, start=9)
    balance = call.said_after(CODE[State.EMERGENCY])
    assert AMOUNTS[language][State.EMERGENCY][0] in balance[0]


async def test_a_key_that_is_no_language_asks_once_more(line):
    call = await line.call("7", "9", CODE[State.NORMAL] + "#", "0")
    assert call.gathers[2] == prompt("fr", "ask_ean")
    assert_in_language(call, "fr", start=9)


# The menu after the balance ----------------------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
async def test_one_repeats_the_balance(line, language):
    code = CODE[State.EMERGENCY]
    call = await line.call(LANGUAGE_KEY[language], code + "#", "1", "0")

    first = call.said_after(code)
    again = call.said_after("1", occurrence=1 if language == "nl" else 0)  # nl: "1" chose it
    assert again == first
    assert AMOUNTS[language][State.EMERGENCY][1] in " ".join(again)
    assert call.said_after("0") == [prompt(language, "goodbye")]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_two_asks_for_another_meter(line, language):
    first, second = CODE[State.NORMAL], CODE[State.POWER_LIMITED]
    call = await line.call(LANGUAGE_KEY[language], first + "#", "2", second + "#", "0")

    assert call.said_after("2", occurrence=1 if language == "fr" else 0) == [
        prompt(language, "ask_ean")]
    balance = call.said_after(second)
    limited = AMOUNTS[language][State.POWER_LIMITED]
    assert balance[:2] == [PROMPTS[language].say("power_limited", amount=limited[1]),
                           PROMPTS[language].say("balance", amount=limited[0])]
    assert GREEN_BUTTON[language] in " ".join(balance)
    assert_in_language(call, language, start=WELCOME_SENTENCES)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_three_explains_how_to_top_up(line, language):
    code = CODE[State.DISCONNECTED]
    call = await line.call(LANGUAGE_KEY[language], code + "#", "3", "0")

    explained = call.said_after("3", occurrence=1 if language == "de" else 0)
    assert explained[0] == prompt(language, "how_to_top_up")
    minimum, maximum = TOPUP_LIMITS[language]
    for limit in (minimum, maximum):
        assert re.search(rf"\b{limit}\b", explained[0]), limit
    assert "ORES" in explained[0]
    assert explained[0].count(TOPUP_SITE[language]) == 2  # the web address, said twice
    assert explained[-1] == prompt(language, "menu_after_balance")  # then the menu again
    assert call.transcript[-2:] == [("say", VOICES[language].language,
                                     prompt(language, "goodbye")), ("hangup",)]


async def test_a_key_that_is_no_choice_says_so_and_offers_the_menu_again(line):
    call = await line.call("2", CODE[State.LOW] + "#", "7", "0")
    assert call.said_after("7") == [prompt("fr", "menu_invalid"), prompt("fr", "menu_after_balance")]


# Customer service: put through while it is open, else when it opens -------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
async def test_nine_puts_the_call_through_to_customer_service_with_its_option_keyed(line,
                                                                                   language):
    call = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "9")  # Saturday 11:00

    assert call.said_after("9") == [prompt(language, "transferring")]
    assert ("dial", "+3278157801", "wwww2") in call.transcript  # 078/15.78.01, then option 2
    assert call.transcript[-2:] == [("dial", "+3278157801", "wwww2"), ("hangup",)]
    assert_in_language(call, language, start=WELCOME_SENTENCES)
    [record] = [r for r in await line.ledger.audit_trail() if r["action"] == "ivr-customer-service"]
    assert (record["ean"], record["outcome"]) == (None, "put-through")


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
async def test_a_transfer_nobody_takes_gives_the_number_and_ends(line, status):
    call = await line.call("2", CODE[State.LOW] + "#", "9", transfer=lambda number: status)
    assert call.said[-3:] == [prompt("fr", "transfer_failed"),
                              prompt("fr", "customer_service_short"), prompt("fr", "goodbye")]


CLOSED = [  # (when the caller presses 9, in Brussels, and when it opens, said)
    (datetime(2026, 11, 28, 13, 0), {"fr": "le lundi trente novembre à huit heures",
                                     "nl": "op maandag dertig november om acht uur",
                                     "de": "am Montag, dem dreißigsten November, um acht Uhr"}),
    # Christmas, a Friday: the Saturday after, at nine.
    (datetime(2026, 12, 25, 10, 0), {"fr": "le samedi vingt-six décembre à neuf heures",
                                     "nl": "op zaterdag zesentwintig december om negen uur",
                                     "de": "am Samstag, dem sechsundzwanzigsten Dezember, "
                                           "um neun Uhr"}),
    # The clocks go forward on Sunday 28 March 2027 and Monday is Easter Monday: Tuesday, at
    # eight in summer time.
    (datetime(2027, 3, 27, 15, 0), {"fr": "le mardi trente mars à huit heures",
                                    "nl": "op dinsdag dertig maart om acht uur",
                                    "de": "am Dienstag, dem dreißigsten März, um acht Uhr"}),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("moment, opens", CLOSED, ids=["saturday-afternoon", "christmas",
                                                       "easter-across-dst"])
async def test_nine_when_it_is_closed_says_when_it_opens_and_how_to_top_up(line, language,
                                                                          moment, opens):
    line.ledger.clock.set(moment.replace(tzinfo=BRUSSELS))
    call = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "9", "0")

    after = call.said_after("9")
    assert opens[language] in after[0]
    assert after[1:] == [prompt(language, "how_to_top_up"), prompt(language, "menu_after_balance")]
    assert not any(event[0] == "dial" for event in call.transcript)


# A known caller: the meters on file for the number, and four digits as the proof --------------------

KNOWN = CUSTOMER[State.LOW]  # a gas meter, a mobile on file


def last_said_after(call: Call, digits: str, before_last: int = 0) -> list[str]:
    """What was said after the last time `digits` were sent (or the one `before_last` before)."""
    return call.said_after(digits, occurrence=call.transcript.count(("digits", digits)) - 1
                           - before_last)


FIVE_EUROS = {"fr": "cinq euros", "nl": "vijf euro", "de": "fünf Euro"}
TEN_EUROS = {"fr": "dix euros", "nl": "tien euro", "de": "zehn Euro"}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_known_caller_types_four_digits_instead_of_thirteen(line, language):
    call = await line.call(LANGUAGE_KEY[language], KNOWN.ean[-4:] + "#", "0", caller=KNOWN.mobile)
    typed = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "0")

    offer = call.said_after(LANGUAGE_KEY[language])
    assert offer == [PROMPTS[language].say("known_caller",
                                           meters=prompt(language, "meter_gas"))]
    assert KNOWN.ean[-4:] not in offer[0]  # the proof is never said
    assert call.said_after(sent(KNOWN.ean[-4:] + "#")) == typed.said_after(
        sent(CODE[State.LOW] + "#"))
    trail = await line.ledger.audit_trail()
    assert [(r["action"], r["ean"], r["outcome"]) for r in trail[:1]] == [
        ("ivr-balance", KNOWN.ean, "found")]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_wrong_confirmation_says_nothing_of_the_balance_and_counts_as_unknown(line,
                                                                                     language):
    call = await line.call(LANGUAGE_KEY[language], "9999#", CODE[State.NORMAL] + "#", "0",
                           caller=KNOWN.mobile)
    assert call.said_after("9999") == [prompt(language, "confirmation_wrong"),
                                       prompt(language, "ask_ean_again")]
    outcomes = [r["outcome"] for r in await line.ledger.audit_trail() if r["action"] == "ivr-balance"]
    assert outcomes == ["found", "unknown"]  # newest first: the 13 digits, then the guess


async def test_a_forged_caller_id_without_the_digits_hears_nothing_and_is_locked_out(line):
    """Someone calling with a customer's number shown hears which energies are on file, never
    a balance; '#' alone goes on to the thirteen digits; guesses count like unknown codes."""
    skipped = await line.call("2", "#", CODE[State.NORMAL] + "#", "0", caller=KNOWN.mobile)
    assert skipped.said_after("")[0] == prompt("fr", "ask_ean")
    calls = [await line.call("2", f"{n}{n}{n}{n}#", CODE[State.NORMAL] + "#", "0",
                             caller=KNOWN.mobile) for n in range(1, 5)]
    assert all(c.said_after(f"{n}{n}{n}{n}")[0] == prompt("fr", "confirmation_wrong")
               for n, c in zip(range(1, 5), calls))
    # The fifth guess locks the number out: the right code after it is refused.
    locked = await line.call("2", "5555#", CODE[State.NORMAL] + "#", caller=KNOWN.mobile)
    refused = locked.said_after(sent(CODE[State.NORMAL] + "#"))
    assert refused[0] == PROMPTS["fr"].say("locked_out", wait="une heure")
    assert KNOWN.ean[-4:] not in " ".join(locked.said)


async def test_several_meters_on_one_number_are_offered_together(line):
    second = with_check_digit(f"{DEMO_PREFIX}{900:012d}")
    await line.ledger.import_accounts([AccountInput(
        ean=second, energy="electricity", language="nl", mobile=KNOWN.mobile,
        activated_at=SATURDAY - timedelta(days=20))])
    call = await line.call("1", second[-4:] + "#", "0", caller=KNOWN.mobile)
    assert call.said_after("1") == [PROMPTS["nl"].say(
        "known_caller", meters=f"{prompt('nl', 'meter_gas')} {prompt('nl', 'and')} "
                               f"{prompt('nl', 'meter_electricity')}")]  # in the order of EANs
    balance = call.said_after(second[-4:])
    assert balance[0].startswith(PROMPTS["nl"].texts["balance_electricity"].split("{")[0])


async def test_a_withheld_number_is_asked_for_the_thirteen_digits(line):
    call = await line.call("2", CODE[State.LOW] + "#", "0", caller="anonymous")
    assert call.said_after("2")[0] == prompt("fr", "ask_ean")


# Key 5: the low-credit alert, changed from the number on file ---------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
async def test_five_changes_the_alert_threshold_read_back_and_confirmed_by_sms(line, language):
    call = await line.call(LANGUAGE_KEY[language], KNOWN.ean[-4:] + "#", "5", "1", "2", "1", "0",
                           caller=KNOWN.mobile)
    now = call.said_after("5")
    assert now[0] == PROMPTS[language].say(
        "alerts_current", threshold=FIVE_EUROS[language],
        channel=prompt(language, "channel_sms_email" if KNOWN.email else "channel_sms"))
    assert last_said_after(call, "2") == [PROMPTS[language].say("alerts_confirm_threshold",
                                                                amount=TEN_EUROS[language])]
    assert last_said_after(call, "1")[0] == prompt(language, "alerts_changed")
    assert (await line.ledger.alert_preferences(KNOWN.ean, actor="test", detail="test"))[0] == 1000
    [changed] = [e for _, e in await line.ledger.events_after(0) if e.name == "AlertsChanged"]
    assert (changed.threshold_cents, changed.language) == (1000, language)
    sets = [r["outcome"] for r in await line.ledger.audit_trail() if r["action"] == "alerts-set"]
    assert sets == ["changed"]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_five_changes_the_channel_and_refuses_e_mail_without_an_address(line, language):
    ean, mobile = with_check_digit(f"{DEMO_PREFIX}{901:012d}"), "+32470000901"
    await line.ledger.import_accounts([AccountInput(  # a mobile on file, no e-mail address
        ean=ean, energy="electricity", language="fr", mobile=mobile, notify="sms",
        activated_at=SATURDAY - timedelta(days=20))])
    call = await line.call(LANGUAGE_KEY[language], ean[-4:] + "#", "5", "2", "2", "1", "1", "0",
                           caller=mobile)
    assert last_said_after(call, "2") == [prompt(language, "alerts_no_email"),
                                          prompt(language, "alerts_channels")]
    assert last_said_after(call, "1", before_last=1) == [PROMPTS[language].say(
        "alerts_confirm_channel", channel=prompt(language, "channel_sms"))]
    # SMS was already the channel: nothing changed, nothing sent.
    assert last_said_after(call, "1")[0] == prompt(language, "alerts_unchanged")
    assert [e for _, e in await line.ledger.events_after(0) if e.name == "AlertsChanged"] == []


@pytest.mark.parametrize("language", LANGUAGES)
async def test_five_from_another_number_changes_nothing(line, language):
    call = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "5", "0")  # not on file
    assert call.said_after("5") == [prompt(language, "alerts_not_on_file"),
                                    prompt(language, "customer_service_short"),
                                    prompt(language, "menu_after_balance")]
    refused = [r["outcome"] for r in await line.ledger.audit_trail()
               if r["action"] == "alerts-refused"]
    assert refused == ["not_on_file"]


async def test_five_cancelled_or_left_silent_changes_nothing(line):
    call = await line.call("2", KNOWN.ean[-4:] + "#", "5", "1", "3", "0", "0",
                           caller=KNOWN.mobile)
    assert call.said_after("0")[0] == prompt("fr", "alerts_unchanged")
    silent = await line.call("2", KNOWN.ean[-4:] + "#", "5", "", "0", caller=KNOWN.mobile)
    assert silent.said_after("")[0] == prompt("fr", "alerts_unchanged")
    assert [e for _, e in await line.ledger.events_after(0) if e.name == "AlertsChanged"] == []


# The code said instead of typed ---------------------------------------------------------------------

DIGIT_WORDS = {"fr": "zéro un deux trois quatre cinq six sept huit neuf".split(),
               "nl": "nul één twee drie vier vijf zes zeven acht negen".split(),
               "de": "null eins zwei drei vier fünf sechs sieben acht neun".split()}


def said_aloud(code: str, language: str) -> str:
    return " ".join(DIGIT_WORDS[language][int(digit)] for digit in code)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_code_said_digit_by_digit_is_heard_as_typed(line, language):
    spoken = said_aloud(CODE[State.LOW], language)
    call = await line.call(LANGUAGE_KEY[language], spoken, "0")
    typed = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "0")

    assert ("speech", spoken) in call.transcript
    assert call.said_after(spoken) == typed.said_after(sent(CODE[State.LOW] + "#"))


async def test_the_code_said_by_pairs_with_double_is_heard(line):
    code = CODE[State.LOW]  # 13 digits: the first alone, then six pairs
    pairs = [code[0]] + [code[i:i + 2] for i in range(1, 13, 2)]
    words = {"0": "zéro", "00": "double zéro", "26": "vingt-six"}
    assert all(pair in words for pair in pairs), pairs
    spoken = " ".join(words[pair] for pair in pairs)
    call = await line.call("2", spoken, "0")
    typed = await line.call("2", code + "#", "0")
    assert call.said_after(spoken) == typed.said_after(sent(code + "#"))


async def test_words_that_are_no_code_are_a_mistyped_code(line):
    call = await line.call("2", "je ne sais pas", CODE[State.LOW] + "#", "0")
    assert call.said_after("je ne sais pas") == [prompt("fr", "code_mistyped"),
                                                 prompt("fr", "ask_ean_again")]


# Key 4: what was said, by SMS to the mobile on file ------------------------------------------------

async def balance_sms_requests(ledger: Ledger) -> list:
    return [event for _, event in await ledger.events_after(0) if event.name == "BalanceRequested"]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_four_sends_what_was_said_to_the_mobile_on_file_once(line, language):
    low = CUSTOMER[State.LOW]
    assert low.mobile and low.mobile != DEFAULT_CALLER  # never the number that calls
    call = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "4", "4", "0")

    for occurrence in (0, 1):  # asked twice in one call: said twice, sent once
        assert call.said_after("4", occurrence) == [prompt(language, "sms_sent"),
                                                    prompt(language, "menu_after_balance")]
    [request] = await balance_sms_requests(line.ledger)
    assert (request.ean, request.language, request.state) == (low.ean, language, "low")
    assert request.balance_cents == 446
    trail = [r["outcome"] for r in await line.ledger.audit_trail() if r["action"] == "balance-sms"]
    assert trail == ["already", "queued"]  # newest first


@pytest.mark.parametrize("language", LANGUAGES)
async def test_four_for_a_meter_without_a_mobile_says_so_and_gives_customer_service(line,
                                                                                     language):
    assert CUSTOMER[State.DISCONNECTED].mobile is None
    call = await line.call(LANGUAGE_KEY[language], CODE[State.DISCONNECTED] + "#", "4", "0")
    assert call.said_after("4") == [prompt(language, "sms_no_mobile"),
                                    prompt(language, "customer_service_short"),
                                    prompt(language, "menu_after_balance")]
    assert await balance_sms_requests(line.ledger) == []


async def test_four_before_any_balance_is_no_choice(line):
    call = await line.call("2", "12#", "12#", "", "4", "0")  # the offer after three failures
    assert call.said_after("4")[0] == prompt("fr", "menu_invalid")
    assert await balance_sms_requests(line.ledger) == []


# Key 8: a slower voice, at any step, remembered for the caller's number ------------------------------

def spoken_slowly(body: str) -> bool:
    """Every <Say> of a TwiML answer slowed by SSML, and its keys waited for longer."""
    root = ET.fromstring(body)
    says = list(root.iter("Say"))
    gathers = list(root.iter("Gather"))
    return (bool(says) and all(say.find("prosody") is not None
                               and say.find("prosody").get("rate") == "80%" for say in says)
            and all(gather.get("timeout") == "15" for gather in gathers))


@pytest.mark.parametrize("language", LANGUAGES)
async def test_eight_slows_the_voice_for_the_rest_of_the_call_and_the_next(line, language):
    call = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "8", "1", "0")

    assert call.said_after("8")[0] == prompt(language, "pace_slow")
    before, after = call.answers[:3], call.answers[3:]  # welcome, language, code | 8, 1, 0
    assert not any(spoken_slowly(body) for _, body in before)
    assert all(spoken_slowly(body) for _, body in after)
    repeat = call.said_after("1", occurrence=1 if language == "nl" else 0)
    assert repeat[0] == call.said_after(sent(CODE[State.LOW]))[0]  # the balance, again
    assert_in_language(call, language, start=WELCOME_SENTENCES)

    again = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "0")  # same number
    assert all(spoken_slowly(body) for _, body in again.answers)
    back = await line.call(LANGUAGE_KEY[language], "8#", CODE[State.LOW] + "#", "0")
    assert back.said_after("8") == [prompt(language, "pace_normal"),
                                    prompt(language, "ask_ean")]
    assert not spoken_slowly(back.answers[-1][1])
    later = await line.call(LANGUAGE_KEY[language], CODE[State.LOW] + "#", "0")
    assert not any(spoken_slowly(body) for _, body in later.answers)
    paces = [r["outcome"] for r in await line.ledger.audit_trail() if r["action"] == "ivr-pace"]
    assert paces == ["normal", "slow"]  # newest first; no EAN, as every pace record


async def test_eight_at_the_known_callers_prompt_and_in_the_alert_menu_slows_down(line):
    call = await line.call("2", "8#", KNOWN.ean[-4:] + "#", "5", "8", "0", caller=KNOWN.mobile)
    offer = call.said_after("8")
    assert offer[0] == prompt("fr", "pace_slow") and offer[1].startswith(
        PROMPTS["fr"].texts["known_caller"].split("{")[0])
    assert last_said_after(call, "8") == [prompt("fr", "pace_normal"),
                                          prompt("fr", "menu_after_balance")]
    assert spoken_slowly(call.answers[2][1]) and not spoken_slowly(call.answers[-2][1])


async def test_eight_while_typing_the_code_is_no_failed_code(line):
    call = await line.call("2", "12#", "8#", unknown_code() + "#", "", "0")
    assert call.said_after("8") == [prompt("fr", "pace_slow"), prompt("fr", "ask_ean_again")]
    # Three failed codes (12, the unknown one, the silence): 8 was not one of them.
    assert call.said_after("") == [prompt("fr", "too_many_failures"),
                                   prompt("fr", "offer_customer_service")]


async def test_eight_at_the_language_menu_says_the_languages_again_slowly(line):
    call = await line.call("8", "1", CODE[State.LOW] + "#", "0")
    assert call.said_after("8") == [prompt(language, "language_option") for language in LANGUAGES]
    assert spoken_slowly(call.answers[1][1])
    assert all(spoken_slowly(body) for _, body in call.answers[1:])


# A broken database -------------------------------------------------------------------------------

async def break_database(ledger: Ledger) -> None:
    """The database file becomes unreadable: closed, then overwritten with what is no SQLite."""
    await ledger.close()
    path = Path(ledger.engine.url.database)
    for part in path.parent.glob(path.name + "-*"):
        part.unlink()
    path.write_bytes(b"this is not a database " * 512)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_database_error_at_the_code_step_speaks_an_apology(line, language):
    async def code_after_breaking(_prompt: str) -> str:
        await break_database(line.ledger)
        return CODE[State.NORMAL] + "#"

    call = await line.call(LANGUAGE_KEY[language], code_after_breaking)

    assert call.said_after(CODE[State.NORMAL]) == [
        prompt(language, "technical_problem"), prompt(language, "customer_service"),
        prompt(language, "goodbye")]
    assert CUSTOMER_SERVICE[language] in call.said[-2]
    assert_in_language(call, language, start=WELCOME_SENTENCES)
    assert call.transcript[-1] == ("hangup",)


async def test_a_database_error_on_repeat_speaks_an_apology(line):
    async def repeat_after_breaking(_prompt: str) -> str:
        await break_database(line.ledger)
        return "1"

    call = await line.call("3", CODE[State.LOW] + "#", repeat_after_breaking)

    assert call.said[-3:] == [prompt("de", "technical_problem"), prompt("de", "customer_service"),
                              prompt("de", "goodbye")]
    assert call.transcript[-1] == ("hangup",)


async def test_a_line_pointed_at_a_deleted_database_apologises(tmp_path):
    path = tmp_path / "gone.db"
    ledger = await Ledger.open(_url(path), clock=SettableClock(SATURDAY))
    await ledger.close()
    for part in tmp_path.glob("gone.db*"):
        part.unlink()
    path.mkdir()  # where the file was, now nothing SQLite can open
    answers = []
    try:
        async with logged_server(mount(ledger, answers)) as server:
            call = await Switchboard(str(server.make_url("")), ledger, answers).call()
    finally:
        await ledger.close()
    # told as the call is answered (the look-up limits are read then), in the three languages,
    # without a menu to wait through first
    assert call.said == [prompt(language, key) for language in ("fr", "nl", "de")
                         for key in ("technical_problem", "customer_service", "goodbye")]
    assert call.gathers == []
    for language in ("fr", "nl", "de"):
        assert CUSTOMER_SERVICE[language] in " ".join(call.said)


# A cut meter: what restores it first, the debt, and the button last -------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_cut_meter_hears_what_restores_it_first_and_the_button_last(line, language):
    pieter = CUSTOMER[State.DISCONNECTED]            # gas, cut at −16,20 €
    await line.ledger.add_payment_plan(pieter.ean, 15_00, 5_00, "test-prior-debt")
    call = await line.call(LANGUAGE_KEY[language], CODE[State.DISCONNECTED] + "#", "0")
    say = PROMPTS[language].say
    amounts = AMOUNTS[language][State.DISCONNECTED]
    fifteen, five = {"fr": ("quinze euros", "cinq euros"), "nl": ("vijftien euro", "vijf euro"),
                     "de": ("fünfzehn Euro", "fünf Euro")}[language]
    message = call.said_after(CODE[State.DISCONNECTED])[:-1]
    assert message[0] == say("disconnected_gas", amount=amounts[1])  # cut, and what restores it
    assert message[1] == say("balance", amount=amounts[0])
    assert message[2].startswith(head(language, "as_of"))
    assert message[3:] == [say("debt", amount=fifteen, daily=five), prompt(language, "button_gas")]
    assert CUT_WORD[language] in message[0]


# A caller locked out is told at once, before any menu, and for how long ---------------------------

LOCKED_FOR = {   # rounded up to five minutes
    60: {"fr": "dans une heure", "nl": "over één uur", "de": "warten Sie bitte eine Stunde"},
    38: {"fr": "dans quarante minutes", "nl": "over veertig minuten",
         "de": "warten Sie bitte vierzig Minuten"},
}


async def lock_out(line: Switchboard) -> Call:
    """Five unknown codes in two calls (three a call at most): the caller is locked out for an
    hour, and told so on the sixth try, in the call's language."""
    first = await line.call("2", *[unknown_code() + "#"] * 3, "0")  # no customer service
    assert first.said[-3] == prompt("fr", "too_many_failures")
    return await line.call("1", *[unknown_code() + "#"] * 3)


async def test_a_caller_locked_out_mid_call_is_told_how_long(line):
    second = await lock_out(line)
    said = second.said_after(unknown_code(), occurrence=2)
    assert said[0] == PROMPTS["nl"].say("locked_out", wait="één uur")
    assert said[1:] == [prompt("nl", "customer_service"), prompt("nl", "goodbye")]
    assert second.transcript[-1] == ("hangup",)


@pytest.mark.parametrize("minutes_later, left", [(0, 60), (22, 38)])
async def test_a_locked_out_caller_is_told_at_once_in_three_languages(line, minutes_later, left):
    await lock_out(line)
    line.ledger.clock.advance(timedelta(minutes=minutes_later))
    call = await line.call()   # no key is asked for

    assert call.gathers == []   # no greeting menu, no language to choose first
    assert prompt("fr", "greeting") not in call.said
    assert [language for _, language, _ in call.heard] == (
        [VOICES["fr"].language] * 3 + [VOICES["nl"].language] * 3 + [VOICES["de"].language] * 3)
    for i, language in enumerate(("fr", "nl", "de")):
        locked, service, bye = call.said[3 * i: 3 * i + 3]
        assert locked.startswith(head(language, "locked_out"))
        assert LOCKED_FOR[left][language] in locked
        assert service == prompt(language, "customer_service_short")
        assert CUSTOMER_SERVICE[language] in service
        assert bye == prompt(language, "goodbye")
    trail = await line.ledger.audit_trail()
    assert trail[0]["outcome"] == "locked_out"

    line.ledger.clock.advance(timedelta(minutes=left))   # once the hour is over: the menu again
    again = await line.call("2", CODE[State.NORMAL] + "#", "0")
    assert_welcome(again)
    assert AMOUNTS["fr"][State.NORMAL][0] in again.said_after(CODE[State.NORMAL])[0]
