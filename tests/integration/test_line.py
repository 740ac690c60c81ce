"""Whole calls to the balance line, following the TwiML as Twilio would (first steps: the
complete transcripts per state and language come with the rest of the issue)."""

import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from ivr.app import ALL_CALLERS, LOOKUP, create_line_app
from ivr.limits import LookupRules
from ivr.line import LineConfig
from ivr.flow import Voice
from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger
from tests.browser import logged_server
from tests.conftest import make_ean

TOKEN = "made-up-auth-token"
PUBLIC = "https://saldo.example.be"
LOCALES = Path(__file__).resolve().parents[2] / "locales"
VOICES = {"fr": Voice("Polly.Isabelle-Neural", "fr-BE"), "nl": Voice("Polly.Lisa-Neural", "nl-BE"),
          "de": Voice("Polly.Vicki-Neural", "de-DE")}
CALL = {"CallSid": "CA" + "0" * 31 + "1", "From": "+32470000999", "To": "+3280092424"}


@pytest.fixture
async def line(ledger):
    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "fr",
                                               activated_at=datetime(2026, 11, 1, tzinfo=BRUSSELS))])
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 23), 2020)])
    root = web.Application()
    config = LineConfig(PUBLIC, TOKEN, b"made-up-hash-key", VOICES, LOCALES)
    root.add_subapp("/voice", create_line_app(config, lambda request: ledger))
    async with TestClient(logged_server(root)) as client:
        yield client


async def post(client, path: str, **form) -> ET.Element:
    params = {**CALL, **form}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    answer = await client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status == 200
    return ET.fromstring(await answer.text())


def said(document: ET.Element) -> str:
    return " ".join(element.text or "" for element in document.iter("Say"))


def gather_action(document: ET.Element) -> str:
    return document.find("Gather").get("action")


async def test_a_french_caller_hears_the_emergency_balance_and_hangs_up(line):
    welcome = await post(line, "/voice")
    assert "Français" in said(welcome) or "français" in said(welcome)
    asked = await post(line, gather_action(welcome), Digits="2")
    assert gather_action(asked).startswith("/voice/ean?lang=fr")
    balance = await post(line, gather_action(asked), Digits=make_ean(1)[-13:])
    text = said(balance)
    assert "moins un euro et vingt centimes" in text
    assert "treize euros et quatre-vingts centimes" in text
    assert not any(ch.isdigit() for ch in text)
    for say in balance.iter("Say"):
        assert (say.get("voice"), say.get("language")) == ("Polly.Isabelle-Neural", "fr-BE")
    bye = await post(line, gather_action(balance), Digits="0")
    assert bye.find("Hangup") is not None


async def test_wrong_codes_are_explained_and_three_failures_offer_customer_service(line):
    path = "/voice/ean?lang=nl&failures=0"
    first = await post(line, path, Digits="123456789012")          # 12 digits
    second = await post(line, gather_action(first), Digits=make_ean(2)[-13:])  # unknown
    third = await post(line, gather_action(second), Digits="")       # silence
    assert first.find("Hangup") is None and second.find("Hangup") is None
    assert said(first) != said(second)
    assert third.find("Gather") is not None  # open on a Tuesday at ten: 9 puts the call through
    assert "klantendienst" in said(third) and "druk op negen" in said(third)
    assert third.find("Hangup") is not None  # silence: goodbye


async def test_an_unsigned_call_gets_nothing(line):
    answer = await line.post("/voice", data=CALL)
    assert answer.status == 403


async def test_a_caller_guessing_codes_is_locked_out_and_every_lookup_is_audited(line, ledger):
    for attempt in range(5):
        await post(line, "/voice/ean?lang=fr&failures=0",
                   Digits=make_ean(100 + attempt)[-13:])
    locked = await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:])
    assert locked.find("Hangup") is not None
    assert "seize euros" not in said(locked)  # the balance of the real meter is not said
    trail = [record for record in await ledger.audit_trail() if record["action"] == LOOKUP]
    assert trail[0]["outcome"] == "locked_out"
    assert [a["outcome"] for a in trail[1:6]] == ["unknown"] * 5
    for record in trail[:6]:
        assert record["detail"] == f"call:{CALL['CallSid']}"
        assert record["actor"].startswith("ivr:") and "+3247" not in record["actor"]


@pytest.fixture
async def two_servers(ledger, database_url, clock):
    """Two servers of the line, each with its own ledger connection to one database, as behind a
    load balancer: a call's steps may reach either."""
    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "fr",
                                               activated_at=datetime(2026, 11, 1, tzinfo=BRUSSELS))])
    other = await Ledger.open(database_url, clock=clock)
    config = LineConfig(PUBLIC, TOKEN, b"made-up-hash-key", VOICES, LOCALES)
    clients = []
    for each in (ledger, other):
        root = web.Application()
        root.add_subapp("/voice", create_line_app(config, lambda request, each=each: each))
        clients.append(TestClient(logged_server(root)))
    try:
        for client in clients:
            await client.start_server()
        yield clients
    finally:
        for client in clients:
            await client.close()
        await other.close()


async def test_a_caller_locked_out_by_one_server_is_locked_out_by_the_other(two_servers, clock):
    first, second = two_servers
    for attempt in range(5):
        await post((first, second)[attempt % 2], "/voice/ean?lang=fr&failures=0",
                   Digits=make_ean(100 + attempt)[-13:])
    for server in (first, second):
        locked = await post(server, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:])
        assert locked.find("Hangup") is not None
    clock.advance(timedelta(minutes=61))  # LOCKOUT_MINUTES' default is 60
    allowed = await post(second, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:])
    assert "euro" in said(allowed) and allowed.find("Hangup") is None


async def test_repeat_is_answered_by_the_server_that_did_not_look_up(two_servers, ledger):
    first, second = two_servers
    heard = await post(first, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:])
    again = await post(second, gather_action(heard), Digits="1")
    assert said(again) == said(heard)
    other_call = {**CALL, "CallSid": "CA" + "0" * 31 + "2"}
    nothing = await post(second, gather_action(heard), Digits="1", **other_call)
    assert "euro" not in said(nothing)  # another call (same caller) heard no balance to repeat
    actions = [(a["action"], a["outcome"]) for a in await ledger.audit_trail()]
    assert actions[:2] == [("ivr-repeat", "found"), ("ivr-balance", "found")]


async def test_hearing_the_balance_again_is_not_another_lookup(line):
    heard = await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:])
    for _ in range(25):  # more than LOOKUPS_PER_HOUR's default, 20
        heard = await post(line, gather_action(heard), Digits="1")
        assert "euro" in said(heard)


def test_the_fallback_apologises_in_every_language_and_hangs_up():
    from ivr.flow import line_unavailable
    from ivr.prompts import load_prompts

    document = ET.fromstring(line_unavailable(load_prompts(LOCALES), VOICES))
    voices = [say.get("voice") for say in document.iter("Say")]
    assert [v for i, v in enumerate(voices) if v not in voices[:i]] == [
        VOICES[language].name for language in ("fr", "nl", "de")]
    assert "zéro septante-huit" in said(document) and "nul zeven acht" in said(document)
    assert list(document)[-1].tag == "Hangup"
    assert document.find("Gather") is None and document.find("Redirect") is None


async def test_the_code_gather_takes_thirteen_or_eighteen_digits_then_hash(line):
    asked = await post(line, "/voice/language", Digits="2")
    gather = asked.find("Gather")
    assert gather.get("finishOnKey") == "#"
    assert gather.get("numDigits") is None  # 18 digits and the '#' after them reach /voice/ean
    whole = await post(line, gather_action(asked), Digits=make_ean(1))
    short = await post(line, gather_action(asked), Digits=make_ean(1)[-13:])
    assert said(whole) == said(short) and "moins un euro et vingt centimes" in said(whole)


async def test_the_greeting_tells_a_locked_out_caller_at_once(line, ledger):
    for attempt in range(5):
        await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(100 + attempt)[-13:])
    greeting = await post(line, "/voice")
    assert greeting.find("Gather") is None and greeting.find("Redirect") is None
    assert list(greeting)[-1].tag == "Hangup"
    text = said(greeting)
    assert "dans une heure" in text and "over één uur" in text and "eine Stunde" in text
    other = await post(line, "/voice", From="+32470000111")  # another caller: the menu
    assert other.find("Gather") is not None


# Who a caller is, and the ceiling on unknown codes across all callers ---------------------------

def call_of(n: int, number: str) -> dict[str, str]:
    return {"CallSid": f"CA{n:032x}", "From": number}


async def guess(client, times: int, start: int = 100, **call) -> ET.Element:
    answer = None
    for attempt in range(times):
        answer = await post(client, "/voice/ean?lang=fr&failures=0",
                            Digits=make_ean(start + attempt)[-13:], **call)
    return answer


def refused(document: ET.Element) -> bool:
    return document.find("Hangup") is not None and "euro" not in said(document)


@pytest.mark.parametrize("other", ["0032470555001", "0470 55 50 01", "+32 470 55 50 01"])
async def test_one_number_however_written_is_one_caller(line, other):
    await guess(line, 5, **call_of(1, "+32470555001"))
    again = await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:],
                       **call_of(2, other))
    assert refused(again)  # no fresh budget for the same number written otherwise
    someone_else = await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:],
                              **call_of(3, "+32470555002"))
    assert "euro" in said(someone_else)


@pytest.mark.parametrize("withheld", ["anonymous", "Restricted", "unknown", "",
                                      "+266696687", "+7378742833", "+2562533", "+8656696"])
async def test_a_withheld_callers_failures_lock_only_that_call(line, withheld):
    await guess(line, 5, **call_of(1, withheld))
    same_call = await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:],
                           **call_of(1, withheld))
    assert refused(same_call)
    for n, other in enumerate(["anonymous", "", "+266696687", "restricted"], start=2):
        answer = await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:],
                            **call_of(n, other))  # another withheld caller, another call
        assert "euro" in said(answer), other
    greeting = await post(line, "/voice", **call_of(9, withheld))
    assert greeting.find("Gather") is not None  # the menu, not "locked out"


@pytest.fixture
async def ceiling_line(ledger):
    """The line with a ceiling of 3 unknown codes a minute, all callers together, and metrics."""
    from saldo.observability import Metrics

    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "fr",
                                               activated_at=datetime(2026, 11, 1, tzinfo=BRUSSELS))])
    root = web.Application()
    metrics = Metrics.create()
    config = LineConfig(PUBLIC, TOKEN, b"made-up-hash-key", VOICES, LOCALES,
                        LookupRules(unknown_codes_per_minute=3))
    root.add_subapp("/voice", create_line_app(config, lambda request: ledger, metrics))
    async with TestClient(logged_server(root)) as client:
        yield client, metrics


def refusals(metrics) -> float:
    return metrics.registry.get_sample_value("saldo_line_ceiling_refusals_total")


async def test_beyond_the_ceiling_on_unknown_codes_every_caller_is_told_to_try_later(
        ceiling_line, ledger):
    client, metrics = ceiling_line
    for n in range(3):  # three callers, one unknown code each: none is locked out on their own
        await guess(client, 1, start=100 + n, **call_of(n, f"+3247055500{n}"))
    assert refusals(metrics) == 0
    fresh = await post(client, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:],
                       **call_of(7, "+32470555007"))
    assert refused(fresh)  # a real code, a new caller: the line says try later
    assert "cinq minutes" in said(fresh)
    assert refusals(metrics) == 1
    looked_up = metrics.registry.get_sample_value("saldo_line_lookups_total",
                                                  {"outcome": "locked_out"})
    assert looked_up == 1
    trail = await ledger.audit_trail()
    assert (trail[0]["action"], trail[0]["outcome"], trail[0]["ean"]) == (LOOKUP, "ceiling", None)
    assert [r["actor"] for r in trail if r["action"] != LOOKUP] == [ALL_CALLERS] * 3
    ledger.clock.advance(timedelta(seconds=61))  # the minute has passed: looked up again
    answer = await post(client, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:],
                        **call_of(7, "+32470555007"))
    assert "euro" in said(answer)
    assert refusals(metrics) == 1


async def test_refusals_by_the_ceiling_do_not_count_toward_the_callers_own_limits(
        ceiling_line, ledger):
    client, _ = ceiling_line
    for n in range(3):
        await guess(client, 1, start=100 + n, **call_of(n, f"+3247055500{n}"))
    for _ in range(25):  # more than LOOKUPS_PER_HOUR and UNKNOWN_BEFORE_LOCKOUT
        assert refused(await post(client, "/voice/ean?lang=fr&failures=0",
                                  Digits=make_ean(1)[-13:], **call_of(7, "+32470555007")))
    ledger.clock.advance(timedelta(seconds=61))
    answer = await post(client, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:],
                        **call_of(7, "+32470555007"))
    assert "euro" in said(answer)


async def test_a_webhook_twilio_sends_twice_sends_one_sms(line, ledger):
    """Twilio may deliver the menu's webhook again (a timeout on its side): one SMS all the same."""
    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "fr",
                                               mobile="+32470000777")])
    asked = await post(line, "/voice/ean?lang=fr&failures=0", Digits=make_ean(1)[-13:])
    menu = gather_action(asked)
    first, again = await post(line, menu, Digits="4"), await post(line, menu, Digits="4")
    assert said(first) == said(again) and "SMS" in said(first)
    requests = [e for _, e in await ledger.events_after(0) if e.name == "BalanceRequested"]
    assert len(requests) == 1 and requests[0].request == "call:" + CALL["CallSid"]


async def test_a_known_caller_is_offered_the_meter_and_confirms_with_four_digits(line, ledger):
    """On either database: the number on file found by its index, the four digits checked."""
    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "fr",
                                               mobile=CALL["From"])])
    offered = await post(line, "/voice/language?tries=1", Digits="2")
    assert "reconnu votre numéro" in said(offered) and "électricité" in said(offered)
    balance = await post(line, gather_action(offered), Digits=make_ean(1)[-4:])
    assert "moins un euro et vingt centimes" in said(balance)
    unknown = await post(line, gather_action(offered), Digits="0000")
    assert "ne correspondent" in said(unknown)


async def test_the_alert_confirmed_twice_by_twilio_is_changed_and_confirmed_once(line, ledger):
    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "fr",
                                               mobile=CALL["From"])])
    offered = await post(line, "/voice/language?tries=1", Digits="2")
    balance = await post(line, gather_action(offered), Digits=make_ean(1)[-4:])
    alerts = await post(line, gather_action(balance), Digits="5")
    amounts = await post(line, gather_action(alerts), Digits="1")
    confirm = await post(line, gather_action(amounts), Digits="3")  # 15 €
    first, again = [await post(line, gather_action(confirm), Digits="1") for _ in range(2)]
    assert said(first) == said(again) and "noté" in said(first)
    changes = [e for _, e in await ledger.events_after(0) if e.name == "AlertsChanged"]
    assert [(e.threshold_cents, e.request) for e in changes] == [(1500, "call:" + CALL["CallSid"])]
