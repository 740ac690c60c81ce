"""The call, step by step, as TwiML documents: data in, XML out. No I/O.

Each step answers one webhook. What a later step needs (the language, how many tries failed)
travels in the action URL's query; the EAN never does (URLs end up in access logs).
"""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from ledger import DEFAULT_LANGUAGE, LANGUAGES

from .heard import hints
from .opening import CustomerService
from .prompts import Prompts
from .script import (
    LANGUAGE_MENU,
    language_menu,
    technical_problem_script,
)
from .twiml_text import document, says

MAX_FAILURES = 3
GATHER_SECONDS = 8  # elderly callers type slowly: time between keys before Twilio gives up
SLOW_GATHER_SECONDS = 15  # for a caller who asked for the slower voice (menu key 8)
SLOW_RATE = "80%"  # SSML <prosody rate>: the Polly voices at four fifths of their speed
TRANSFER_RING_SECONDS = 60  # how long customer service may take to pick up
# Twilio's DialCallStatus when the transferred call took place (not busy, no-answer, failed).
TRANSFER_HELD = frozenset({"completed", "answered"})


@dataclass(frozen=True)
class Voice:
    name: str  # e.g. Polly.Isabelle-Neural
    language: str  # e.g. fr-BE
    slow: bool = False  # the caller asked for a slower voice (8): slower speech, longer waits

    def slower(self, slow: bool = True) -> "Voice":
        return replace(self, slow=slow)

    @property
    def gather_seconds(self) -> int:
        return SLOW_GATHER_SECONDS if self.slow else GATHER_SECONDS


@dataclass(frozen=True)
class Steps:
    """Where Twilio posts each step of a call: the line's named routes as mounted (ivr/app.py
    builds them from its router), so that no path is written twice."""

    answer: str
    language: str
    ask: str
    ean: str
    menu: str
    transferred: str
    known: str
    alerts: str


def url(path: str, **query: object) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def _next(path: str, voice: Voice, **query: object) -> str:
    """A step's URL, carrying the slower voice when the caller asked for it."""
    return url(path, **query, **({"slow": 1} if voice.slow else {}))


def _say_all(target: VoiceResponse | Gather, sentences: Sequence[str], voice: Voice) -> None:
    for sentence in sentences:
        if voice.slow:
            target.say(voice=voice.name, language=voice.language).prosody(sentence,
                                                                          rate=SLOW_RATE)
        else:
            target.say(sentence, voice=voice.name, language=voice.language)


def welcome(steps: Steps, prompts: Mapping[str, Prompts], voices: Mapping[str, Voice],
            tries: int) -> str:
    """The greeting and '1 Nederlands, 2 Français, 3 Deutsch', each in its own voice. Without a
    key, once more; then French."""
    response = VoiceResponse()
    pace = next(iter(voices.values()))
    gather = response.gather(num_digits=1, timeout=pace.gather_seconds,
                             action=_next(steps.language, pace, tries=tries))
    if tries == 1:
        for language in LANGUAGES:
            _say_all(gather, [prompts[language].say("greeting")], voices[language])
    for _key, language, text in language_menu(prompts):
        _say_all(gather, [text], voices[language])
    if tries < 2:
        response.redirect(_next(steps.answer, pace, tries=tries + 1))
    else:
        response.redirect(_next(steps.ask, pace, lang=DEFAULT_LANGUAGE, failures=0))
    return document(response)


def language_of(digits: str) -> str | None:
    return dict(LANGUAGE_MENU).get(digits)


def ask_for_ean(steps: Steps, prompts: Prompts, voice: Voice, failures: int,
                before: Sequence[str] = ()) -> str:
    """'Type the last 13 digits of the EAN code, then #' — after a failure, the shorter reminder
    (`before` explains what went wrong). Silence comes back as empty digits."""
    response = VoiceResponse()
    # No numDigits: the last 13 digits or the whole EAN of the invoice (18), then '#', both reach
    # the ean step whole. With numDigits=18, the '#' pressed out of habit after 18 digits would land
    # in the next <Gather> and end it as silence.
    # Typed or said: a code said comes as the recogniser's words (ivr/heard.py reads them).
    gather = response.gather(input="dtmf speech", language=voice.language,
                             hints=hints(prompts.language), speech_timeout="auto",
                             finish_on_key="#", timeout=voice.gather_seconds,
                             action=_next(steps.ean, voice, lang=prompts.language,
                                          failures=failures),
                             action_on_empty_result=True)
    _say_all(gather, [*before, prompts.say("ask_ean_again" if failures else "ask_ean")], voice)
    return document(response)


def known_caller(steps: Steps, prompts: Prompts, voice: Voice, sentences: Sequence[str]) -> str:
    """The caller's meters on file, and four digits to type as the proof; '#' alone (or
    silence) goes on to the thirteen digits."""
    response = VoiceResponse()
    gather = response.gather(finish_on_key="#", timeout=voice.gather_seconds,
                             action=_next(steps.known, voice, lang=prompts.language),
                             action_on_empty_result=True)
    _say_all(gather, sentences, voice)
    return document(response)


def alerts_step(steps: Steps, prompts: Prompts, voice: Voice, sentences: Sequence[str],
                step: str, **query: object) -> str:
    """One question of the low-credit alert's settings (menu 5), one key for the answer;
    silence leaves them as they were."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, timeout=voice.gather_seconds,
                             action=_next(steps.alerts, voice, lang=prompts.language, step=step,
                                          **query))
    _say_all(gather, sentences, voice)
    response.redirect(_next(steps.alerts, voice, lang=prompts.language, step="cancel"))
    return document(response)


def ean_problem(steps: Steps, prompts: Prompts, voice: Voice, failures: int,
                problem_key: str, closed: Sequence[str] | None) -> str:
    """Explain, and ask again — or, after three failures, offer customer service: 9 to be put
    through while it is open, else `closed` (when it opens, how to top up meanwhile)."""
    if failures >= MAX_FAILURES:
        return offer_customer_service(steps, prompts, voice, [prompts.say("too_many_failures")],
                                      closed)
    return ask_for_ean(steps, prompts, voice, failures, before=[prompts.say(problem_key)])


def offer_customer_service(steps: Steps, prompts: Prompts, voice: Voice,
                           before: Sequence[str], closed: Sequence[str] | None) -> str:
    """Open (`closed` is None): '9 to speak to customer service' (the menu's 9 puts the call
    through), silence says goodbye. Closed: when it opens, its number, goodbye."""
    response = VoiceResponse()
    if closed is not None:
        _say_all(response, [*before, *closed, prompts.say("customer_service"),
                            prompts.say("goodbye")], voice)
        response.hangup()
        return document(response)
    gather = response.gather(num_digits=1, timeout=voice.gather_seconds,
                             action=_next(steps.menu, voice, lang=prompts.language))
    _say_all(gather, [*before, prompts.say("offer_customer_service")], voice)
    _say_all(response, [prompts.say("goodbye")], voice)
    response.hangup()
    return document(response)


def transfer(steps: Steps, prompts: Prompts, voice: Voice, service: CustomerService) -> str:
    """'Putting you through', and the call transferred to customer service, its menu's keys
    pressed for the caller; how the transfer ended comes to the `transferred` step."""
    response = VoiceResponse()
    _say_all(response, [prompts.say("transferring")], voice)
    dial = response.dial(action=_next(steps.transferred, voice, lang=prompts.language),
                         timeout=TRANSFER_RING_SECONDS)
    dial.number(service.dialled(), send_digits=service.keys or None)
    return document(response)


def transfer_ended(prompts: Prompts, voice: Voice, status: str) -> str:
    """After the conversation, the call ends; a transfer nobody took says so, and the number."""
    if status in TRANSFER_HELD:
        response = VoiceResponse()
        response.hangup()
        return document(response)
    return goodbye(prompts, voice, [prompts.say("transfer_failed"),
                                    prompts.say("customer_service_short"),
                                    prompts.say("goodbye")])


def balance(steps: Steps, prompts: Prompts, voice: Voice, sentences: Sequence[str]) -> str:
    """The balance message, then the menu: 1 repeat, 2 another meter, 3 how to top up, 0 end."""
    before, after = _balance_frame(steps, prompts.language, prompts.say("menu_after_balance"),
                                   voice)
    return before + _says(sentences, voice) + after


@functools.lru_cache(maxsize=64)
def _balance_frame(steps: Steps, language: str, menu: str, voice: Voice) -> tuple[str, str]:
    """The balance answer's document around its sentences, which are all that changes from one
    caller to the next: built with the library once per language and voice, then split where a
    marker sentence stands (the library's objects cost half of a balance answer's TwiML)."""
    response = VoiceResponse()
    _say_all(response, [_MARKER], voice)
    gather = response.gather(num_digits=1, timeout=voice.gather_seconds,
                             action=_next(steps.menu, voice, lang=language))
    _say_all(gather, [menu], voice)
    response.redirect(_next(steps.menu, voice, lang=language))
    before, marker, after = document(response).partition(_says([_MARKER], voice))
    if not marker:
        raise RuntimeError("the balance answer's frame: its marker <Say> was not found")
    return before, after


_MARKER = "\x00marker"  # no prompt holds a NUL


def _says(sentences: Sequence[str], voice: Voice) -> str:
    """`_say_all`'s elements as text."""
    return says(sentences, voice=voice.name, language=voice.language,
                rate=SLOW_RATE if voice.slow else None)


def goodbye(prompts: Prompts, voice: Voice, sentences: Sequence[str] = ()) -> str:
    """`sentences` end with their own farewell; without them, just goodbye."""
    response = VoiceResponse()
    _say_all(response, sentences or [prompts.say("goodbye")], voice)
    response.hangup()
    return document(response)


def locked_out_at_once(sentences: Sequence[tuple[str, str]], voices: Mapping[str, Voice]) -> str:
    """A caller still locked out, told as the call is answered, before any menu: `sentences` are
    (language, text) pairs (script.locked_out_greeting), each said in its language's voice."""
    response = VoiceResponse()
    for language, text in sentences:
        _say_all(response, [text], voices[language])
    response.hangup()
    return document(response)


def line_unavailable(prompts: Mapping[str, Prompts], voices: Mapping[str, Voice]) -> str:
    """What Twilio plays when no server of the line answers (a TwiML Bin as the number's
    fallback, `saldo fallback-twiml`): the apology and the customer service, in each language."""
    response = VoiceResponse()
    for language in LANGUAGES:
        _say_all(response, technical_problem_script(prompts[language]), voices[language])
    response.hangup()
    return document(response)


def technical_problem(prompts: Prompts, voice: Voice) -> str:
    """Never Twilio's 'application error': an apology and the customer-service number."""
    return goodbye(prompts, voice, technical_problem_script(prompts))
