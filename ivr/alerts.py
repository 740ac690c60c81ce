"""Menu 5 of the balance line: the low-credit alert's threshold and channels, changed by one who
calls from the meter's mobile on file — read back, confirmed by a key, audited, and confirmed by
SMS to that number (ledger/requests.py)."""

from aiohttp import web

from ledger import InvalidInput
from ledger.domain import Notify
from ledger.requests import ALERT_CHANNELS, ALERT_THRESHOLDS_CENTS, UNCHANGED
from webhooks import form_of

from . import flow
from .calling import (
    SLOWER,
    call_of,
    change_pace,
    found_in_this_call,
    meters_of_caller,
    step_language,
    twiml,
    voice_of,
)
from .line import LINE
from .spoken import amount_words

ALERT_CHANNEL_KEYS = dict(zip("123", ALERT_CHANNELS, strict=True))
ALERT_THRESHOLD_KEYS = dict(zip("1234", ALERT_THRESHOLDS_CENTS, strict=True))
CHANNEL_PROMPTS = {"sms": "channel_sms", "email": "channel_email",
                   "sms+email": "channel_sms_email", "none": "channel_none"}


async def alerts(request: web.Request) -> web.Response:
    """Each step of menu 5 (its `step` in the query): what the alert is, what to change, the
    new value read back, confirmed by 1. Every step checks that the call comes from the meter's
    mobile on file, and that a balance of it was heard in this call."""
    line = request.app[LINE]
    language = step_language(request)
    prompts, voice = line.prompts[language], voice_of(request, language)
    words = line.words[language]
    form = await form_of(request)
    step, digits = request.query.get("step", ""), form.get("Digits", "")
    ledger, caller, call = line.ledger(request), line.caller(form), call_of(form)

    def back(*sentences: str) -> web.Response:
        return twiml(flow.balance(line.steps, prompts, voice, list(sentences)))

    def ask(*sentences: str, step: str, **query: object) -> web.Response:
        return twiml(flow.alerts_step(line.steps, prompts, voice, sentences, step, **query))

    if digits == SLOWER and step not in ("", "cancel"):  # the other pace, back to the menu
        slow = await change_pace(request, form)
        return twiml(flow.balance(line.steps, prompts, voice.slower(slow),
                                  [prompts.say("pace_slow" if slow else "pace_normal")]))
    ean = await found_in_this_call(request, line, form)
    if ean is None:
        return back(prompts.say("menu_invalid"))
    if ean not in {found for found, _ in await meters_of_caller(request, form)}:
        await ledger.audit(actor=caller, action="alerts-refused", ean=ean,
                           outcome="not_on_file", detail=call)
        return back(prompts.say("alerts_not_on_file"), prompts.say("customer_service_short"))
    if step == "":
        threshold, notify, _ = await ledger.alert_preferences(ean, actor=caller, detail=call)
        return ask(prompts.say("alerts_current", threshold=amount_words(threshold, words),
                               channel=prompts.say(CHANNEL_PROMPTS[notify])),
                   prompts.say("alerts_choose"), step="choose")
    if step == "choose" and digits == "1":
        return ask(prompts.say("alerts_thresholds"), step="threshold")
    if step == "choose" and digits == "2":
        return ask(prompts.say("alerts_channels"), step="channel")
    if step == "threshold" and digits in ALERT_THRESHOLD_KEYS:
        cents = ALERT_THRESHOLD_KEYS[digits]
        return ask(prompts.say("alerts_confirm_threshold", amount=amount_words(cents, words)),
                   step="confirm", threshold=cents)
    if step == "channel" and digits in ALERT_CHANNEL_KEYS:
        notify = ALERT_CHANNEL_KEYS[digits]
        _, _, has_email = await ledger.alert_preferences(ean, actor=caller, detail=call)
        if notify != Notify.SMS and not has_email:
            return ask(prompts.say("alerts_no_email"), prompts.say("alerts_channels"),
                       step="channel")
        return ask(prompts.say("alerts_confirm_channel",
                               channel=prompts.say(CHANNEL_PROMPTS[notify])),
                   step="confirm", notify=notify)
    if step == "confirm" and digits == "1":
        chosen = request.query.get("threshold", "")
        threshold = int(chosen) if chosen in {str(c) for c in ALERT_THRESHOLDS_CENTS} else None
        notify = request.query.get("notify") if request.query.get("notify") in ALERT_CHANNELS \
            else None
        if threshold is not None or notify is not None:
            try:
                outcome = await ledger.set_alerts(ean, actor=caller, language=language,
                                                  request=call, threshold_cents=threshold,
                                                  notify=notify)
            except InvalidInput:
                outcome = UNCHANGED
            if outcome != UNCHANGED:
                return back(prompts.say("alerts_changed"))
    if step == "choose" and digits != "0" and digits:
        return back(prompts.say("menu_invalid"))
    return back(prompts.say("alerts_unchanged"))
