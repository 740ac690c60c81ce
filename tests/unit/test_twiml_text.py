"""ivr/twiml_text.py writes exactly what the twilio library writes, for any document the
library can build: generated verbs, attributes and texts (markup, quotes, line breaks, accents)."""

from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.twiml_text import document

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
