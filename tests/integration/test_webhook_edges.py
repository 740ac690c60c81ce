"""Every webhook door answers clearly, whatever comes in, as an attacker would try them: the whole
app (`saldo serve`'s), on SQLite or PostgreSQL. Generated requests — signed and unsigned, any
method, content type, body and headers — at every Twilio webhook route: never a 5xx, never a
traceback or an error in the logs, and nothing changed in the database by a refused request.
Bodies that a check reading the form first (aiohttp's `await request.post()`) cannot read —
bytes that are not UTF-8, a charset Python does not know, multipart with a file part — are
generated at every route, signed and unsigned: 403 unsigned, 400 signed. A malformed HTTP
request: a warning without a traceback, and its access-log line."""

import asyncio
import codecs
import io
import logging
from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from ledger import BRUSSELS, AccountInput, ConsumptionInput, schema
from saldo import keys
from saldo.app import create_app
from saldo.settings import Settings
from webhooks.signature import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER
from tests.browser import logged_server
from tests.conftest import make_ean

TOKEN = "made-up-auth-token-for-edge-tests"
PUBLIC = "https://saldo.example.be"
FORM = "application/x-www-form-urlencoded"
# Every Twilio webhook route of the app: the balance line's steps, its call status callback,
# the SMS delivery reports.
ROUTES = ("/voice", "/voice/language", "/voice/ask", "/voice/ean", "/voice/menu",
          "/voice/status", "/sms/status")
QUERIES = ("", "?lang=fr&failures=0", "?lang=nl&failures=2", "?tries=1", "?lang=xx&failures=9999",
           "?lang=de&failures=%FF", "?tries=-1&lang=", "?bodySHA256=abc")


@pytest.fixture
async def server(database_url, clock):
    settings_ = Settings(database_url=database_url, public_base_url=PUBLIC,
                         twilio_auth_token=TOKEN, portal_secret="s" * 32)
    app = create_app(settings_, clock=clock)
    async with TestClient(logged_server(app)) as client:
        ledger = app[keys.LEDGER]
        await ledger.import_accounts([AccountInput(
            make_ean(1), "electricity", "fr", activated_at=datetime(2026, 11, 1, tzinfo=BRUSSELS))])
        await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 23), 2020)])
        yield client, ledger


async def snapshot(ledger) -> dict[str, list]:
    """Every row of every table: what a refused request must leave as it was."""
    rows = {}
    async with ledger.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            result = await conn.execute(select(table))
            rows[table.name] = sorted(map(repr, result.all()))
    return rows


def signature(path: str, params) -> str:
    return RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)


# ---- generated requests --------------------------------------------------------------------------

FIELDS = ("CallSid", "From", "To", "Digits", "CallStatus", "CallDuration", "MessageSid",
          "MessageStatus", "AccountSid")
VALUES = ("", "CA" + "0" * 32, "CA" + "f" * 32, "SM" + "a" * 32, "+32470000999", "0032470000999",
          "anonymous", "+266696687", "1", "2", "3", "0", "*", "#", "99999999999999999999",
          "5414400000000000019", "541440000000000019", "delivered", "failed", "completed",
          "-1", "1e9", "\x00", "é", "\u202e", "🙂")
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
forms = st.lists(st.tuples(st.sampled_from(FIELDS) | text, st.sampled_from(VALUES) | text),
                 max_size=8)
CONTENT_TYPES = (FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=ISO-8859-1",
                 f"{FORM}; charset=klingon", f"{FORM}; charset=hex", f"{FORM}; charset=utf-16",
                 "multipart/form-data; boundary=xyz", "multipart/form-data", "application/json",
                 "text/plain", "application/octet-stream", "", ";;", "a/b; charset=\"")
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=30)
EXTRA_HEADERS = st.dictionaries(
    st.sampled_from(["Content-Encoding", SIGNATURE_SETTINGS_HEADER, "Accept", "X-Forwarded-For",
                     "X-Forwarded-Proto", "Cookie", "Authorization", "Accept-Charset"]),
    st.sampled_from(["gzip", "deflate", "br", "identity", "key=k,algorithm=HMAC_SHA256",
                     "algorithm=HMAC_MD5", "*/*", "text/html"]) | HEADER_TEXT, max_size=3)


# ---- bodies a naive check cannot read --------------------------------------------------------
# Each strategy gives (body, Content-Type, what a valid signature covers): the form's fields read
# byte for byte as Latin-1 when they are not text in its charset, nothing when the body is not
# a form (webhooks/signature.py). A check that reads the form with aiohttp's `await request.post()`
# before verifying raises on every one of them (UnicodeDecodeError, LookupError, or a file
# part's FileField in the signed string): a 500 and a traceback.

def fields_as_latin_1(body: bytes) -> MultiDict:
    return MultiDict(parse_qsl(body.decode("latin-1"), keep_blank_values=True,
                               encoding="latin-1"))


def is_utf_8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def is_unknown_charset(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return True
    return False


ASCII = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=12)
# Never UTF-8 between ASCII bytes: bytes no UTF-8 has, a lead byte without its continuation, a
# lone continuation, a surrogate, beyond U+10FFFF, an overlong form; or text in Latin-1.
RAW = st.sampled_from([b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xe2\x82", b"\xed\xa0\x80",
                       b"\xf4\x90\x80\x80", b"\xc0\xaf"]) | st.text(
    alphabet=st.characters(min_codepoint=0xa0, max_codepoint=0xff), min_size=1, max_size=6
).map(lambda text: text.encode("latin-1")).filter(lambda data: not is_utf_8(data))
plain_fields = st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(VALUES) | ASCII),
                        max_size=5)
UTF_8_FORMS = (FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=UTF-8",
               f'{FORM}; charset="utf-8"', f"{FORM}; charset=us-ascii")
# Not charsets (LookupError), or not text encodings (b"".decode("hex") is a LookupError too).
NOT_CHARSETS = ("klingon", "utf-9", "x-unknown", "hex", "zlib", "rot13", "base64", "bz2")


@st.composite
def not_utf_8_forms(draw):
    """A form, one of whose names or values holds raw bytes that are not UTF-8."""
    fields = draw(plain_fields)
    raw = draw(ASCII).encode() + draw(RAW) + draw(ASCII).encode()
    name = draw(st.sampled_from(FIELDS)).encode()
    where = draw(st.sampled_from(["value", "name", "whole body"]))
    odd = {"value": name + b"=" + raw, "name": raw + b"=1", "whole body": raw}[where]
    parts = [urlencode(fields).encode()] if fields else []
    parts.insert(draw(st.integers(0, len(parts))), odd)
    body = b"&".join(parts)
    assert not is_utf_8(body)
    return body, draw(st.sampled_from(UTF_8_FORMS)), fields_as_latin_1(body)


@st.composite
def unknown_charset_forms(draw):
    """A well-formed form whose Content-Type names a charset Python cannot decode it with."""
    fields = draw(plain_fields)
    charset = draw(st.sampled_from(NOT_CHARSETS) | st.from_regex(
        r"\A[a-z][a-z0-9-]{2,14}\Z").filter(is_unknown_charset))
    quoted = draw(st.booleans())
    body = urlencode(fields).encode() or b"CallSid=CA1"
    content_type = f'{FORM}; charset="{charset}"' if quoted else f"{FORM}; charset={charset}"
    return body, content_type, fields_as_latin_1(body)


@st.composite
def multipart_with_a_file(draw):
    """multipart/form-data with a file part among text parts (aiohttp reads it as a FileField)."""
    boundary = draw(st.from_regex(r"\A[A-Za-z0-9]{1,30}\Z")).encode()
    token = st.from_regex(r"\A[A-Za-z0-9._-]{1,20}\Z")
    texts = draw(st.lists(st.tuples(st.sampled_from(FIELDS), ASCII), max_size=3))
    parts = [b'Content-Disposition: form-data; name="%s"\r\n\r\n%s'
             % (name.encode(), value.encode()) for name, value in texts]
    content = draw(st.binary(max_size=64))
    part_type = draw(st.sampled_from([None, "audio/wav", "application/octet-stream",
                                      "text/plain"]))
    file_part = (b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
                 % (draw(st.sampled_from(FIELDS) | token).encode(), draw(token).encode())
                 + (b"Content-Type: %s\r\n" % part_type.encode() if part_type else b"")
                 + b"\r\n" + content)
    parts.insert(draw(st.integers(0, len(parts))), file_part)
    if any(b"--" + boundary in part for part in parts):
        boundary = b"b" * 40  # longer than any drawn boundary or content
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) \
        + b"--" + boundary + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary.decode()}", MultiDict()


UNREADABLE = {"not UTF-8": not_utf_8_forms(), "unknown charset": unknown_charset_forms(),
              "multipart with a file": multipart_with_a_file()}


@st.composite
def requests(draw):
    method = draw(st.sampled_from(["POST"] * 6 + ["GET", "PUT", "DELETE", "PATCH", "OPTIONS",
                                                  "HEAD"]))
    path = draw(st.sampled_from(ROUTES)) + draw(st.sampled_from(QUERIES))
    fields = draw(forms)
    kind = draw(st.sampled_from(["form", "form", "bytes", "multipart", "unreadable"]))
    covered = MultiDict(fields)  # what the "fields" signature covers
    if kind == "form":
        body = urlencode(fields).encode()
    elif kind == "unreadable":
        body, content_type, covered = draw(st.one_of(*UNREADABLE.values()))
    elif kind == "bytes":
        body = draw(st.binary(max_size=300))
    else:
        body = (b"--xyz\r\nContent-Disposition: form-data; name=\"CallSid\"\r\n\r\nCA1\r\n"
                b"--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.wav\"\r\n"
                b"Content-Type: audio/wav\r\n\r\n\x00\x01\xff\r\n--xyz--\r\n")
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))} if draw(st.booleans()) \
        else {}
    if kind == "form" and draw(st.booleans()):
        headers["Content-Type"] = FORM
    elif kind == "unreadable":
        headers["Content-Type"] = content_type
    headers.update(draw(EXTRA_HEADERS))
    signed = draw(st.sampled_from(["no", "fields", "url only", "wrong"]))
    if signed == "fields":
        headers[SIGNATURE_HEADER] = signature(path, covered if method == "POST" else {})
    elif signed == "url only":
        headers[SIGNATURE_HEADER] = signature(path, {})
    elif signed == "wrong":
        headers[SIGNATURE_HEADER] = draw(HEADER_TEXT)
    return method, path, body, headers, signed


def trouble_in(records: list[logging.LogRecord]) -> list[str]:
    """Errors, and tracebacks at any level, in the log records."""
    return [f"{r.name} {r.levelname}: {r.getMessage()}" for r in records
            if r.levelno >= logging.ERROR or r.exc_info or r.exc_text]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests())
async def test_generated_webhook_requests_never_get_a_5xx_nor_a_traceback(server, caplog,
                                                                          request):
    client, ledger = server
    method, path, body, headers, signed = request
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    before = await snapshot(ledger)
    answer = await client.request(method, path, data=body, headers=headers)
    await answer.read()
    told = (method, path, body[:200], headers, answer.status, (await answer.text())[:200])
    assert answer.status < 500, told
    # aiohttp's parser refuses some requests (a Content-Encoding it cannot decode) before the
    # app sees them: a malformed request, 400 and a warning
    malformed = any(r.name == "aiohttp.server" and r.getMessage().startswith(
        "malformed HTTP request") for r in caplog.records)
    if signed in ("no", "wrong"):
        assert answer.status == 403 or (answer.status == 400 and malformed), told
    if answer.status >= 400:
        assert await snapshot(ledger) == before
    assert not trouble_in(caplog.records)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", UNREADABLE)
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_generated_bodies_a_naive_check_cannot_read_are_403_unsigned_400_signed(
        server, caplog, route, kind, data):
    """The same body unsigned, then signed over what can be read of it: never a 500 (which a
    check doing `await request.post()` first gives), nothing changed, nothing in the logs;
    and the route still answers a signed form."""
    client, ledger = server
    path = route + data.draw(st.sampled_from(QUERIES), label="query")
    body, content_type, covered = data.draw(UNREADABLE[kind], label="body")
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    before = await snapshot(ledger)
    for headers, status in (({}, 403), ({SIGNATURE_HEADER: signature(path, covered)}, 400)):
        answer = await client.post(path, data=body,
                                   headers={"Content-Type": content_type, **headers})
        told = (path, body[:200], content_type, headers, answer.status,
                (await answer.text())[:200])
        assert answer.status == status, told
    assert await snapshot(ledger) == before
    assert not trouble_in(caplog.records)
    answer = await client.post(route, data=CALL, headers={SIGNATURE_HEADER: signature(route, CALL)})
    assert answer.status in (200, 204), await answer.text()


# ---- explicit cases at every route ---------------------------------------------------------------

CALL = {"CallSid": "CA" + "0" * 31 + "9", "From": "+32470000999", "Digits": "1",
        "CallStatus": "completed", "MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered"}


BODIES = {  # body, Content-Type, what its signature covers
    "not UTF-8": (b"CallSid=CA1&From=%FF%FE", FORM, {"CallSid": "CA1", "From": "\xff\xfe"}),
    "unknown charset": (urlencode(CALL).encode(), f"{FORM}; charset=klingon", CALL),
    "NUL": (urlencode({**CALL, "Digits": "1\x00"}).encode(), FORM, {**CALL, "Digits": "1\x00"}),
    "multipart with a file": (
        b"--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.wav\"\r\n"
        b"Content-Type: audio/wav\r\n\r\n\x00\x01\r\n--xyz--\r\n",
        "multipart/form-data; boundary=xyz", {}),
    "huge": (b"Digits=" + b"1" * (2 * 1024 * 1024), FORM, {}),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", BODIES)
async def test_every_route_refuses_what_it_cannot_read_without_changing_anything(
        server, caplog, route, case):
    client, ledger = server
    body, content_type, covered = BODIES[case]
    before = await snapshot(ledger)
    for headers, status in (({}, 403), ({SIGNATURE_HEADER: signature(route, covered)}, 400)):
        answer = await client.post(route, data=io.BytesIO(body), headers={
            "Content-Type": content_type, **headers})
        assert answer.status == status, await answer.text()
    assert await snapshot(ledger) == before
    assert not trouble_in(caplog.records)


@pytest.mark.parametrize("route", ROUTES)
async def test_every_route_still_answers_a_signed_form(server, route):
    client, _ = server
    answer = await client.post(route, data=CALL, headers={SIGNATURE_HEADER: signature(route, CALL)})
    assert answer.status in (200, 204)


# ---- malformed HTTP ------------------------------------------------------------------------------

MALFORMED = {
    "a Content-Length that is no number": b"POST /voice HTTP/1.1\r\nHost: x\r\n"
                                          b"Content-Length: nope\r\n\r\n",
    "a header without a colon": b"POST /voice/ean HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "a bad chunk": b"POST /sms/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"zz\r\nCallSid=CA1\r\n0\r\n\r\n",
    "an unknown HTTP version": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    "a second request line that is not HTTP": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                              b"\x16\x03\x01 not http\r\n\r\n",
}


async def raw(client, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_malformed_request_is_a_warning_without_a_traceback_and_is_in_the_access_log(
        server, caplog, case):
    client, ledger = server
    caplog.set_level(logging.DEBUG)
    before = await snapshot(ledger)
    answer = await raw(client, MALFORMED[case])
    assert b" 400 Bad Request\r\n" in answer
    assert not trouble_in(caplog.records)
    warned = [r for r in caplog.records if r.name == "aiohttp.server"
              and r.getMessage().startswith("malformed HTTP request")]
    # (aiohttp says at debug level what is not HTTP at all on a connection's first request)
    assert warned and all(r.levelno in (logging.WARNING, logging.DEBUG) for r in warned)
    assert any(r.name == "aiohttp.access" and " 400 " in r.getMessage() for r in caplog.records)
    assert await snapshot(ledger) == before


async def test_a_head_with_a_brotli_body_is_refused_by_the_app_not_by_a_broken_answer(server):
    """Found by the generated requests: without Brotli installed, aiohttp refused Content-
    Encoding: br itself, before the app, with a 400 whose body broke a HEAD's answer."""
    client, ledger = server
    before = await snapshot(ledger)
    import brotli
    for method in ("HEAD", "POST"):
        answer = await client.request(method, "/voice", data=brotli.compress(b"Digits=1"),
                                      headers={"Content-Encoding": "br"})
        await answer.read()
        assert answer.status == 403, method
    assert await snapshot(ledger) == before
