"""E-mail subjects arrive as they were written: folded into RFC 2047 encoded words, a long subject
keeps every space and every accent wherever its fold falls, in the three languages."""

import email
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from ledger import AUDIENCES
from ledger.events import EVENT_TYPES
from messaging.mail import build_email
from messaging.render import Email, MessageTemplates
from messaging.routing import message_channels
from tests.unit.test_message_templates import make

LOCALES = Path(__file__).resolve().parents[2] / "locales"
LANGUAGES = ("fr", "nl", "de")
# Wednesday 2 December 2026 16:00, the CI failure; and March (März, maart, mars).
MOMENTS = [datetime(2026, 12, 2, 15, 0, tzinfo=UTC), datetime(2027, 3, 3, 18, 45, tzinfo=UTC)]


@pytest.fixture(scope="module")
def templates() -> MessageTemplates:
    return MessageTemplates.load(LOCALES)


def real_subjects(templates: MessageTemplates, language: str) -> list[str]:
    subjects = set()
    for name in EVENT_TYPES:
        for audience in AUDIENCES:
            if "email" not in message_channels(name).get(audience, ()):
                continue
            for energy in ("electricity", "gas"):
                for at in MOMENTS:
                    event = make(name, energy=energy, language=language, at=at)
                    subjects.add(templates.email(event, audience=audience).subject)
    return sorted(subjects)


def on_the_wire(subject: str) -> bytes:
    message = build_email(Email(subject=subject, text="x\n", html="<p>x</p>\n"),
                          sender="saldo@example.invalid", to="resident@example.invalid",
                          message_id="<saldo-message-1@example.invalid>")
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Subject:"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i][:1].isspace()), len(lines))
    return lines[start:end]


def rotations(subject: str) -> list[str]:
    """The same words and accents with the fold falling at every position of the text."""
    return [subject[k:] + " " + subject[:k] for k in range(len(subject))]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_subject_arrives_as_written_wherever_it_folds(templates, language):
    checked = 0
    for subject in real_subjects(templates, language):
        for variant in [subject, *rotations(subject)]:
            variant = " ".join(variant.split())  # what the renderer makes: single spaces
            raw = on_the_wire(variant)
            lines = header_lines(raw)
            assert all(len(line) <= 78 for line in lines), lines
            assert all(line.isascii() for line in lines)
            received = email.message_from_bytes(raw, policy=policy.default)["Subject"]
            assert received == variant, (variant, lines)
            # A reader that decodes the words the old way (compat32) sees the same text.
            unfolded = b"".join(lines).decode("ascii").partition(": ")[2]
            assert str(make_header(decode_header(unfolded))) == variant
            checked += 1
    assert checked > 1000  # every template, several months, every fold position


def test_the_cpas_subject_that_reached_an_inbox_as_2decembre(templates):
    event = make("DisconnectionPending", language="fr", at=MOMENTS[0] - timedelta(hours=6),
                 disconnect_at=MOMENTS[0])
    subject = templates.email(event, audience="cpas").subject
    assert "2 décembre 2026" in subject
    raw = on_the_wire(subject)
    assert len(header_lines(raw)) > 1  # long enough to fold
    assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == subject


def test_a_short_ascii_subject_stays_readable_on_the_wire():
    raw = on_the_wire("Saldo laag")
    assert header_lines(raw) == [b"Subject: Saldo laag"]
