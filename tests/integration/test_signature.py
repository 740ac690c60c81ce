"""The balance line's webhooks answer Twilio only, also behind a reverse proxy."""

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from saldo.signature import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, signature_middleware

from tests.browser import logged_server

TOKEN = "made-up-auth-token-for-tests"
PUBLIC = "https://saldo.example.be"  # what Twilio calls; the proxy forwards to 127.0.0.1


async def secret(request: web.Request) -> web.Response:
    return web.Response(text="<Response><Say>balance</Say></Response>", content_type="text/xml")


@pytest.fixture
async def client():
    voice = web.Application(middlewares=[signature_middleware(TOKEN, PUBLIC)])
    voice.router.add_post("", secret)
    voice.router.add_post("/ean", secret)
    root = web.Application()
    root.add_subapp("/voice", voice)
    async with TestClient(logged_server(root)) as test_client:
        yield test_client


def signed(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {SIGNATURE_HEADER: RequestValidator(token).compute_signature(url, params)}


PARAMS = {"CallSid": "CA0000000000000000000000000000000a", "From": "+32470000999", "Digits": "1"}


async def test_a_signed_request_is_answered(client):
    answer = await client.post("/voice/ean?lang=fr&try=1", data=PARAMS,
                               headers=signed(f"{PUBLIC}/voice/ean?lang=fr&try=1", PARAMS))
    assert answer.status == 200
    assert "balance" in await answer.text()


@pytest.mark.parametrize("headers", [
    {},
    {SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"},
    signed(f"{PUBLIC}/voice/ean?lang=fr&try=1", PARAMS, token="another-token"),
    signed(f"{PUBLIC}/voice/ean?lang=nl&try=1", PARAMS),            # another URL
    signed(f"{PUBLIC}/voice/ean?lang=fr&try=1", {**PARAMS, "Digits": "2"}),  # other digits
])
async def test_anything_else_gets_403_and_no_data(client, headers):
    answer = await client.post("/voice/ean?lang=fr&try=1", data=PARAMS, headers=headers)
    assert answer.status == 403
    assert "balance" not in await answer.text()


async def test_the_host_the_server_sees_is_not_what_is_checked(client):
    local = str(client.make_url("/voice"))
    answer = await client.post("/voice", data=PARAMS, headers=signed(local, PARAMS))
    assert answer.status == 403
    answer = await client.post("/voice", data=PARAMS, headers=signed(f"{PUBLIC}/voice", PARAMS))
    assert answer.status == 200


SHA256_SETTINGS = "key=webhooks_sharedkey_made_up,algorithm=HMAC_SHA256"


def signed_sha256(url: str, params: dict[str, str]) -> str:
    return RequestValidator(TOKEN).compute_signature(url, params, "HMAC_SHA256")


async def test_webhook_settings_signing_with_hmac_sha256_are_checked_too(client):
    url = f"{PUBLIC}/voice/ean?lang=fr&try=1"
    answer = await client.post("/voice/ean?lang=fr&try=1", data=PARAMS, headers={
        SIGNATURE_HEADER: signed_sha256(url, PARAMS),
        SIGNATURE_SETTINGS_HEADER: SHA256_SETTINGS})
    assert answer.status == 200


@pytest.mark.parametrize("settings", [None, "key=k,algorithm=HMAC_MD5"])
async def test_a_sha256_signature_without_its_settings_or_with_another_algorithm_gets_403(
        client, settings):
    url = f"{PUBLIC}/voice/ean?lang=fr&try=1"
    headers = {SIGNATURE_HEADER: signed_sha256(url, PARAMS)}
    if settings:
        headers[SIGNATURE_SETTINGS_HEADER] = settings
    answer = await client.post("/voice/ean?lang=fr&try=1", data=PARAMS, headers=headers)
    assert answer.status == 403
