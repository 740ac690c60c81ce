"""Text messages through the twilio library, via Prism (checking every request and answer
against Twilio's OpenAPI description of API 2010-04-01), to a local server that speaks
Twilio's Messages API (tests/twilio_api.py).

Prism starts once for the module (about 2 s: it reads a 1.9 MB description); the server and
the tests share the module's event loop. Prism missing is an error, never a skip: `npm ci`.
"""

import asyncio
import base64
import logging
import re
import time
import warnings
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator
from twilio.rest import Client

import tests.twilio_api as twilio_api
from messaging.errors import PermanentFailure, SendError, TemporaryFailure
from messaging.sms import TwilioSms
from tests.twilio_api import PrismError, PrismProxy, TwilioApi, free_port, prism_proxy

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

FROM = "+3278050505"
TO = "+32470112233"
BODY = "Saldo: uw saldo is 12,40 EUR. Herlaad voor 3 december."
CALLBACK = "https://saldo.example.be/sms/status"
TIMEOUT = 1.0
SID = re.compile(r"^SM[0-9a-f]{32}$")
UNDECLARED_STATUS = "Unable to match the returned status code"  # Twilio declares only 2xx


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api():
    async with TwilioApi() as server:
        yield server


@pytest.fixture(scope="module")
def prism(api):
    with PrismProxy(api.url) as proxy:
        yield proxy


@pytest_asyncio.fixture(loop_scope="module")
async def sms(api, prism):
    api.reset()
    async with TwilioSms(api.account_sid, api.auth_token, FROM, api_url=prism.url,
                         status_callback=CALLBACK, timeout=TIMEOUT) as adapter:
        yield adapter


def only_undeclared_status(lines: list[str]) -> bool:
    return all("warning" in line and UNDECLARED_STATUS in line for line in lines)


async def violations_after(prism: PrismProxy, mark: int, seconds: float = 3.0) -> list[str]:
    """Prism logs a little after it answers: wait for its lines."""
    deadline = time.monotonic() + seconds
    while not prism.violations(mark) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return prism.violations(mark)


# -- sending ---------------------------------------------------------------------------------

async def test_a_message_arrives_as_sent_and_its_sid_comes_back(sms, api, prism):
    mark = prism.mark()
    sid = await sms.send(TO, BODY)

    assert SID.match(sid)
    [post] = api.posts
    assert post.form == {"To": TO, "From": FROM, "Body": BODY, "StatusCallback": CALLBACK}
    assert post.headers["Authorization"].startswith("Basic ")
    assert post.status == 201
    assert api.messages[sid]["status"] == "queued" and api.messages[sid]["body"] == BODY
    assert api.status_callback_of(sid) == CALLBACK
    await asyncio.sleep(0.2)
    assert prism.violations(mark) == []


async def test_prism_refuses_a_request_against_the_description(sms, api, prism):
    """The validation is live: a POST without the required `To` is refused by Prism (422)
    and never reaches the server."""
    mark = prism.mark()
    url = f"{prism.url}/2010-04-01/Accounts/{api.account_sid}/Messages.json"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data={"From": FROM, "Body": BODY},
                                headers={"Authorization": _basic(api)}) as answer:
            assert answer.status == 422
            problem = await answer.json()
    assert any(v["location"] == ["body"] and "'To'" in v["message"]
               for v in problem["validation"])
    assert api.requests == []
    assert any("UNPROCESSABLE_ENTITY" in line for line in await violations_after(prism, mark))


async def test_prism_refuses_an_answer_against_the_description(sms, api, prism):
    """And the server's answers are checked too: a Message with a status Twilio does not have
    becomes Prism's 500 (so a send that succeeds had an answer Prism accepted)."""
    sid = await sms.send(TO, BODY)
    api.messages[sid]["status"] = "teleported"
    mark = prism.mark()
    url = f"{prism.url}/2010-04-01/Accounts/{api.account_sid}/Messages/{sid}.json"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": _basic(api)}) as answer:
            assert answer.status == 500
            problem = await answer.json()
    assert problem["validation"][0]["location"] == ["response", "body", "status"]
    assert await violations_after(prism, mark)


@pytest.mark.parametrize("status, code", [(429, 20429), (500, 20500), (503, 20503)])
async def test_busy_or_failing_twilio_is_temporary_after_one_post(sms, api, prism, status, code):
    mark = prism.mark()
    api.fail_next(status)
    with pytest.raises(TemporaryFailure) as failure:
        await sms.send(TO, BODY)
    assert (failure.value.status, failure.value.code) == (status, code)
    assert len(api.posts) == 1  # no retry: a second POST could send the SMS twice
    await asyncio.sleep(0.2)
    assert only_undeclared_status(prism.violations(mark))


@pytest.mark.parametrize("code", [21211, 21614])
async def test_a_refused_number_is_permanent(sms, api, code):
    api.reject_next(code)
    with pytest.raises(PermanentFailure) as failure:
        await sms.send(TO, BODY)
    assert (failure.value.code, failure.value.status) == (code, 400)
    assert TO not in failure.value.reason and len(api.posts) == 1


async def test_numbers_twilio_would_refuse_are_permanent(sms, api):
    """Not scripted: the server refuses them as Twilio does."""
    with pytest.raises(PermanentFailure) as failure:
        await sms.send("0470 11 22 33", BODY)  # not E.164
    assert failure.value.code == 21211
    api.not_mobile.add("+3223456789")
    with pytest.raises(PermanentFailure) as failure:
        await sms.send("+3223456789", BODY)  # a landline
    assert failure.value.code == 21614
    assert len(api.posts) == 2


async def test_a_full_queue_is_temporary(sms, api):
    api.reject_next(21611)
    with pytest.raises(TemporaryFailure) as failure:
        await sms.send(TO, BODY)
    assert failure.value.code == 21611


async def test_no_answer_in_time_is_temporary_after_one_post(sms, api):
    """The server creates the message and answers late: the client gives up after its timeout
    (the library alone would wait forever), says it may have been sent, and find_sent sees it."""
    since = datetime.now(UTC)
    api.delay_next(5 * TIMEOUT)
    began = time.monotonic()
    with pytest.raises(TemporaryFailure) as failure:
        await sms.send(TO, BODY)
    assert time.monotonic() - began < TIMEOUT + 1.0
    assert "may have been sent" in failure.value.reason
    assert len(api.posts) == 1
    [sid] = api.messages
    assert await sms.find_sent(TO, BODY, since) == sid


async def test_a_dropped_connection_is_temporary_after_one_post(api):
    """Straight to the server (Prism would turn the drop into its own 500)."""
    api.reset()
    api.drop_next()
    async with TwilioSms(api.account_sid, api.auth_token, FROM, api_url=api.url,
                         timeout=TIMEOUT) as direct:
        with pytest.raises(TemporaryFailure) as failure:
            await direct.send(TO, BODY)
    assert "Disconnected" in failure.value.reason
    assert len(api.posts) == 1 and api.posts[0].status is None


async def test_nobody_listening_is_temporary_and_not_sent():
    async with TwilioSms(twilio_api.DEFAULT_ACCOUNT_SID, "token", FROM,
                         api_url=f"http://127.0.0.1:{free_port()}", timeout=TIMEOUT) as nowhere:
        with pytest.raises(TemporaryFailure) as failure:
            await nowhere.send(TO, BODY)
    assert "cannot connect" in failure.value.reason


async def test_a_wrong_auth_token_is_temporary(api, prism):
    """401 (code 20003) is our configuration, not the message: kept for when the token is
    fixed, and not sent, so no risk of a duplicate."""
    api.reset()
    async with TwilioSms(api.account_sid, "not-the-token", FROM, api_url=prism.url,
                         timeout=TIMEOUT) as wrong:
        with pytest.raises(TemporaryFailure) as failure:
            await wrong.send(TO, BODY)
    assert (failure.value.status, failure.value.code) == (401, 20003)
    assert "credentials" in failure.value.reason
    assert len(api.posts) == 1 and api.messages == {}


async def test_the_library_alone_would_post_again(api):
    """Why max_retries stays None: the library's own retries (aiohttp_retry) repeat a POST
    that got a 5xx, so one notification could go out several times. TwilioSms posts once."""
    api.reset()
    api.fail_next(500, times=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its aiohttp.BasicAuth
        http = AsyncTwilioHttpClient(max_retries=3)
        client = Client(api.account_sid, api.auth_token, http_client=http)
        client.api.base_url = api.url
        try:
            with pytest.raises(Exception):
                await client.api.v2010.account.messages.create_async(
                    to=TO, from_=FROM, body=BODY)
        finally:
            await http.close()
    assert len(api.posts) == 3

    api.reset()
    api.fail_next(500, times=3)
    async with TwilioSms(api.account_sid, api.auth_token, FROM, api_url=api.url) as once:
        with pytest.raises(TemporaryFailure):
            await once.send(TO, BODY)
    assert len(api.posts) == 1


# -- finding what was sent -------------------------------------------------------------------

async def test_find_sent_finds_the_message_by_number_and_body(sms, api, prism):
    since = datetime.now(UTC)
    sid = await sms.send(TO, BODY)
    await sms.send("+32470999888", "another customer")
    mark = prism.mark()

    assert await sms.find_sent(TO, BODY, since) == sid
    assert await sms.find_sent(TO, "another body", since) is None
    assert await sms.find_sent("+32470999888", BODY, since) is None
    assert await sms.find_sent(TO, BODY, since + timedelta(hours=1)) is None  # sent before
    gets = [r for r in api.requests if r.method == "GET"]
    assert all(r.query["To"] in (TO, "+32470999888") and r.query["From"] == FROM
               and not any(k.startswith("DateSent") for k in r.query) for r in gets)
    await asyncio.sleep(0.2)
    assert prism.violations(mark) == []


async def test_find_sent_finds_a_message_still_queued(sms, api):
    """Queued (date_sent null): a DateSent filter would not return it, this does."""
    since = datetime.now(UTC)
    sid = await sms.send(TO, BODY)
    assert api.messages[sid]["date_sent"] is None
    assert await sms.find_sent(TO, BODY, since) == sid


async def test_find_sent_ignores_an_older_message_with_the_same_body(sms, api):
    since = datetime.now(UTC)
    api.clock = lambda: since - timedelta(hours=3)
    try:
        await sms.send(TO, BODY)
    finally:
        api.clock = lambda: datetime.now(UTC)
    assert await sms.find_sent(TO, BODY, since) is None
    assert await sms.find_sent(TO, BODY, since - timedelta(hours=4)) is not None


async def test_find_sent_reads_further_pages(sms, api, prism):
    """The message is the oldest of 61: on the second page (Twilio's next_page_uri, via Prism)."""
    since = datetime.now(UTC)
    sid = await sms.send(TO, BODY)
    async with TwilioSms(api.account_sid, api.auth_token, FROM, api_url=api.url) as direct:
        for number in range(60):
            await direct.send(TO, f"reminder {number}")
    mark = prism.mark()
    assert await sms.find_sent(TO, BODY, since) == sid
    gets = [r for r in api.requests if r.method == "GET"]
    assert [r.query.get("Page", "0") for r in gets] == ["0", "1"]
    await asyncio.sleep(0.2)
    assert prism.violations(mark) == []


async def test_find_sent_needs_an_aware_time(sms):
    with pytest.raises(ValueError):
        await sms.find_sent(TO, BODY, datetime.now())


async def test_find_sent_that_cannot_ask_is_temporary(sms, api):
    """It cannot tell: the outbox keeps the message for later, neither sent nor given up."""
    api.fail_next(503, method="GET")
    with pytest.raises(TemporaryFailure) as failure:
        await sms.find_sent(TO, BODY, datetime.now(UTC))
    assert (failure.value.status, failure.value.code) == (503, 20503)


# -- privacy ---------------------------------------------------------------------------------

async def test_no_number_or_body_in_the_logs(sms, api, caplog):
    caplog.set_level(logging.DEBUG)
    since = datetime.now(UTC)
    await sms.send(TO, BODY)
    await sms.find_sent(TO, BODY, since)
    errors: list[SendError] = []
    for script in (lambda: api.reject_next(21211), lambda: api.fail_next(500),
                   lambda: api.delay_next(5 * TIMEOUT)):
        script()
        try:
            await sms.send(TO, BODY)
        except SendError as error:
            errors.append(error)
            logging.getLogger("saldo.messaging").warning("not sent: %s", error.reason,
                                                         exc_info=error)
    assert len(errors) == 3
    assert any(r.name == "saldo.sms.http" for r in caplog.records)  # the capture works
    for secret in (TO, TO.lstrip("+"), "%2B" + TO[1:], BODY, "Herlaad"):
        assert secret not in caplog.text
        assert all(secret not in str(error) for error in errors)


# -- status callbacks ------------------------------------------------------------------------

async def test_a_status_callback_is_signed_as_twilio_signs(sms, api, prism):
    received: list[dict[str, str]] = []
    validator = RequestValidator(api.auth_token)

    async def status(request: web.Request) -> web.Response:
        params = dict(await request.post())
        public = CALLBACK + request.rel_url.query_string  # the URL Twilio was given
        if not validator.validate(public, params, request.headers.get(SIGNATURE_HEADER, "")):
            return web.Response(status=403)
        received.append(params)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/sms/status", status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api.callback_base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        sid = await sms.send(TO, BODY)
        assert await api.send_status(sid, "sent") == 204
        assert await api.send_status(sid, "delivered") == 204
    finally:
        api.callback_base_url = None
        await runner.cleanup()

    assert [(p["MessageSid"], p["MessageStatus"]) for p in received] == [(sid, "sent"),
                                                                       (sid, "delivered")]
    assert received[1]["AccountSid"] == api.account_sid
    assert (received[1]["To"], received[1]["From"]) == (TO, FROM)
    # The resource moved on too, in a shape Prism accepts.
    mark = prism.mark()
    url = f"{prism.url}/2010-04-01/Accounts/{api.account_sid}/Messages/{sid}.json"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": _basic(api)}) as answer:
            assert answer.status == 200
            message = await answer.json()
    assert message["status"] == "delivered" and message["date_sent"]
    await asyncio.sleep(0.2)
    assert prism.violations(mark) == []


# -- the Prism helper ------------------------------------------------------------------------

async def test_prism_proxy_starts_and_stops(api):
    api.reset()
    async with prism_proxy(api.url) as url:
        async with TwilioSms(api.account_sid, api.auth_token, FROM, api_url=url) as other:
            assert SID.match(await other.send(TO, BODY))
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as session:
            await session.get(url)


async def test_prism_missing_is_an_error_not_a_skip(api, monkeypatch, tmp_path):
    monkeypatch.setattr(twilio_api, "PRISM", tmp_path / "node_modules" / ".bin" / "prism")
    with pytest.raises(PrismError, match="npm ci"):
        async with prism_proxy(api.url):
            pass


def _basic(api: TwilioApi) -> str:
    pair = f"{api.account_sid}:{api.auth_token}".encode()
    return "Basic " + base64.b64encode(pair).decode()
