"""The balance line's webhooks: a sub-app behind the Twilio signature check. Thin: each handler
reads the form, asks the ledger's balance view, and returns what ivr/flow.py builds."""

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from aiohttp import web

from ledger import DEFAULT_LANGUAGE, InvalidInput, Ledger, Lookup, UnknownAccount
from ledger.ean import FULL_LENGTH, SHORT_LENGTH, is_digits, is_valid_full
from webhooks import form_of, signature_middleware

from . import flow
from .alerts import alerts
from .calling import (
    ALL_CALLERS,
    CEILING_REACHED,
    CONFIRMATION_DIGITS,
    LOOKUP,
    OUTCOMES,
    PACE,
    REMEMBERED_PACE,
    REPEAT,
    SLOWER,
    TRANSFER,
    UNKNOWN_CODE,
    call_of,
    change_pace,
    count_of,
    counted,
    found_in_this_call,
    meters_of_caller,
    step_language,
    twiml,
    voice_of,
    voices_of,
)
from .heard import digits_heard
from .limits import CEILING_WINDOW, ceiling_until, refused_until
from .line import LINE, Line, LineConfig, LineMetrics
from .prompts import load_prompts
from .script import (
    MENU_ALERTS,
    MENU_ANOTHER_METER,
    MENU_BY_SMS,
    MENU_CUSTOMER_SERVICE,
    MENU_END,
    MENU_HOW_TO_TOP_UP,
    MENU_REPEAT,
    balance_script,
    closed_script,
    known_caller_script,
    locked_out_greeting,
    locked_out_script,
)
from .spoken import load_vocabularies

log = logging.getLogger("saldo.ivr")


def _slow_chosen(chosen: Sequence[Lookup]) -> bool:
    """Whether the caller's latest choice of pace (of REMEMBERED_PACE) was the slower voice."""
    return bool(chosen) and chosen[-1].outcome == "slow"


@web.middleware
async def apologise_on_error(request: web.Request, handler):
    """A database or internal error speaks an apology and the customer-service number."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("balance line: internal error")  # no caller data in the message
        line = request.app[LINE]
        language = step_language(request)
        return counted(request, "error", twiml(
            flow.technical_problem(line.prompts[language], voice_of(request, language))))


async def answer(request: web.Request) -> web.Response:
    """The call is answered: the greeting and the language menu — or, to a caller still locked
    out, at once and in the three languages, for how long."""
    line = request.app[LINE]
    tries = max(1, count_of(request, "tries"))
    if tries > 1:  # the greeting's repeat after silence: neither a new call nor a new check
        return twiml(flow.welcome(line.steps, line.prompts, voices_of(request), tries))
    if (metrics := line.metrics) is not None:
        metrics.call_answered()
    form = await form_of(request)
    caller, ledger = line.caller(form), line.ledger(request)
    try:
        now = ledger.clock.now()
        history, chosen = await ledger.lookups_by_each(
            (caller, LOOKUP, now - line.rules.memory), (caller, PACE, now - REMEMBERED_PACE))
        wait, slow = _refused_for(line, history, now), _slow_chosen(chosen)
        if wait is not None:
            await ledger.audit(actor=caller, action=LOOKUP, ean=None, outcome="locked_out",
                               detail=call_of(form))
    except Exception:  # no language chosen yet: the apology in all three
        log.exception("balance line: internal error")
        return counted(request, "error", twiml(
            flow.line_unavailable(line.prompts, line.config.voices)))
    if wait is not None:
        return counted(request, "locked_out", twiml(flow.locked_out_at_once(
            locked_out_greeting(line.prompts, line.words, wait), voices_of(request, slow))))
    return twiml(flow.welcome(line.steps, line.prompts, voices_of(request, slow), tries))


def _refused_for(line: Line, history: Sequence[Lookup], now: datetime) -> timedelta | None:
    """How long this caller, whose look-ups of the rules' memory are `history`, must wait
    before looking up a code (a lockout, or the hour's look-ups used up); None if they may now."""
    until = refused_until(history, now, line.rules)
    return None if until is None else until - now


def _ceiling_for(line: Line, unknown: Sequence[Lookup], now: datetime) -> timedelta | None:
    """How long nobody may look up a code, the last minute's unknown codes (all callers,
    `unknown`) having reached the ceiling; None if they may now."""
    until = ceiling_until((lookup.at for lookup in unknown), now, line.rules)
    return None if until is None else until - now


async def choose_language(request: web.Request) -> web.Response:
    line = request.app[LINE]
    form = await form_of(request)
    tries = max(1, count_of(request, "tries"))
    if form.get("Digits", "") == SLOWER:  # the languages again, at the other pace
        slow = await change_pace(request, form)
        return twiml(flow.welcome(line.steps, line.prompts, voices_of(request, slow), 2))
    language = flow.language_of(form.get("Digits", ""))
    if language is None and tries < 2:
        return twiml(flow.welcome(line.steps, line.prompts, voices_of(request), tries + 1))
    language = language or DEFAULT_LANGUAGE
    prompts, voice = line.prompts[language], voice_of(request, language)
    if line.config.known_callers and (meters := await meters_of_caller(request, form)):
        return twiml(flow.known_caller(line.steps, prompts, voice, known_caller_script(
            prompts, [energy for _, energy in meters])))
    return twiml(flow.ask_for_ean(line.steps, prompts, voice, 0))


async def known_meter(request: web.Request) -> web.Response:
    """A known caller's four digits: the last four of one of the meters on file for the
    number — the proof that the caller holds its invoice, a caller ID being forgeable — then its
    balance. '#' alone, or anything but four digits, goes on to the thirteen digits; four that
    end none of them count as an unknown code (the look-up limits apply)."""
    line = request.app[LINE]
    language = step_language(request)
    prompts, voice = line.prompts[language], voice_of(request, language)
    form = await form_of(request)
    digits = form.get("Digits", "")
    if digits == SLOWER:  # the other pace, and the same offer
        slow = await change_pace(request, form)
        return twiml(flow.known_caller(line.steps, prompts, voice.slower(slow), [
            prompts.say("pace_slow" if slow else "pace_normal"), *known_caller_script(
                prompts, [energy for _, energy in await meters_of_caller(request, form)])]))
    if not (len(digits) == CONFIRMATION_DIGITS and is_digits(digits)):
        return twiml(flow.ask_for_ean(line.steps, prompts, voice, 0))
    caller, call = line.caller(form), call_of(form)
    ledger = line.ledger(request)
    if (refused := await _locked_out(request, ledger, caller, call, language)) is not None:
        return refused
    matching = [ean for ean, _ in await meters_of_caller(request, form) if ean.endswith(digits)]
    if not matching:
        await ledger.audit(actor=caller, action=LOOKUP, ean=None, outcome="unknown", detail=call)
        return counted(request, "unknown", twiml(flow.ask_for_ean(
            line.steps, prompts, voice, 1, before=[prompts.say("confirmation_wrong")])))
    if len(matching) > 1:  # two meters end alike: the thirteen digits tell them apart
        return twiml(flow.ask_for_ean(line.steps, prompts, voice, 0))
    view = await ledger.balance_view(matching[0], actor=caller, purpose=LOOKUP, detail=call)
    return counted(request, "found", twiml(flow.balance(
        line.steps, prompts, voice,
        balance_script(view, line.words, line.prompts, language=language))))


async def ask(request: web.Request) -> web.Response:
    line = request.app[LINE]
    language = step_language(request)
    return twiml(flow.ask_for_ean(line.steps, line.prompts[language],
                                   voice_of(request, language), count_of(request, "failures")))


async def enter_ean(request: web.Request) -> web.Response:
    line = request.app[LINE]
    language = step_language(request)
    prompts, voice = line.prompts[language], voice_of(request, language)
    failures = count_of(request, "failures")
    form = await form_of(request)
    digits = form.get("Digits", "")
    if not digits and (speech := form.get("SpeechResult", "")):
        # Said instead of typed: the words as digits; words that are not a code stay as they
        # were heard, which no check takes for digits (a mistyped code).
        heard = digits_heard(speech, language)
        digits = heard if heard is not None else speech
    if digits == SLOWER:  # no code has one digit: the other pace, and the same question
        slow = await change_pace(request, form)
        return twiml(flow.ask_for_ean(line.steps, prompts, voice.slower(slow), failures,
                                       before=[prompts.say("pace_slow" if slow
                                                           else "pace_normal")]))
    caller, call = line.caller(form), call_of(form)
    ledger = line.ledger(request)
    if (refused := await _locked_out(request, ledger, caller, call, language)) is not None:
        return refused
    problem = await _problem_with(ledger, digits)
    view = None
    if problem is None:
        try:
            view = await ledger.balance_view(digits, actor=caller, purpose=LOOKUP, detail=call)
        except (UnknownAccount, InvalidInput):
            problem = "code_unknown"
    else:
        await ledger.audit(actor=caller, action=LOOKUP, ean=None, outcome=problem, detail=call)
    if problem or view is None:
        problem = problem or "code_unknown"
        if problem == "code_unknown":
            await ledger.audit(actor=ALL_CALLERS, action=UNKNOWN_CODE, ean=None,
                               outcome="unknown", detail=call)
        closed = (_closed(line, ledger, language) if failures + 1 >= flow.MAX_FAILURES
                  else None)
        return counted(request, OUTCOMES[problem], twiml(flow.ean_problem(
            line.steps, prompts, voice, failures + 1, problem, closed)))
    return counted(request, "found", twiml(flow.balance(
        line.steps, prompts, voice,
        balance_script(view, line.words, line.prompts, language=language))))


async def _locked_out(request: web.Request, ledger: Ledger, caller: str, call: str,
                      language: str) -> web.Response | None:
    """The goodbye of a caller who may not look a code up now (locked out, or the ceiling of
    unknown codes reached for all callers), audited; None if they may."""
    line = request.app[LINE]
    now = ledger.clock.now()
    history, unknown = await ledger.lookups_by_each(
        (caller, LOOKUP, now - line.rules.memory),
        (ALL_CALLERS, UNKNOWN_CODE, now - CEILING_WINDOW))
    wait, ceiling = _refused_for(line, history, now), _ceiling_for(line, unknown, now)
    if wait is None and ceiling is not None:  # too many unknown codes, all callers: try later
        wait, outcome = ceiling, CEILING_REACHED
        if (metrics := line.metrics) is not None:
            metrics.ceiling_refused()
    else:
        outcome = "locked_out"
    if wait is None:
        return None
    await ledger.audit(actor=caller, action=LOOKUP, ean=None, outcome=outcome, detail=call)
    prompts = line.prompts[language]
    return counted(request, "locked_out", twiml(flow.goodbye(
        prompts, voice_of(request, language), locked_out_script(prompts, line.words, wait))))


async def _problem_with(ledger: Ledger, digits: str) -> str | None:
    """Which prompt explains what is wrong with the typed code, before looking it up: the last
    13 digits (checked with the network's prefix) or the whole 18-digit EAN of the invoice (its
    check digit verified)."""
    if not digits:
        return "nothing_heard"
    if not is_digits(digits):
        return "code_mistyped"  # a '*'
    if len(digits) == FULL_LENGTH:
        return None if is_valid_full(digits) else "code_mistyped"
    if len(digits) != SHORT_LENGTH:
        return "code_mistyped"  # too few or too many
    prefix = await ledger.ean_prefix()
    if prefix and not is_valid_full(prefix + digits):
        return "code_mistyped"
    return None


async def menu(request: web.Request) -> web.Response:
    line = request.app[LINE]
    language = step_language(request)
    prompts, voice = line.prompts[language], voice_of(request, language)
    form = await form_of(request)
    choice = form.get("Digits", "")
    if choice == SLOWER:
        slow = await change_pace(request, form)
        return twiml(flow.balance(line.steps, prompts, voice.slower(slow),
                                   [prompts.say("pace_slow" if slow else "pace_normal")]))
    if choice == MENU_REPEAT and (ean := await found_in_this_call(request, line, form)):
        view = await line.ledger(request).balance_view(
            ean, actor=line.caller(form), purpose=REPEAT, detail=call_of(form))
        return twiml(flow.balance(line.steps, prompts, voice,
                                   balance_script(view, line.words, line.prompts,
                                                  language=language)))
    if choice == MENU_BY_SMS and (ean := await found_in_this_call(request, line, form)):
        # To the mobile on file, never to the calling number (unless it is that one); once per
        # call and meter, so a webhook Twilio sends again sends nothing more.
        sent = await line.ledger(request).request_balance_sms(
            ean, actor=line.caller(form), language=language, request=call_of(form))
        said = ([prompts.say("sms_sent")] if sent != "no_mobile" else
                [prompts.say("sms_no_mobile"), prompts.say("customer_service_short")])
        return twiml(flow.balance(line.steps, prompts, voice, said))
    if choice == MENU_ALERTS:
        return await alerts(request)
    if choice == MENU_ANOTHER_METER:
        return twiml(flow.ask_for_ean(line.steps, prompts, voice, 0))
    if choice == MENU_HOW_TO_TOP_UP:
        return twiml(flow.balance(line.steps, prompts, voice, [prompts.say("how_to_top_up")]))
    if choice == MENU_CUSTOMER_SERVICE:
        ledger = line.ledger(request)
        closed = _closed(line, ledger, language)
        await ledger.audit(actor=line.caller(form), action=TRANSFER, ean=None,
                           outcome="closed" if closed else "put-through", detail=call_of(form))
        if closed is None:
            return twiml(flow.transfer(line.steps, prompts, voice, line.config.customer_service))
        return twiml(flow.balance(line.steps, prompts, voice, closed))
    if choice == MENU_END or not choice:
        return twiml(flow.goodbye(prompts, voice))
    return twiml(flow.balance(line.steps, prompts, voice, [prompts.say("menu_invalid")]))


def _closed(line: Line, ledger: Ledger, language: str) -> list[str] | None:
    """None while customer service is open; else when it opens and how to top up meanwhile."""
    hours, now = line.config.customer_service.hours, ledger.clock.now()
    if hours.is_open(now):
        return None
    return closed_script(line.prompts[language], line.words, hours.next_opening(now))


async def transferred(request: web.Request) -> web.Response:
    """The transfer to customer service has ended: how (Twilio's DialCallStatus)."""
    line = request.app[LINE]
    language = step_language(request)
    form = await form_of(request)
    return twiml(flow.transfer_ended(line.prompts[language], voice_of(request, language),
                                      form.get("DialCallStatus", "")))


async def call_ended(request: web.Request) -> web.Response:
    """The number's call status callback: how calls end, and how long they last, for /metrics."""
    form = await form_of(request)
    duration = form.get("CallDuration", "")
    if (metrics := request.app[LINE].metrics) is not None:
        metrics.call_ended(form.get("CallStatus", ""),
                           int(duration) if is_digits(duration) and len(duration) < 7 else None)
    return web.Response(status=204)


def create_line_app(config: LineConfig, ledger: Callable[[web.Request], Ledger],
                    metrics: LineMetrics | None = None) -> web.Application:
    """`ledger`: the request's ledger, whose clock the look-up limits read (they compare its
    "now" with the audit trail's times, which the ledger writes). `metrics`: where the calls
    and look-ups are counted, if anywhere."""
    app = web.Application(middlewares=[
        signature_middleware(config.auth_token, config.public_base_url), apologise_on_error])

    async def load(app: web.Application):
        # At start the sub-app is mounted: its routes' URLs carry the mount point.
        # Each step is the route of its name: Steps' fields are the list, written once.
        steps = flow.Steps(**{step.name: str(app.router[step.name].url_for())
                              for step in dataclasses.fields(flow.Steps)})
        prompts = load_prompts(config.locales, customer_service=config.customer_service.number,
                               hours=config.customer_service.hours)
        app[LINE] = Line(config, prompts, load_vocabularies(config.locales), ledger,
                         config.rules, steps, metrics)
        yield

    app.cleanup_ctx.append(load)
    app.router.add_post("", answer, name="answer")
    app.router.add_post("/language", choose_language, name="language")
    app.router.add_post("/ask", ask, name="ask")
    app.router.add_post("/ean", enter_ean, name="ean")
    app.router.add_post("/menu", menu, name="menu")
    app.router.add_post("/transferred", transferred, name="transferred")
    app.router.add_post("/known", known_meter, name="known")
    app.router.add_post("/alerts", alerts, name="alerts")
    app.router.add_post("/status", call_ended, name="status")
    return app

