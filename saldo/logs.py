"""Logging for a service: JSON lines on standard error, with a safety net against personal data.

The code does not log names, phone numbers, e-mail addresses or EANs. In case it slips, the
one handler's `RedactPersonalData` filter masks, in the final message and exception text,
whatever is shaped like them (it cannot recognise a name). A masked value shows the net caught
something the code should not have logged; the audit trail, not the log, says which meter.
"""

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

# They log statements, envelopes and request URLs with customers' data in them.
CHATTY_LOGGERS = ("aiosqlite", "sqlalchemy", "aiosmtplib", "twilio", "mail.log")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_SEPARATOR = r"[ ./-]?"


def _last_four(kind: str):
    # What logs may show of an EAN (ledger.ean.masked): its last 4 digits, never the whole code.
    return lambda match: f"[{kind} …{match.group()[-4:]}]"


# (kind, shape, mask), applied in this order: an e-mail address may hold digits, and an EAN's
# last 13 digits must not be taken for a code of their own.
SHAPES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    ("e-mail", re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"), lambda _: "[e-mail]"),
    ("EAN", re.compile(r"(?<!\d)54\d{16}(?!\d)"), _last_four("EAN")),
    ("13 digits", re.compile(r"(?<!\d)\d{13}(?!\d)"), _last_four("13 digits")),
    # +32 470 12 34 56, 0032…, and any other number in international form.
    ("phone", re.compile(rf"(?:\+|(?<!\d)00)[1-9](?:{_SEPARATOR}\d){{7,14}}(?!\d)"),
     lambda _: "[phone]"),
    # A Belgian mobile written nationally: 0470 12 34 56, 0470/12.34.56, 0470123456.
    ("phone", re.compile(rf"(?<!\d)04\d\d{_SEPARATOR}\d\d{_SEPARATOR}\d\d{_SEPARATOR}\d\d(?!\d)"),
     lambda _: "[phone]"),
)


# Twilio's resource ids (SM…, CA…, AC…: two capitals and 32 hex digits) are not personal data,
# but one in 25 holds 13 decimal digits in a row: they are left whole.
_TWILIO_SID = re.compile(r"(?<![0-9A-Za-z])([A-Z]{2}[0-9a-f]{32})(?![0-9A-Za-z])")


def _outside_sids(text: str, each: Callable[[str], str]) -> str:
    pieces = _TWILIO_SID.split(text)  # the SIDs at odd places
    return "".join(piece if place % 2 else each(piece) for place, piece in enumerate(pieces))


# What every shape holds (an "@", or eight digits, single separators allowed between them):
# most lines hold neither — an access line, "POST /voice/ean 200 12.3 ms" — and are let through
# after one search, instead of the shapes' nine (half a line's cost on the free line).
_MAYBE_PERSONAL = re.compile(rf"@|\d(?:{_SEPARATOR}\d){{7}}")


def _masked(text: str) -> tuple[str, list[str]]:
    """The text masked, and the kinds of personal data found in it."""
    if _MAYBE_PERSONAL.search(text) is None:
        return text, []
    return _masked_by_every_shape(text)


def _masked_by_every_shape(text: str) -> tuple[str, list[str]]:
    found: list[str] = []

    def apply(piece: str, shapes) -> str:
        for kind, shape, mask in shapes:
            piece, count = shape.subn(mask, piece)
            if count and kind not in found:
                found.append(kind)
        return piece

    # E-mail addresses (first in SHAPES) over the whole text, since one may hold an id's shape;
    # the other shapes around the ids.
    text = apply(text, SHAPES[:1])
    return _outside_sids(text, lambda piece: apply(piece, SHAPES[1:])), found


def redact(text: str) -> str:
    """The text with everything shaped like personal data masked."""
    return _masked(text)[0]


def personal_data_in(text: str) -> list[str]:
    """The kinds of personal data the text seems to hold (e-mail, EAN, 13 digits, phone)."""
    return _masked(text)[1]


class RedactPersonalData(logging.Filter):
    """On a handler: masks personal data in the record's final message, exception and stack.

    The record is changed in place (Python 3.11 has no filter returning a copy): its message
    becomes the redacted final text, without arguments. Handlers after this one see it so.
    """

    _exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, masked
            message = f"{record.msg} % {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


class MalformedRequests(logging.Filter):
    """On aiohttp's server logger: a request aiohttp could not parse (a bad request line, header
    or body framing — the client's doing, answered 400 and written to the access log), and the
    rest of a body that does not decode (a compressed or chunked body, read again by aiohttp
    after the answer), become a warning naming the kind of error, without aiohttp's traceback
    and without the bytes received (they may hold anything). aiohttp logs them as errors with
    their stack (at debug level for what is not HTTP at all, kept at debug here). An error a
    handler raised is left as it is: that is a 500, a fault of ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        message = str(record.msg)
        if isinstance(error, HttpProcessingError) and message.startswith(
                "Error handling request") and not _raised_in_a_handler(error):
            text, kind = "malformed HTTP request (%s): answered 400", type(error).__name__
        elif isinstance(error, RequestPayloadError) and message == "Unhandled exception":
            text = "a request body that does not decode (%s): connection closed"
            kind = type(error.__cause__ or error).__name__
        else:
            return True
        record.msg, record.args = text, (kind,)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _raised_in_a_handler(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_name == "_handle_request":
            return True
        traceback = traceback.tb_next
    return False


_MALFORMED_REQUESTS = MalformedRequests()


def quiet_malformed_requests() -> None:
    """Installs MalformedRequests on aiohttp's server logger (once, however often called)."""
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED_REQUESTS)


def configure_logging(level: str, *, json_lines: bool = True,
                      stream: TextIO | None = None) -> None:
    """The process's logging: one handler on the root logger, at `level`, writing `stream`
    (standard error by default) as JSON lines, or as text for a person at a terminal; the
    redacting filter on it; the chatty libraries quieted to warnings; a malformed request a
    warning without a traceback (MalformedRequests).

    Like `logging.basicConfig`, it leaves alone a root logger that already has handlers (the
    test runner's, an embedding program's); the libraries are quieted all the same.
    """
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    quiet_malformed_requests()
    root = logging.getLogger()
    if root.handlers:
        return
    # No line shows a thread's or a process's name: not looked up for each record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    if json_lines:
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactPersonalData())
    root.addHandler(handler)
    root.setLevel(level)
