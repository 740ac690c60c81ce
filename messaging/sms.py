"""Text messages through Twilio's Messages API (REST API 2010-04-01), with the twilio library's
asynchronous client.

    async with TwilioSms(account_sid, auth_token, from_number="+3278000000",
                         api_url=settings.twilio_api_url,              # TWILIO_API_URL
                         status_callback="https://saldo.example.be/sms/status") as sms:
        sid = await sms.send("+32470000000", "Uw saldo ...")       # "SM" + 32 hex digits
        ...
        sid = await sms.find_sent("+32470000000", "Uw saldo ...", since=attempt_started_at)

`send` raises messaging.errors.TemporaryFailure or PermanentFailure (see there for which is
which); `find_sent` raises TemporaryFailure when it cannot tell.

Three things the library does not do the way a gateway needs, and how they are handled:

- The address. Every generated resource builds its URLs from its domain's `base_url`
  ("https://api.twilio.com" for the Api domain), so the adapter sets `client.api.base_url` to
  `api_url` (a test server, Prism, or a recording proxy). The client's `edge` and `region`,
  which the library may take from TWILIO_EDGE/TWILIO_REGION and would rewrite the host
  with, are cleared.
- Retries. AsyncTwilioHttpClient(max_retries=N) wraps its session in aiohttp_retry's
  RetryClient, which repeats any method, POST included, on a 5xx or an exception: one
  notification could go out twice. The adapter leaves max_retries at None (a plain
  aiohttp.ClientSession, one attempt per request) and does no retrying itself: retrying
  is the outbox's job: before every retry it asks `find_sent` whether an earlier
  attempt got through.
  The library also gives every request timeout=None, which aiohttp takes as "no timeout at
  all" (the client's own `timeout` is stored and never used), so the adapter's http
  client puts its timeout on every request.
- Logs. The library's http client logs every request at INFO on "twilio.async_http_client",
  query string included: for the message list that is the customer's phone number. The
  adapter's http client logs on "saldo.sms.http" instead, at DEBUG, the method and the path
  only (no query, no body, no headers); the library's logger is not used, so nothing needs
  turning down. Twilio's error messages repeat the number ("The 'To' number +32... is not
  a valid phone number"): they are not copied into the errors raised here.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from .errors import PermanentFailure, SendError, TemporaryFailure

http_log = logging.getLogger("saldo.sms.http")

TWILIO_API_URL = "https://api.twilio.com"

# Twilio error codes that come with a 4xx but are worth another try later.
RETRYABLE_CODES = {
    20003: "the account's credentials were refused (check the account SID and auth token)",
    20429: "too many requests",
    21611: "the 'From' number's queue is full",
    63017: "rate limit exceeded",
    63038: "the account's daily message limit is reached",
}
# What the usual permanent codes mean, for the reason (Twilio's own message may hold the number).
KNOWN_CODES = {
    21211: "the 'To' number is not a valid phone number",
    21214: "the 'To' number cannot be reached",
    21408: "sending to this region is not enabled",
    21602: "the body is missing",
    21606: "the 'From' number cannot send this message",
    21610: "the recipient has opted out (STOP)",
    21612: "the 'To' number cannot be reached from the 'From' number",
    21614: "the 'To' number is not a mobile number",
    21617: "the body is too long",
    20404: "no such resource (check the account SID)",
}
# How many of the newest messages to the number find_sent looks through, at most.
FIND_LIMIT = 200
_CONNECT_TIMEOUT = getattr(aiohttp, "ConnectionTimeoutError", ())  # aiohttp >= 3.10


class _HttpClient(AsyncTwilioHttpClient):
    """The library's asynchronous http client with one attempt per request, the timeout applied
    to every request, and logs without the query string (it may hold a phone number)."""

    def __init__(self, timeout: float):
        super().__init__(pool_connections=True, timeout=timeout, logger=http_log,
                         max_retries=None)  # None: a plain ClientSession, never a RetryClient

    async def request(self, method, url, params=None, data=None, headers=None, auth=None,
                      timeout=None, allow_redirects=False):
        headers = dict(headers or {})
        if auth is not None:  # the library would make an aiohttp.BasicAuth: deprecated in 3.14
            pair = f"{auth[0]}:{auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return await super().request(method, url, params=params, data=data, headers=headers,
                                     auth=None, allow_redirects=allow_redirects,
                                     timeout=self.timeout if timeout is None else timeout)

    def log_request(self, kwargs) -> None:
        self.logger.debug("%s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code, response) -> None:
        self.logger.debug("answered %s", status_code)


class TwilioSms:
    """Sends text messages from `from_number` with Twilio's Messages API at `api_url`."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *,
                 api_url: str = TWILIO_API_URL, status_callback: str | None = None,
                 timeout: float = 15.0, clock_slack: timedelta = timedelta(minutes=2)):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.account_sid = account_sid
        self.from_number = from_number
        self.api_url = api_url.rstrip("/")
        self.status_callback = status_callback
        self.timeout = timeout
        self.clock_slack = clock_slack  # how far Twilio's clock and ours may differ
        self._auth_token = auth_token
        self._http: _HttpClient | None = None
        self._client: Client | None = None

    def __repr__(self) -> str:
        return f"TwilioSms({self.api_url!r}, from_number={self.from_number!r})"

    def _messages(self):
        """The account's Messages list resource; the http session is opened on first use (an
        aiohttp session wants a running event loop)."""
        if self._client is None:
            self._http = _HttpClient(self.timeout)
            client = Client(self.account_sid, self._auth_token, http_client=self._http)
            client.edge = client.region = None  # they would rewrite the host of api_url
            client.api.base_url = self.api_url
            self._client = client
        return self._client.api.v2010.account.messages

    async def send(self, to: str, body: str) -> str:
        """Sends `body` to `to` (E.164) and returns the Message SID ("SM" + 32 hex digits).
        One POST, never repeated here. Raises TemporaryFailure or PermanentFailure."""
        try:
            message = await self._messages().create_async(
                to=to, from_=self.from_number, body=body,
                status_callback=self.status_callback or values.unset)
        except TwilioException as error:
            raise _from_twilio(error) from None
        except _CONNECT_TIMEOUT:
            raise TemporaryFailure(
                f"Twilio: no connection within {self.timeout:g} s") from None
        except TimeoutError:
            raise TemporaryFailure(
                f"Twilio: no answer within {self.timeout:g} s (the message may have been sent)") from None
        except aiohttp.ClientConnectorError as error:
            raise TemporaryFailure(f"Twilio: cannot connect ({type(error).__name__})") from None
        except aiohttp.ClientError as error:
            raise TemporaryFailure(
                f"Twilio: {type(error).__name__} (the message may have been sent)") from None
        except ValueError:  # a 2xx answer that is not JSON
            raise TemporaryFailure("Twilio: unreadable answer (the message may have been sent)") from None
        if not message.sid:
            raise TemporaryFailure("Twilio: the answer has no message SID")
        return message.sid

    async def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The SID of a message from `from_number` to `to` with exactly this body, created at
        `since` or later (less `clock_slack`), or None. For crash recovery: did an attempt
        whose outcome was lost go out?

        The list is filtered by To and From at Twilio and by creation time here, not with
        Twilio's DateSent filter: a message is created `queued` (or `accepted`, `scheduled`)
        with date_sent null until it is handed on, and a filter on date_sent does not return
        those, though they will go out. Twilio lists the newest first; the newest FIND_LIMIT
        are looked at. Raises TemporaryFailure when Twilio cannot be asked."""
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        cutoff = since - self.clock_slack
        try:
            async for message in await self._messages().stream_async(
                    to=to, from_=self.from_number, limit=FIND_LIMIT, page_size=50):
                created = message.date_created
                if created is not None and created < cutoff:
                    continue
                if message.body == body and message.sid:
                    return message.sid
        except TwilioException as error:
            failure = _from_twilio(error)
            raise TemporaryFailure(f"cannot look for the message: {failure.reason}",
                                   code=failure.code, status=failure.status) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise TemporaryFailure(
                f"cannot look for the message: Twilio: {type(error).__name__}") from None
        return None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None

    async def __aenter__(self) -> TwilioSms:
        self._messages()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()


def _from_twilio(error: TwilioException) -> SendError:
    """Twilio's error answer as TemporaryFailure (429, 5xx, 401, a retryable code) or
    PermanentFailure (any other 4xx). The reason has the status, the code and what the code
    means, never Twilio's message (it repeats the phone number)."""
    status = getattr(error, "status", None)
    code = getattr(error, "code", None)
    for answer in error.args if status is None else ():  # a page: TwilioException(text, answer)
        if isinstance(getattr(answer, "status_code", None), int):
            status = answer.status_code
            try:
                code = json.loads(answer.text).get("code")
            except (ValueError, TypeError, AttributeError):
                code = None
    if not isinstance(code, int) or code < 10000:  # the library puts the HTTP status there
        code = None                                # when the answer has no Twilio code
    if not isinstance(status, int):
        return TemporaryFailure(f"Twilio: {type(error).__name__}", code=code)
    label = f"HTTP {status}" + (f", code {code}" if code else "")
    meaning = RETRYABLE_CODES.get(code) or KNOWN_CODES.get(code)
    reason = f"Twilio refused the message ({label})" + (f": {meaning}" if meaning else "")
    if status >= 500:
        return TemporaryFailure(f"Twilio failed ({label})", code=code, status=status)
    if status in (401, 429) or code in RETRYABLE_CODES:
        return TemporaryFailure(reason, code=code, status=status)
    if 400 <= status < 500:
        return PermanentFailure(reason, code=code, status=status)
    return TemporaryFailure(f"Twilio: unexpected answer ({label})", code=code, status=status)


__all__ = ["TWILIO_API_URL", "TwilioSms"]
