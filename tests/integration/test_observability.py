"""/healthz, /readyz and /metrics on the whole app: readiness follows the database's schema, the
metrics parse as Prometheus text, count what the balance line decides and carry no personal data."""

import dataclasses
import math
import sqlite3
import sys
from datetime import date

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from ledger import ConsumptionInput
from saldo import keys
from saldo.app import GIL_SWITCH_SECONDS, create_app
from saldo.settings import Settings
from tests.browser import logged_server
from tests.conftest import make_ean
from tests.integration.test_ledger import activate
from tests.integration.test_outbox import MOBILE, sms_only

TOKEN = "made-up-auth-token"
PUBLIC = "https://saldo.example.be"
CALLER = "+32470000999"
CALL = {"CallSid": "CA" + "0" * 31 + "1", "From": CALLER, "To": "+3280092424"}
NAME, EMAIL = "Zoé Fictive", "zoe.fictive@example.be"
EAN = make_ean(1)


@pytest.fixture
async def client(database_url, clock, ledger):
    await activate(ledger, EAN, name=NAME, mobile=MOBILE, email=EMAIL)
    await ledger.post_consumption([ConsumptionInput(EAN, date(2026, 11, 23), 2020)])
    settings = dataclasses.replace(Settings(), database_url=database_url, public_base_url=PUBLIC,
                                   twilio_auth_token=TOKEN)
    async with TestClient(logged_server(create_app(settings, clock=clock))) as test_client:
        yield test_client


async def signed_post(client, path: str, **form) -> int:
    params = {**CALL, **form}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    answer = await client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    await answer.read()
    return answer.status


async def scrape(client) -> tuple[str, dict[tuple[str, tuple], float]]:
    """The /metrics text, and every sample by (name, sorted labels)."""
    answer = await client.get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    text = await answer.text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    return text, samples


def lookups(samples, outcome: str) -> float:
    return samples[("saldo_line_lookups_total", (("outcome", outcome),))]


def webhooks(samples, route: str) -> float:
    return samples.get(("saldo_webhook_duration_seconds_count", (("route", route),)), 0)


def messages(samples, state: str, channel: str) -> float:
    return samples[("saldo_outbox_messages", (("channel", channel), ("state", state)))]


async def test_healthz_answers(client):
    answer = await client.get("/healthz")
    assert (answer.status, await answer.json()) == (200, {"status": "ok"})


@pytest.mark.sqlite_only
async def test_ready_until_the_schema_is_not_this_codes(client, tmp_path):
    answer = await client.get("/readyz")
    assert (answer.status, await answer.json()) == (200, {"status": "ready"})
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    answer = await client.get("/readyz")
    body = await answer.json()
    assert answer.status == 503
    assert body["status"] == "not ready" and "schema 1" in body["reason"]


async def test_metrics_parse_and_start_at_zero(client):
    _text, samples = await scrape(client)
    assert samples[("saldo_line_calls_total", ())] == 0
    for outcome in ("found", "unknown", "mistyped", "nothing_heard", "locked_out", "error"):
        assert lookups(samples, outcome) == 0
    assert samples[("saldo_ledger_accounts", ())] == 1
    assert samples[("saldo_ledger_consumption_days", ())] == 1
    assert messages(samples, "queued", "sms") == 0
    assert any(name.startswith("process_") for name, _labels in samples)


async def test_a_call_counts_its_answer_its_lookup_and_its_webhooks(client):
    _text, before = await scrape(client)
    assert await signed_post(client, "/voice") == 200
    assert await signed_post(client, "/voice?tries=2") == 200  # the greeting again: no new call
    assert await signed_post(client, "/voice/ean?lang=fr&failures=0", Digits=EAN[-13:]) == 200
    _text, after = await scrape(client)
    assert after[("saldo_line_calls_total", ())] == before[("saldo_line_calls_total", ())] + 1
    assert lookups(after, "found") == lookups(before, "found") + 1
    for outcome in ("unknown", "mistyped", "nothing_heard", "locked_out", "error"):
        assert lookups(after, outcome) == lookups(before, outcome)
    assert webhooks(after, "/voice") == webhooks(before, "/voice") + 2
    assert webhooks(after, "/voice/ean") == webhooks(before, "/voice/ean") + 1
    assert not any(("route", "/voice/ean?lang=fr&failures=0") in labels for _name, labels in after)
    assert webhooks(after, "/healthz") == 0 and webhooks(after, "/metrics") == 0


@pytest.mark.parametrize(("digits", "outcome"), [
    (make_ean(2)[-13:], "unknown"), ("123456789012", "mistyped"), ("", "nothing_heard")])
async def test_each_problem_is_counted_once_under_its_outcome(client, digits, outcome):
    _text, before = await scrape(client)
    assert await signed_post(client, "/voice/ean?lang=nl&failures=0", Digits=digits) == 200
    _text, after = await scrape(client)
    changed = {o: lookups(after, o) - lookups(before, o)
               for o in ("found", "unknown", "mistyped", "nothing_heard", "locked_out", "error")}
    assert changed == {o: int(o == outcome) for o in changed}


async def test_a_locked_out_caller_and_an_internal_error_are_counted(client, monkeypatch):
    for attempt in range(5):
        await signed_post(client, "/voice/ean?lang=fr&failures=0",
                          Digits=make_ean(100 + attempt)[-13:])
    await signed_post(client, "/voice/ean?lang=fr&failures=0", Digits=EAN[-13:])
    _text, samples = await scrape(client)
    assert (lookups(samples, "unknown"), lookups(samples, "locked_out")) == (5, 1)

    async def broken(*_args, **_kwargs):
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(client.app[keys.LEDGER], "balance_view", broken)
    assert await signed_post(client, "/voice/ean?lang=de&failures=0", Digits=EAN[-13:],
                             From="+32470000998") == 200  # another caller, not locked out
    _text, samples = await scrape(client)
    assert lookups(samples, "error") == 1 and lookups(samples, "found") == 0


async def test_the_sms_delivery_reports_are_timed_by_route(client):
    sid = "SM" + "0" * 32
    assert await signed_post(client, "/sms/status", MessageSid=sid, MessageStatus="sent") == 204
    _text, samples = await scrape(client)
    assert webhooks(samples, "/sms/status") == 1


async def test_the_messages_gauge_reads_the_outbox_by_state_and_channel(client, ledger):
    _events, queued = await ledger.outbox.queue(sms_only)  # an SMS for each event
    assert queued >= 2
    _text, samples = await scrape(client)
    assert messages(samples, "queued", "sms") == queued
    assert messages(samples, "queued", "email") == 0
    [_message] = await ledger.outbox.claim_due(limit=1)
    _text, samples = await scrape(client)
    assert messages(samples, "queued", "sms") == queued - 1
    assert messages(samples, "sending", "sms") == 1


async def test_an_unreadable_ledger_still_gives_the_other_metrics(client, monkeypatch, caplog):
    async def broken():
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(client.app[keys.LEDGER].outbox, "counts_by_channel", broken)
    _text, samples = await scrape(client)
    assert math.isnan(samples[("saldo_ledger_accounts", ())])
    assert not any(name == "saldo_outbox_messages" for name, _labels in samples)
    assert lookups(samples, "found") == 0
    assert "OperationalError" in caplog.text


async def test_no_personal_data_in_the_metrics(client, ledger):
    await ledger.outbox.queue(sms_only)
    await signed_post(client, "/voice")
    await signed_post(client, "/voice/ean?lang=fr&failures=0", Digits=EAN[-13:])
    await signed_post(client, "/voice/ean?lang=fr&failures=0", Digits=make_ean(2)[-13:])
    text, _samples = await scrape(client)
    for secret in (CALLER, CALLER[1:], MOBILE, MOBILE[1:], NAME, "Fictive", EMAIL,
                   EAN, EAN[-13:], make_ean(2)[-13:], CALL["CallSid"]):
        assert secret not in text


async def test_a_serving_app_hands_the_gil_over_promptly_and_gives_it_back(database_url, clock):
    """Threads writing audit records wait for the GIL at most this long (saldo/app.py)."""
    before = sys.getswitchinterval()
    settings = dataclasses.replace(Settings(), database_url=database_url)
    async with TestClient(logged_server(create_app(settings, clock=clock))):
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_SECONDS)
        assert GIL_SWITCH_SECONDS <= 0.001
    assert sys.getswitchinterval() == before


async def test_a_serving_app_sets_what_it_started_with_aside_from_the_collector(database_url,
                                                                             clock):
    """A full collection does not walk what start-up made, the line's prompts included (a
    pause of up to 59 ms for the callers waiting), and collections come less often — until the
    last app serving in the process stops."""
    import gc

    from ivr.line import LINE
    from saldo.app import GC_THRESHOLDS

    def line_of(app):
        return next(resource._app[LINE] for resource in app.router.resources()
                    if LINE in getattr(resource, "_app", {}))

    def tracked(thing) -> bool:  # gc.get_objects() leaves out what is frozen
        return any(candidate is thing for candidate in gc.get_objects())

    before = gc.get_threshold()
    settings = dataclasses.replace(Settings(), database_url=database_url,
                                   public_base_url="https://saldo.example.be",
                                   twilio_auth_token="test-token")
    first, second = create_app(settings, clock=clock), create_app(settings, clock=clock)
    async with TestClient(logged_server(first)):
        prompts = line_of(first).prompts["fr"]  # loaded by the line's own start-up
        assert not tracked(prompts)
        assert gc.get_threshold() == GC_THRESHOLDS
        async with TestClient(logged_server(second)):
            assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_threshold() == GC_THRESHOLDS  # the first still serves
        assert not tracked(prompts)
    assert gc.get_freeze_count() == 0 and tracked(prompts)
    assert gc.get_threshold() == before


async def test_every_app_has_its_own_registry(database_url, clock):
    settings = dataclasses.replace(Settings(), database_url=database_url)
    first, second = create_app(settings, clock=clock), create_app(settings, clock=clock)
    assert first[keys.METRICS].registry is not second[keys.METRICS].registry
    first[keys.METRICS].call_answered()
    assert second[keys.METRICS].registry.get_sample_value("saldo_line_calls_total") == 0


async def test_how_calls_end_and_how_long_they_last_are_counted(client):
    for status, seconds in (("completed", "95"), ("completed", "20"), ("no-answer", "0"),
                            ("queued", ""), ("some-new-status", "3")):
        assert await signed_post(client, "/voice/status", CallStatus=status,
                                 CallDuration=seconds) == 204
    assert await signed_post(client, "/voice/status", CallStatus="completed",
                             CallDuration="'); DROP") == 204  # counted, its length unknown
    _, samples = await scrape(client)

    def ended(status: str) -> float:
        return samples[("saldo_line_calls_ended_total", (("status", status),))]

    assert (ended("completed"), ended("no-answer"), ended("busy")) == (3, 1, 0)
    assert {dict(labels)["status"] for name, labels in samples
            if name == "saldo_line_calls_ended_total"} == {"completed", "busy", "failed",
                                                           "no-answer", "canceled"}
    assert samples[("saldo_line_call_duration_seconds_count", ())] == 2
    assert samples[("saldo_line_call_duration_seconds_sum", ())] == 115
    assert samples[("saldo_line_call_duration_seconds_bucket", (("le", "30.0"),))] == 1


async def test_an_unsigned_call_status_is_refused(client):
    answer = await client.post("/voice/status", data={**CALL, "CallStatus": "completed"})
    assert answer.status == 403
    _, samples = await scrape(client)
    assert samples[("saldo_line_calls_ended_total", (("status", "completed"),))] == 0
