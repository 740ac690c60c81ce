"""What every step of a call reads and answers: its language and voice, the form's counts, the
call's identity, what this call already heard, the meters of the calling number; the audit
trail's actions of the line. Shared by the line's handlers (ivr/app.py, ivr/alerts.py)."""

from datetime import timedelta

from aiohttp import web

from ledger import DEFAULT_LANGUAGE, LANGUAGES
from ledger.ean import is_digits

from . import flow
from .limits import caller_identity
from .line import LINE, Line

# The audit trail's actions: a code typed and looked up, and a balance heard again (menu 1,
# which is not another look-up: it counts toward no limit).
LOOKUP, REPEAT = "ivr-balance", "ivr-repeat"
TRANSFER = "ivr-customer-service"  # menu 9: put through, or told when it opens
# Key 8 at any step: the slower voice, or back to the normal one; the latest choice of a caller
# number is its voice on its next calls (read from the trail, as every server can).
PACE, SLOWER = "ivr-pace", "8"
REMEMBERED_PACE = timedelta(days=365)
CONFIRMATION_DIGITS = 4  # a known caller's proof: the last four digits of the meter's code
# Every unknown code is also written under one actor of its own, so that every server counts the
# unknown codes of the last minute, all callers together (the ceiling, LookupRules).
ALL_CALLERS, UNKNOWN_CODE = "ivr:all-callers", "ivr-unknown-code"
CEILING_REACHED = "ceiling"  # the audit outcome of a look-up refused by the ceiling
LONGEST_CALL = timedelta(hours=4)  # Twilio ends a call after four hours


def twiml(document: str) -> web.Response:
    return web.Response(text=document, content_type="text/xml")


def step_language(request: web.Request) -> str:
    language = request.query.get("lang", DEFAULT_LANGUAGE)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def voice_of(request: web.Request, language: str, slow: bool | None = None) -> flow.Voice:
    """The language's voice, slower if the call asked for it (its steps carry slow=1)."""
    slow = request.query.get("slow") == "1" if slow is None else slow
    return request.app[LINE].config.voices[language].slower(slow)


def voices_of(request: web.Request, slow: bool | None = None) -> dict[str, flow.Voice]:
    return {language: voice_of(request, language, slow) for language in LANGUAGES}


def count_of(request: web.Request, name: str) -> int:
    value = request.query.get(name, "")
    return int(value) if is_digits(value) and len(value) < 3 else 0


# The look-up outcomes counted, by the problem's prompt key.
OUTCOMES = {"code_unknown": "unknown", "code_mistyped": "mistyped",
             "nothing_heard": "nothing_heard"}


def counted(request: web.Request, outcome: str, response: web.Response) -> web.Response:
    """Counts a look-up's outcome once its answer is ready (when the app has metrics: the line
    alone, in tests, has none)."""
    metrics = request.app[LINE].metrics
    if metrics is not None:
        metrics.looked_up(outcome)
    return response


def call_of(form) -> str:
    return f"call:{form.get('CallSid', '')}"


async def meters_of_caller(request: web.Request, form) -> list[tuple[str, str]]:
    """The meters whose mobile on file is the calling number (none for a withheld one)."""
    line = request.app[LINE]
    number = caller_identity(form.get("From", ""), form.get("CallSid", ""))
    if not number.startswith("+"):
        return []
    return await line.ledger(request).meters_of_caller(number, actor=line.caller(form),
                                                       detail=call_of(form))


async def found_in_this_call(request: web.Request, line: Line, form) -> str | None:
    """The meter this call last heard of, from the audit trail: any server of the line may
    answer the next step of a call."""
    call = call_of(form)
    ledger = line.ledger(request)
    since = ledger.clock.now() - LONGEST_CALL  # the ledger's: the trail's times are its own
    found = [lookup.ean for lookup in await ledger.lookups_by(
        line.caller(form), LOOKUP, since=since) if lookup.detail == call and lookup.outcome == "found"]
    return found[-1] if found else None


async def change_pace(request: web.Request, form) -> bool:
    """Key 8: the other pace, written to the trail for this caller's next calls; returns
    whether it is now slow."""
    line = request.app[LINE]
    slow = request.query.get("slow") != "1"
    await line.ledger(request).audit(actor=line.caller(form), action=PACE, ean=None,
                                     outcome="slow" if slow else "normal", detail=call_of(form))
    return slow
