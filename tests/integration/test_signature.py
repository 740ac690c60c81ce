"""The balance line's webhooks answer Twilio only, also behind a reverse proxy."""

import gzip
import io
import json

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from webhooks.signature import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    form_of,
    signature_middleware,
)

from tests.browser import logged_server

TOKEN = "made-up-auth-token-for-tests"
PUBLIC = "https://saldo.example.be"  # what Twilio calls; the proxy forwards to 127.0.0.1


async def secret(request: web.Request) -> web.Response:
    return web.Response(text="<Response><Say>balance</Say></Response>", content_type="text/xml")


async def echo(request: web.Request) -> web.Response:
    return web.json_response(list((await form_of(request)).items()))


@pytest.fixture
async def client():
    voice = web.Application(middlewares=[signature_middleware(TOKEN, PUBLIC)])
    voice.router.add_post("", secret)
    voice.router.add_post("/ean", secret)
    voice.router.add_post("/echo", echo)
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


async def test_a_signature_made_with_the_default_port_is_still_accepted(client):
    """The URL as called is checked first (one HMAC); Twilio's library also accepts the URL
    with its scheme's port written out, and so must the server."""
    with_port = PUBLIC + ":443"  # https's port
    answer = await client.post("/voice/ean?lang=fr&try=1", data=PARAMS,
                               headers=signed(f"{with_port}/voice/ean?lang=fr&try=1", PARAMS))
    assert answer.status == 200


@pytest.mark.parametrize("signature", ["é" * 28, "\u00ff", "☎"])
async def test_a_signature_header_that_is_not_ascii_is_403(client, signature):
    answer = await client.post("/voice/ean?lang=fr&try=1", data=PARAMS,
                               headers={SIGNATURE_HEADER: signature})
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


# Any body: 403 unsigned, 400 signed, never 500 ---------------------------------------------------

FORM = "application/x-www-form-urlencoded"
URL = f"{PUBLIC}/voice/ean"
SID = "CA" + "0" * 32


async def answered(client, body, headers=None, signature: dict | None = None) -> int:
    answer = await client.post("/voice/ean", data=body, headers={**(headers or {}),
                                                                 **(signature or {})})
    assert "balance" not in await answer.text()
    return answer.status


# (body, Content-Type, the fields its signature covers: what can be read of it)
UNREADABLE = {
    "percent-escaped bytes that are not UTF-8": (
        f"CallSid={SID}&From=%FF%FE".encode(), FORM, {"CallSid": SID, "From": "\xff\xfe"}),
    "raw bytes that are not UTF-8": (
        f"CallSid={SID}&From=\xe9".encode("latin-1"), FORM, {"CallSid": SID, "From": "\xe9"}),
    "a charset nobody knows": (
        f"CallSid={SID}&Digits=1".encode(), f"{FORM}; charset=klingon",
        {"CallSid": SID, "Digits": "1"}),
    "a codec that is not a text encoding": (
        f"CallSid={SID}&Digits=1".encode(), f"{FORM}; charset=hex", {"CallSid": SID, "Digits": "1"}),
    "bytes that are not of the charset named": (
        b"Digits=%FF", f"{FORM}; charset=utf-8", {"Digits": "\xff"}),
    "a NUL character": (f"CallSid={SID}&Digits=1%00".encode(), FORM,
                        {"CallSid": SID, "Digits": "1\x00"}),
    "JSON": (json.dumps({"CallSid": SID}).encode(), "application/json", {}),
    "plain text": (b"CallSid=" + SID.encode(), "text/plain", {}),
    "no Content-Type at all": (b"CallSid=" + SID.encode(), None, {}),
}


@pytest.mark.parametrize("case", UNREADABLE)
async def test_a_body_that_cannot_be_read_as_a_form_is_403_unsigned_400_signed(client, case):
    body, content_type, fields = UNREADABLE[case]
    headers = {"Content-Type": content_type} if content_type else {}
    if content_type is None:
        body = bytearray(body)  # aiohttp's client would give bytes application/octet-stream
    assert await answered(client, body, headers) == 403
    assert await answered(client, body, headers, {SIGNATURE_HEADER: "bm9uZQ=="}) == 403
    assert await answered(client, body, headers, signed(URL, fields)) == 400


def multipart_with_a_file() -> FormData:
    form = FormData()
    form.add_field("CallSid", SID)
    form.add_field("Recording", b"\x00\x01 not a form field", filename="call.wav",
                   content_type="audio/wav")
    return form


async def test_a_multipart_body_with_a_file_part_is_403_unsigned_400_signed(client):
    assert await answered(client, multipart_with_a_file()) == 403
    assert await answered(client, multipart_with_a_file(), signature=signed(URL, {})) == 400
    with_fields = signed(URL, {"CallSid": SID})  # its text fields are not what is read
    assert await answered(client, multipart_with_a_file(), signature=with_fields) == 403


async def chunks(size: int):
    for _ in range(size // 65536):
        yield b"Digits=" + b"1" * 65529


@pytest.mark.parametrize("huge", ["with a length", "chunked"])
async def test_a_huge_body_is_not_read_and_is_403_unsigned_400_signed(client, huge):
    size = 2 * 1024 * 1024

    def body():
        return (io.BytesIO(b"Digits=" + b"1" * size) if huge == "with a length"
                else chunks(size))

    headers = {"Content-Type": FORM}
    assert await answered(client, body(), headers) == 403
    assert await answered(client, body(), headers, signed(URL, {})) == 400
    assert MAX_BODY_BYTES < size


async def test_a_body_whose_content_encoding_does_not_decode_is_403_unsigned_400_signed(client):
    headers = {"Content-Type": FORM, "Content-Encoding": "gzip"}
    assert await answered(client, b"CallSid=not-gzip", headers) == 403
    assert await answered(client, b"CallSid=not-gzip", headers, signed(URL, {})) == 400


async def test_a_compressed_form_and_a_form_in_latin_1_are_read_and_answered(client):
    answer = await client.post("/voice/ean", data=gzip.compress(b"Digits=1&From=%2B32470000999"),
                               headers={"Content-Type": FORM, "Content-Encoding": "gzip",
                                        **signed(URL, {"Digits": "1", "From": "+32470000999"})})
    assert answer.status == 200
    answer = await client.post("/voice/echo", data=b"Name=Ren%E9", headers={
        "Content-Type": f"{FORM}; charset=ISO-8859-1",
        **signed(f"{PUBLIC}/voice/echo", {"Name": "René"})})
    assert (answer.status, await answer.json()) == (200, [["Name", "René"]])


async def test_the_handler_reads_exactly_the_fields_that_were_signed(client):
    body = "Digits=1&Digits=2&Empty=&Plus=a+b&Bare".encode()
    fields = MultiDict([("Digits", "1"), ("Digits", "2"), ("Empty", ""), ("Plus", "a b"),
                        ("Bare", "")])
    answer = await client.post("/voice/echo", data=body, headers={
        "Content-Type": FORM, **signed(f"{PUBLIC}/voice/echo", fields)})
    assert (answer.status, await answer.json()) == (200, [list(pair) for pair in fields.items()])


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_other_methods_are_refused_signed_or_not(client, method):
    answer = await client.request(method, "/voice/ean", data=b"Digits=1")
    assert answer.status == 403
    answer = await client.request(method, "/voice/ean", headers=signed(URL, {}))
    assert answer.status == 405
