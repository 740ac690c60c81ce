"""ivr/twiml_text.py writes exactly what the twilio library writes, for any document the
library can build: generated verbs, attributes and texts (markup, quotes, line breaks, accents)."""

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr import flow
from ivr.flow import Steps, Voice
from ivr.prompts import load_prompts
from ivr.twiml_text import DECLARATION, document, says
from ledger import LANGUAGES

LOCALES = Path(__file__).resolve().parents[2] / "locales"

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=30)
values = st.one_of(texts, st.booleans(), st.integers(-5, 100))
attributes = st.dictionaries(st.sampled_from(["voice", "language", "action", "timeout",
                                              "num_digits", "input", "loop", "hints"]),
                             values, max_size=4)


@st.composite
def documents(draw) -> VoiceResponse:
    response = VoiceResponse()
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["say", "pause", "redirect", "gather", "text"]))
        if kind == "say":
            say = response.say(draw(texts), **draw(attributes))
            if draw(st.booleans()):
                say.prosody(draw(texts), rate=draw(st.sampled_from(["80%", "fast"])))
                if draw(st.booleans()):
                    say.append(draw(texts))  # a tail after the prosody
        elif kind == "pause":
            response.pause(length=draw(st.integers(1, 5)))
        elif kind == "redirect":
            response.redirect(draw(texts), method=draw(st.sampled_from(["POST", None])))
        elif kind == "gather":
            gather = Gather(**draw(attributes))
            for _ in range(draw(st.integers(0, 3))):
                gather.say(draw(texts), **draw(attributes))
            response.append(gather)
        else:
            response.append(draw(texts))
    return response


@given(documents())
def test_the_same_characters_as_the_library(response):
    assert document(response) == str(response)


def test_an_empty_say_and_a_json_value():
    response = VoiceResponse()
    response.say("")
    response.add_child("Custom", {"a": "<b>"})
    assert document(response) == str(response)


def _said_by_library(sentences, voice: str, language: str, rate: str | None) -> str:
    response = VoiceResponse()
    for text in sentences:
        if rate:
            response.say(voice=voice, language=language).prosody(text, rate=rate)
        else:
            response.say(text, voice=voice, language=language)
    return str(response)


@given(st.lists(texts, max_size=4), texts, texts, st.sampled_from([None, "80%", '"<&>']))
def test_says_writes_the_librarys_say_elements(sentences, voice, language, rate):
    elements = says(sentences, voice=voice, language=language, rate=rate)
    written = f"{DECLARATION}<Response>{elements}</Response>" if sentences else document(
        VoiceResponse())
    assert written == _said_by_library(sentences, voice, language, rate)


STEPS = Steps(*(f"/voice/{name}" for name in ("answer", "language", "ask", "ean", "menu",
                                              "transferred", "known", "alerts")))


@given(st.lists(texts, min_size=1, max_size=6), st.booleans(), st.sampled_from(LANGUAGES))
def test_the_balance_answer_is_the_librarys_document(sentences, slow, language):
    """flow.balance writes the sentences into a frame the library built once: the same
    characters as the library building the whole answer."""
    prompts = load_prompts(LOCALES)[language]
    voice = Voice("Polly.Test-Neural", f"{language}-BE", slow=slow)
    response = VoiceResponse()
    flow._say_all(response, sentences, voice)
    gather = response.gather(num_digits=1, timeout=voice.gather_seconds,
                             action=f"/voice/menu?lang={language}" + ("&slow=1" if slow else ""))
    flow._say_all(gather, [prompts.say("menu_after_balance")], voice)
    response.redirect(f"/voice/menu?lang={language}" + ("&slow=1" if slow else ""))
    assert flow.balance(STEPS, prompts, voice, sentences) == str(response)
