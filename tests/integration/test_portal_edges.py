"""Every door of the pages and the API answers clearly, whatever comes in: non-ASCII in a CSRF
field or a cookie, raw bytes in a header, a form that is no form, a body over the pages'
limit, JSON that is not JSON or not of its shape, a lone surrogate or a NUL in it — 401, 403,
413 or 422 naming the field, never a 500, and nothing changed. Log-ins are throttled per
client address as well as per account."""

import asyncio
import json

import pytest

from ledger import Ledger, NonDisconnectionPeriod
from portal.access import Access
from tests.conftest import make_ean
from tests.integration.test_portal import PASSWORD, form_token, log_in, populate, served

ZOE = make_ean(1)


@pytest.fixture
async def site(database_url, clock):
    await populate(database_url, clock)
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    access = await Access.open(ledger.store)
    _, cpas = await access.add_client("namur office", cpas="CPAS-NAMUR")
    _, channel = await access.add_client("kiosks", channel="terminal")
    async for client in served(database_url, clock):
        client.tokens = {"cpas": cpas, "channel": channel}
        client.books = ledger
        yield client
    await ledger.close()


async def books(client) -> tuple:
    return await client.books.trial_balance(), await client.books.cached_balances()


async def raw_request(client, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """A request written byte by byte (what no HTTP client library would send)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                 + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


# ---- the pages ------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["é" * 10, "\u00ff", "x\x00", "🙂"])
async def test_a_non_ascii_csrf_field_is_403(site, token):
    before = await books(site)
    await form_token(site, "/cpas/login")
    answer = await site.post("/cpas/login", data={"csrf": token, "username": "a.dupont",
                                                  "password": PASSWORD}, allow_redirects=False)
    assert answer.status == 403 and "saldo_session" not in answer.cookies
    assert await books(site) == before


@pytest.mark.parametrize("cookie", [b"saldo_csrf=\xe9\xe9", b"saldo_session=\xff\xfe.\xe9",
                                    "saldo_session=é.é; saldo_csrf=ü".encode(),
                                    b"saldo_lang=\xc3"])
async def test_raw_bytes_in_a_cookie_are_no_session_and_no_500(site, cookie):
    status, _ = await raw_request(site, b"GET /cpas/ HTTP/1.1\r\nHost: x\r\nCookie: " + cookie
                                  + b"\r\n")
    assert status == 303  # to the log-in: no session
    status, body = await raw_request(site, b"GET /cpas/login HTTP/1.1\r\nHost: x\r\nCookie: "
                                     + cookie + b"\r\n")
    assert status == 200 and b'name="csrf"' in body
    status, _ = await raw_request(site, b"POST /cpas/login HTTP/1.1\r\nHost: x\r\nCookie: "
                                  + cookie + b"\r\nContent-Type: application/x-www-form-urlencoded"
                                  b"\r\n", b"csrf=\xe9&username=a.dupont")
    assert status == 403


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", b"csrf=\xff\xfe&username=\xe9"),
    ("application/x-www-form-urlencoded; charset=klingon", b"csrf=abc"),
    ("multipart/form-data; boundary=XX", b"--XX\r\nContent-Disposition: form-data; name=\"csrf\";"
     b" filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XX--\r\n"),
    ("multipart/form-data; boundary=XX", b"--XX\r\nbroken"),
    ("multipart/form-data", b"no boundary at all"),
])
async def test_a_body_that_is_no_form_is_403_and_changes_nothing(site, content_type, body):
    await log_in(site)
    before = await books(site)
    answer = await site.post(f"/cpas/residents/{ZOE[5:]}/topup", data=body,
                             headers={"Content-Type": content_type})
    assert answer.status == 403
    assert await books(site) == before


async def test_the_pages_body_limit_applies_to_the_pages(site):
    token = await form_token(site, "/cpas/login")
    answer = await site.post("/cpas/login", data={"csrf": token, "username": "a.dupont",
                                                  "password": "x" * 20_000})
    assert answer.status == 413


async def test_a_nul_in_a_form_is_refused_not_a_500(site):
    await log_in(site)
    before = await books(site)
    token = await form_token(site, f"/cpas/residents/{ZOE[5:]}")
    answer = await site.post(f"/cpas/residents/{ZOE[5:]}/topup",
                             data={"csrf": token, "amount": "20", "reference": "R\x00-1"})
    assert answer.status == 422
    assert await books(site) == before
    answer = await site.get("/cpas/", params={"q": "zo\x00e"})
    assert answer.status == 200
    token = await form_token(site, "/cpas/login")
    answer = await site.post("/cpas/login", data={"csrf": token, "username": "a.du\x00pont",
                                                  "password": PASSWORD})
    assert answer.status in (200, 401)


async def test_log_ins_are_throttled_per_client_address(site):
    """Twenty attempts from one address without a session: the next is refused, whatever the
    name and even with the right password. The count is in the database (the audit trail),
    under a keyed hash of the address, so every instance of the server shares it."""
    token = await form_token(site, "/cpas/login")
    for number in range(20):
        answer = await site.post("/cpas/login", data={"csrf": token, "username": f"n{number}",
                                                      "password": "wrong password!"})
        assert answer.status == 401
    answer = await site.post("/cpas/login", data={"csrf": token, "username": "a.dupont",
                                                  "password": PASSWORD}, allow_redirects=False)
    assert answer.status == 401 and "saldo_session" not in answer.cookies
    trail = await site.books.audit_trail(200)
    assert not any("127.0.0.1" in json.dumps(record) for record in trail)
    assert sum(r["action"] == "log-in-attempt" for r in trail) == 20


# ---- the API --------------------------------------------------------------------------------

@pytest.mark.parametrize("authorization", [b"Bearer \xff\xfe\xfd", b"Bearer saldo_\xe9t\xe9",
                                           "Bearer saldo_🙂".encode(), b"\xc3\x28 token",
                                           b"Bearer a\x01b"])
async def test_raw_bytes_in_authorization_are_401(site, authorization):
    for head in (b"GET /api/v1/residents HTTP/1.1\r\n",
                 b"POST /api/v1/topups HTTP/1.1\r\nContent-Type: application/json\r\n"):
        status, body = await raw_request(site, head + b"Host: x\r\nAuthorization: "
                                         + authorization + b"\r\n", b"{}")
        assert status in (400, 401), body  # 400: what aiohttp's parser refuses itself
        if status == 401:
            assert json.loads(body)["error"]["code"] == "unauthorized"


def topup(reference, ean=ZOE, amount=2000) -> bytes:
    return json.dumps({"ean": ean, "amount_cents": amount, "reference": reference}).encode()


@pytest.mark.parametrize("kind", ["cpas", "channel"])
@pytest.mark.parametrize("body, content_type, field", [
    (b'{"ean": "%s", "amount_cents": 2000, "reference": "\\ud800"}' % ZOE.encode(),
     "application/json", "reference"),
    (b'{"ean": "\\udfff%s", "amount_cents": 2000, "reference": "R-1"}' % ZOE.encode(),
     "application/json", "ean"),
    (topup("R\x00-1"), "application/json", "reference"),
    (topup("R-1\n"), "application/json", "reference"),
    (b'{"ean": ', "application/json", None),
    (b"\xff\xfe{}", "application/json", None),
    (topup("R-1"), "application/json; charset=klingon", None),
    (b"[1, 2]", "application/json", None),
    (b'{"ean": {"a": 1}, "amount_cents": 2000, "reference": "R"}', "application/json", "ean"),
    (b'{"ean": "%s", "amount_cents": "20", "reference": "R"}' % ZOE.encode(),
     "application/json", "amount_cents"),
    (b'{"ean": "%s", "amount_cents": 2000, "reference": ["R"]}' % ZOE.encode(),
     "application/json", "reference"),
    (b'{"ean": "%s", "amount_cents": 1e400, "reference": "R"}' % ZOE.encode(),
     "application/json", "amount_cents"),
    (b'{"ean": "%s", "amount_cents": 2000, "reference": "R", "x": 1}' % ZOE.encode(),
     "application/json", "x"),
    (b"[" * 100_000, "application/json", None),
])
async def test_a_top_up_that_is_not_one_is_422_naming_the_field(site, kind, body, content_type,
                                                                 field):
    before = await books(site)
    answer = await site.post("/api/v1/topups", data=body, headers={
        "Authorization": f"Bearer {site.tokens[kind]}", "Content-Type": content_type})
    error = (await answer.json())["error"]
    assert answer.status in (413, 422), error
    if answer.status == 422:
        assert error.get("field") == field and error["code"] in ("invalid_json", "invalid_input")
    assert await books(site) == before


async def test_a_top_up_over_the_apis_body_limit_is_413(site):
    answer = await site.post("/api/v1/topups", data=topup("R" * 20_000), headers={
        "Authorization": f"Bearer {site.tokens['channel']}", "Content-Type": "application/json"})
    assert answer.status == 413 and (await answer.json())["error"]["code"] == "too_large"
