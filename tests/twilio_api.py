"""A local server that speaks enough of Twilio's REST API (2010-04-01) Messages resource for
tests and benchmarks, and Prism in front of it to check every request and answer against
Twilio's own OpenAPI description.

    async with TwilioApi() as api:                      # http://127.0.0.1:<free port>
        async with prism_proxy(api.url) as url:         # Prism validating, forwarding to api
            sms = TwilioSms(api.account_sid, api.auth_token, "+3278000000", api_url=url)
            sid = await sms.send("+32470000000", "hello")
        assert len(api.posts) == 1 and api.messages[sid]["body"] == "hello"
        api.fail_next(503)          # the next request gets 503 (Twilio's error body, code 20503)
        api.reject_next(21211)      # the next request gets 400, code 21211
        api.delay_next(5.0)         # the next request is handled, its answer comes 5 s late
        api.drop_next()             # the next request is handled, the connection then dropped
        await api.send_status(sid, "delivered")   # a signed status callback

TwilioApi answers:
    POST /2010-04-01/Accounts/{AccountSid}/Messages.json      201, a Message resource
    GET  /2010-04-01/Accounts/{AccountSid}/Messages.json      200, a page (To, From, DateSent,
                                                              DateSent<, DateSent>, PageSize,
                                                              Page, PageToken)
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json 200, or 404 (code 20404)
with HTTP basic auth (account SID, auth token; 401 code 20003 otherwise) and Twilio's own
validation of a new message (21604 no To, 21603 no From, 21602 no Body, 21211 a To that is not
E.164, 21614 a To in `not_mobile`, 21617 a body over 1600 characters). Every request is
recorded in `requests` (`posts` for the messages created or refused) before anything else
happens to it. A message is created `queued` with date_sent null, as Twilio does; the
status callbacks move it on. No pytest in here: a benchmark uses it too.

Prism (node_modules/.bin/prism, from package.json: run `npm ci` at the repository root) runs
in proxy mode with --errors: a request that breaks the description gets 422 (or 401 without
basic auth) from Prism and is not forwarded, an answer that breaks it becomes a 500 with
the violations. One deviation from Twilio's file, made in a copy: the list envelopes' `uri`,
`first_page_uri`, `next_page_uri` and `previous_page_uri` are declared `format: uri` (an
absolute URI), but Twilio answers relative paths there (its own examples in the same file do)
and the twilio library needs a relative next_page_uri; that format is dropped from those four.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import re
import secrets
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

ROOT = Path(__file__).resolve().parent.parent
PRISM = ROOT / "node_modules" / ".bin" / "prism"
TWILIO_SPEC = (ROOT / "node_modules" / "@twilio" / "cli-core" / "src" / "services"
               / "twilio-api" / "twilio_api_v2010.json")

DEFAULT_ACCOUNT_SID = "AC" + "5a1d0" * 6 + "0d"  # "AC" + 32 hex digits, as the spec wants
DEFAULT_AUTH_TOKEN = "7e57" * 8
API_VERSION = "2010-04-01"
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

# Twilio's error messages; like Twilio's, some repeat the number (the adapter must not log them).
ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21611: (400, "This 'From' number has exceeded the maximum number of queued messages"),
    21614: (400, "'To' number {to} is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
}
STATUS_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}
FINAL_STATUSES = {"sent", "delivered", "undelivered", "failed", "read"}


def rfc2822(moment: datetime) -> str:
    """Twilio's dates: 'Thu, 24 Aug 2023 05:01:45 +0000'."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def segments(body: str) -> int:
    """How many SMS segments: GSM-7 (160 septets, 153 when split) or UCS-2 (70 / 67)."""
    try:
        import gsm0338  # noqa: F401  (registers the codec)
        septets = len(body.encode("gsm03.38"))
    except (ImportError, UnicodeEncodeError):
        units = len(body.encode("utf-16-le")) // 2
        return 1 if units <= 70 else math.ceil(units / 67)
    return 1 if septets <= 160 else math.ceil(septets / 153)


@dataclass
class Recorded:
    """One request as it arrived: `form` is the posted form, `query` the query string's
    parameters (the first value of each), `status` what it was answered (None: no answer)."""
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    status: int | None = None


@dataclass
class _Fault:
    kind: str  # "status", "delay", "drop"
    status: int = 0
    code: int | None = None
    seconds: float = 0.0
    method: str | None = None


@dataclass
class StatusCallback:
    """A status callback sent: where to, the parameters, the signature, the answer's status."""
    url: str
    params: dict[str, str]
    signature: str
    status: int


class TwilioApi:
    """Twilio's Messages API on 127.0.0.1 (see the module's doc). `clock` gives the time of a
    new message (replace it to make messages in the past); `not_mobile` holds numbers answered
    with 21614; `callback_base_url`, if set, replaces the scheme and host of status callback
    URLs for delivery (the signature is still over the URL as given, as behind a proxy)."""

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID,
                 auth_token: str = DEFAULT_AUTH_TOKEN, *, host: str = "127.0.0.1",
                 port: int = 0, callback_base_url: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host, self.port = host, port
        self.callback_base_url = callback_base_url
        self.clock = clock
        self.not_mobile: set[str] = set()
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, Any]] = {}  # by SID, in the order created
        self.callbacks: list[StatusCallback] = []
        self._status_callbacks: dict[str, str | None] = {}  # StatusCallback URLs, by SID
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = asyncio.Event()

    # -- running ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> TwilioApi:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # No access log: it would carry the query strings, phone numbers included.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._closing = asyncio.Event()
        self._session = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        self._closing.set()  # answers held back by delay_next go out now
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TwilioApi:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def reset(self) -> None:
        """Forgets the requests, messages, callbacks and scripted answers (not the port)."""
        self.requests.clear()
        self.messages.clear()
        self.callbacks.clear()
        self._status_callbacks.clear()
        self._faults.clear()
        self.not_mobile.clear()

    # -- scripting --------------------------------------------------------------------------

    def fail_next(self, status: int, *, code: int | None = None, times: int = 1,
                  method: str | None = None) -> None:
        """The next `times` requests (of `method`, if given) are answered `status` with
        Twilio's error body (code: 20429 for 429, 20500 for 500, 20503 for 503, ...)."""
        code = code if code is not None else STATUS_CODES.get(status)
        self._faults += [_Fault("status", status=status, code=code, method=method)] * times

    def reject_next(self, code: int, *, times: int = 1, method: str | None = "POST") -> None:
        """The next `times` POSTs are refused with Twilio's error `code` (21211, 21614, ...)."""
        status = ERRORS[code][0] if code in ERRORS else 400
        self._faults += [_Fault("status", status=status, code=code, method=method)] * times

    def delay_next(self, seconds: float, *, times: int = 1, method: str | None = None) -> None:
        """The next `times` requests are handled (a message is created), and answered only
        after `seconds` (or when the server closes): beyond a client's timeout, it has sent."""
        self._faults += [_Fault("delay", seconds=seconds, method=method)] * times

    def drop_next(self, *, times: int = 1, method: str | None = None) -> None:
        """The next `times` requests are handled (a message is created), then the connection
        is closed with no answer."""
        self._faults += [_Fault("drop", method=method)] * times

    def _take_fault(self, method: str) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.method is None or fault.method == method:
                return self._faults.pop(index)
        return None

    # -- what happened ----------------------------------------------------------------------

    @property
    def posts(self) -> list[Recorded]:
        """The POSTs to the Messages list, answered or not."""
        return [r for r in self.requests if r.method == "POST" and MESSAGES.match(r.path)]

    # -- the API ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()} \
            if request.method == "POST" else {}
        recorded = Recorded(request.method, request.path, dict(request.query), form,
                            dict(request.headers))
        self.requests.append(recorded)
        fault = self._take_fault(request.method)
        if fault is not None and fault.kind == "status":
            response = self._error(fault.code, fault.status, request, form)
        else:
            response = self._route(request, form)
        if fault is not None and fault.kind == "drop":
            request.transport.close()  # handled, and no answer ever
            raise asyncio.CancelledError
        if fault is not None and fault.kind == "delay":
            try:
                await asyncio.wait_for(self._closing.wait(), fault.seconds)
            except TimeoutError:
                pass
        recorded.status = response.status
        return response

    def _route(self, request: web.Request, form: dict[str, str]) -> web.Response:
        path = request.path
        match = MESSAGES.match(path) or MESSAGE.match(path)
        if match is None or request.method not in ("GET", "POST"):
            return self._error(20404, 404, request, form)
        if not self._authorized(request):
            response = self._error(20003, 401, request, form)
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        if match["account"] != self.account_sid:
            return self._error(20404, 404, request, form)
        if "sid" in match.groupdict():
            message = self.messages.get(match["sid"])
            if request.method != "GET" or message is None:
                return self._error(20404, 404, request, form)
            return web.json_response(message, headers=self._headers())
        if request.method == "POST":
            return self._create(request, form)
        return self._list(request)

    def _authorized(self, request: web.Request) -> bool:
        kind, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if kind.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(credentials).decode().partition(":")
        except ValueError:
            return False
        return (secrets.compare_digest(user, self.account_sid)
                and secrets.compare_digest(password, self.auth_token))

    def _create(self, request: web.Request, form: dict[str, str]) -> web.Response:
        to, body = form.get("To", ""), form.get("Body", "")
        sender = form.get("From") or None
        if not to:
            return self._error(21604, 400, request, form)
        if not sender and not form.get("MessagingServiceSid"):
            return self._error(21603, 400, request, form)
        if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
            return self._error(21602, 400, request, form)
        if not E164.match(to):
            return self._error(21211, 400, request, form)
        if to in self.not_mobile:
            return self._error(21614, 400, request, form)
        if len(body) > 1600:
            return self._error(21617, 400, request, form)
        sid = "SM" + secrets.token_hex(16)
        now = rfc2822(self.clock())
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": form.get("MessagingServiceSid") or None,
            "num_media": "0",
            "num_segments": str(segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        self.messages[sid] = message
        self._status_callbacks[sid] = form.get("StatusCallback") or None
        return web.json_response(message, status=201, headers=self._headers())

    def status_callback_of(self, sid: str) -> str | None:
        """The StatusCallback URL the message was created with."""
        return self._status_callbacks.get(sid)

    def _list(self, request: web.Request) -> web.Response:
        query = request.query
        found = [m for m in reversed(self.messages.values())  # the newest first, as Twilio
                 if (not query.get("To") or m["to"] == query["To"])
                 and (not query.get("From") or m["from"] == query["From"])
                 and _sent_matches(m, query)]
        try:
            size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            page = max(int(query.get("Page", "0")), 0)
        except ValueError:
            return self._error(20001, 400, request, {})
        start = page * size
        chunk = found[start:start + size]
        filters = [(k, query[k]) for k in ("To", "From", "DateSent", "DateSent<", "DateSent>")
                   if k in query]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json?"

        def page_uri(number: int) -> str:
            token = [("PageToken", f"PA{number * size}")] if number else []
            return base + urlencode(filters + [("PageSize", size), ("Page", number)] + token)

        body = {
            "end": start + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "messages": chunk,
            "next_page_uri": page_uri(page + 1) if start + size < len(found) else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": page_uri(page - 1) if page else None,
            "start": start,
            "uri": page_uri(page),
        }
        return web.json_response(body, headers=self._headers())

    def _error(self, code: int | None, status: int, request: web.Request,
               form: dict[str, str]) -> web.Response:
        """Twilio's error body: code, message, more_info, status."""
        text = ERRORS.get(code, (status, "Error"))[1] if code else "Error"
        text = text.format(to=form.get("To", ""), path=request.path)
        body = {"code": code, "message": text, "status": status,
                "more_info": f"https://www.twilio.com/docs/errors/{code}" if code else None}
        return web.json_response(body, status=status, headers=self._headers())

    @staticmethod
    def _headers() -> dict[str, str]:
        return {"Twilio-Request-Id": "RQ" + secrets.token_hex(16)}

    # -- incoming messages ------------------------------------------------------------------

    async def send_incoming(self, sender: str, body: str, url: str, *, to: str = "+32460200000",
                            sid: str | None = None) -> tuple[int, str, str]:
        """A customer's SMS to `to`, as Twilio posts it to the number's "a message comes in"
        webhook: its parameters, signed with X-Twilio-Signature for `url`. `sid`: deliver a
        message again (Twilio retries when an answer is late). Returns the answer's HTTP status
        and body, and the message's SID."""
        if self._session is None:
            raise RuntimeError("the TwilioApi is not started")
        sid = sid or "SM" + secrets.token_hex(16)
        params = {
            "ToCountry": "BE", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": body, "FromCountry": "BE", "To": to, "ToZip": "",
            "NumSegments": "1", "MessageSid": sid, "AccountSid": self.account_sid,
            "From": sender, "ApiVersion": API_VERSION,
        }
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        target = url
        if self.callback_base_url:
            base = urlsplit(self.callback_base_url)
            parts = urlsplit(url)
            target = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        async with self._session.post(
                target, data=params,
                headers={SIGNATURE_HEADER: signature, "I-Twilio-Idempotency-Token":
                         secrets.token_hex(16), "User-Agent": "TwilioProxy/1.1"}) as answer:
            return answer.status, await answer.text(), sid

    # -- status callbacks -------------------------------------------------------------------

    async def send_status(self, sid: str, status: str, *, error_code: int | None = None,
                          url: str | None = None) -> int:
        """Moves the message to `status` and POSTs Twilio's status callback for it, signed with
        X-Twilio-Signature, to its StatusCallback URL (or `url`). Returns the answer's HTTP
        status (the callback is recorded in `callbacks`)."""
        if self._session is None:
            raise RuntimeError("the TwilioApi is not started")
        message = self.messages[sid]
        url = url or self._status_callbacks.get(sid)
        if not url:
            raise ValueError(f"message {sid} has no StatusCallback")
        now = self.clock()
        message["status"] = status
        message["date_updated"] = rfc2822(now)
        if status in FINAL_STATUSES and status not in ("failed",) and not message["date_sent"]:
            message["date_sent"] = rfc2822(now)
        if error_code is not None:
            message["error_code"] = error_code
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message["from"] or "",
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message["to"],
        }
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if status == "delivered":
            params["RawDlrDoneDate"] = now.astimezone(UTC).strftime("%y%m%d%H%M")
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        target = url
        if self.callback_base_url:
            base = urlsplit(self.callback_base_url)
            parts = urlsplit(url)
            target = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        async with self._session.post(
                target, data=params,
                headers={SIGNATURE_HEADER: signature, "I-Twilio-Idempotency-Token":
                         secrets.token_hex(16), "User-Agent": "TwilioProxy/1.1"}) as answer:
            await answer.read()
        self.callbacks.append(StatusCallback(url, params, signature, answer.status))
        return answer.status


def _sent_matches(message: dict[str, Any], query) -> bool:
    """Twilio's DateSent filters, by GMT date ('YYYY-MM-DD') or by instant (the twilio library
    sends '2024-05-01T10:00:00Z'); a message not yet sent (date_sent null) never matches."""
    filters = [(k, query[k]) for k in ("DateSent", "DateSent<", "DateSent>") if k in query]
    if not filters:
        return True
    if not message["date_sent"]:
        return False
    sent = datetime.strptime(message["date_sent"], "%a, %d %b %Y %H:%M:%S %z")
    for key, value in filters:
        value = value.lstrip("<>=")
        if len(value) == 10:
            mine, theirs = sent.date(), datetime.strptime(value, "%Y-%m-%d").date()
        else:
            mine, theirs = sent, datetime.fromisoformat(value.replace("Z", "+00:00"))
        if ((key == "DateSent" and mine != theirs) or (key == "DateSent<" and mine > theirs)
                or (key == "DateSent>" and mine < theirs)):
            return False
    return True


# -- Prism ----------------------------------------------------------------------------------

class PrismError(RuntimeError):
    """Prism is not installed, or did not start."""


def relaxed_spec(source: Path = TWILIO_SPEC) -> Path:
    """A copy of Twilio's description without `format: uri` on the list envelopes' page URIs
    (see the module's doc), cached in the temporary directory by the original's content."""
    raw = source.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "saldo-prism" / f"{source.stem}.{digest}.json"
    if target.exists():
        return target
    spec = json.loads(raw)

    def relax(node: Any) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict) and "first_page_uri" in properties:
                for name in ("uri", "first_page_uri", "next_page_uri", "previous_page_uri"):
                    if isinstance(properties.get(name), dict):
                        properties[name].pop("format", None)
            for value in node.values():
                relax(value)
        elif isinstance(node, list):
            for value in node:
                relax(value)

    relax(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(spec))
    os.replace(partial, target)
    return target


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class PrismProxy:
    """Prism in proxy mode in front of `upstream_url`, validating against Twilio's description:

        node_modules/.bin/prism proxy <spec> <upstream_url> --host 127.0.0.1 --port <port>
            --errors --verboseLevel warn

    --errors: a request that breaks the description is answered 422 (401 without the basic
    auth it declares) and not forwarded; an answer that breaks it is replaced by a 500 whose
    JSON lists the violations. Without it Prism only logs them. Its output is kept:
    `violations()` lists its lines about violations and errors (a status the description does
    not declare for the operation, as for Twilio's 4xx/5xx answers, is a warning there).
    Synchronous start()/stop() (for a sync fixture), or `async with`."""

    def __init__(self, upstream_url: str, *, port: int | None = None, errors: bool = True,
                 spec: Path | None = None, startup_timeout: float = 60.0):
        self.upstream_url = upstream_url
        self.port = port
        self.errors = errors
        self.spec = spec
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None
        self.command: list[str] = []
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._lines: list[str] = []
        self._origin = 0  # where the output starts once Prism is warmed up
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrismProxy:
        if not PRISM.exists() or not TWILIO_SPEC.exists():
            missing = PRISM if not PRISM.exists() else TWILIO_SPEC
            raise PrismError(f"{missing} is missing: run `npm ci` at the repository root "
                             f"({ROOT}), which installs package-lock.json's devDependencies")
        began = time.monotonic()
        spec = self.spec or relaxed_spec()
        self.port = self.port or free_port()
        self.command = [str(PRISM), "proxy", str(spec), self.upstream_url,
                        "--host", "127.0.0.1", "--port", str(self.port),
                        "--verboseLevel", "warn"] + (["--errors"] if self.errors else [])
        env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0")
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", env=env,
            cwd=ROOT, start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="prism-output", daemon=True)
        self._reader.start()
        deadline = began + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                self.stop()
                raise PrismError(f"Prism exited ({self._process.returncode}):\n"
                                 + "\n".join(self.log()[-20:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PrismError(f"Prism did not listen within {self.startup_timeout} s:\n"
                                     + "\n".join(self.log()[-20:])) from None
                time.sleep(0.05)
        self._warm_up(deadline)
        self.startup_seconds = time.monotonic() - began
        return self

    def _warm_up(self, deadline: float) -> None:
        """Prism builds its router and validators on the first requests it gets (0.3 s here,
        over a second on a cold machine, beyond a test's client timeout): two requests it
        answers itself, never forwarding them, one without credentials (401), one with a
        message that lacks its To (422)."""
        path = f"{self.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
        credentials = base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:token".encode()).decode()
        for headers in ({}, {"Authorization": f"Basic {credentials}"}):
            request = urllib.request.Request(
                path, data=b"From=%2B3278000000&Body=warm-up", method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
            try:
                urllib.request.urlopen(request, timeout=max(1.0, deadline - time.monotonic()))
            except urllib.error.HTTPError:
                pass  # the refusal is the point
        # Its log lines about them come a little after the answers; what follows starts after.
        while len(self.violations()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        self._origin = self.mark()

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    def mark(self) -> int:
        """A position in the output, for `log(since=...)` and `violations(since=...)`."""
        with self._lock:
            return len(self._lines)

    def log(self, since: int | None = None) -> list[str]:
        """Prism's output from `since` (a mark), or from the end of its warm-up."""
        with self._lock:
            return self._lines[self._origin if since is None else since:]

    def violations(self, since: int | None = None) -> list[str]:
        """Prism's lines about violations (warnings and errors) and requests it refused."""
        return [line for line in self.log(since)
                if "Violation" in line or "terminated with error" in line]

    def __enter__(self) -> PrismProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    async def __aenter__(self) -> PrismProxy:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info) -> None:
        await asyncio.to_thread(self.stop)


class prism_proxy:  # noqa: N801  (used as a function: `async with prism_proxy(url) as url`)
    """`async with prism_proxy(upstream_url) as url:` Prism on a free port in front of the
    upstream; raises PrismError (saying to run `npm ci`) when Prism is not installed."""

    def __init__(self, upstream_url: str, **options: Any):
        self.proxy = PrismProxy(upstream_url, **options)

    async def __aenter__(self) -> str:
        await self.proxy.__aenter__()
        return self.proxy.url

    async def __aexit__(self, *exc_info) -> None:
        await self.proxy.__aexit__(*exc_info)


__all__ = ["DEFAULT_ACCOUNT_SID", "DEFAULT_AUTH_TOKEN", "PRISM", "TWILIO_SPEC", "PrismError",
           "PrismProxy", "Recorded", "StatusCallback", "TwilioApi", "prism_proxy",
           "relaxed_spec"]
