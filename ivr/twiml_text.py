"""A TwiML document as text, written straight from the twilio library's objects.

The library writes a document through xml.etree.ElementTree: an element tree built, then written
a fragment at a time — about a tenth of a balance-line answer's CPU under load (bench/
ivr_webhooks.py, 7 December 2026). This writes the same characters (tests/unit/test_twiml_text.py
compares the two on generated documents) in one pass over the same objects, which stay the
library's: its verbs, nouns and attribute names.
"""

import json
from collections.abc import Iterable

from twilio.twiml import TwiML

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                            "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"})


def _escaped(text: str, table: dict[int, str]) -> str:
    # str.translate looks every character up: 15 µs for a French sentence, a tenth of a balance
    # answer's CPU (bench/ivr_webhooks.py --profile); most have nothing to escape.
    for special in table:
        if chr(special) in text:
            return text.translate(table)
    return text


def says(sentences: Iterable[str], *, voice: str, language: str, rate: str | None = None) -> str:
    """What `_write` gives for one <Say voice language> a sentence (in a <prosody rate> when a
    rate is given), without building the library's objects: a balance answer says five or six."""
    opening = (f'<Say language="{_escaped(language, _ATTRIBUTE)}" '
               f'voice="{_escaped(voice, _ATTRIBUTE)}"')
    if rate is None:
        return "".join(f"{opening}>{_escaped(text, _TEXT)}</Say>" if text else f"{opening} />"
                       for text in sentences)
    prosody = f'<prosody rate="{_escaped(rate, _ATTRIBUTE)}"'
    return "".join(f"{opening}>{prosody}>{_escaped(text, _TEXT)}</prosody></Say>" if text
                   else f"{opening}>{prosody} /></Say>" for text in sentences)


def document(response: TwiML) -> str:
    """What str(response) gives."""
    parts = [DECLARATION]
    _write(response, parts)
    return "".join(parts)


def _write(node: TwiML, parts: list[str]) -> None:
    # As TwiML.xml() builds its element: sorted attributes, booleans in lower case; the value
    # as text, a string verb as the text (or the previous child's tail), the last one winning.
    text = node.value if node.value else None
    if isinstance(text, dict):
        text = json.dumps(text)
    children: list[list] = []  # [child, tail]
    for verb in node.verbs:
        if isinstance(verb, str):
            if children:
                children[-1][1] = verb
            else:
                text = verb
        else:
            children.append([verb, None])
    parts.append(f"<{node.name}")
    for name in sorted(node.attrs):
        value = node.attrs[name]
        value = str(value).lower() if isinstance(value, bool) else str(value)
        parts.append(f' {name}="{_escaped(value, _ATTRIBUTE)}"')
    if not text and not children:
        parts.append(" />")
        return
    parts.append(">")
    if text:
        parts.append(_escaped(text, _TEXT))
    for child, tail in children:
        _write(child, parts)
        if tail:
            parts.append(_escaped(tail, _TEXT))
    parts.append(f"</{node.name}>")
