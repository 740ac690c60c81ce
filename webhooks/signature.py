"""Only Twilio may call the webhooks (the balance line, SMS delivery reports): each carries
X-Twilio-Signature, an HMAC of the public URL and the posted parameters under the account's auth
token (the twilio library's RequestValidator checks it). Without a valid one: 403 and no data.

Webhook Settings (Twilio's Webhooks configuration API) may sign with a key of your own and
HMAC-SHA256 instead; the request then names its algorithm in another header, and
TWILIO_AUTH_TOKEN holds that key's secret.

Any body is met with an answer, never a 500: Twilio posts a small UTF-8 form
(application/x-www-form-urlencoded), and a body that is not one — bytes that are not UTF-8 (or
not of the charset it names), a charset Python does not know, multipart (a file part), JSON, a NUL
character, more than MAX_BODY_BYTES, a transfer or content encoding that does not decode — is
refused before any handler sees it: 403 unless its signature is valid, 400 if it is. The
signature is checked against what can be read: a form's fields (read byte for byte, as Latin-1,
when they are not text in its charset), no fields at all when the body is not a form or cannot be
read. The handlers read the checked form with `form_of`, never the body again.
"""

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

FORM_TYPE = "application/x-www-form-urlencoded"
# Twilio's webhooks carry a few kilobytes of parameters; anything far larger is not Twilio's.
MAX_BODY_BYTES = 64 * 1024

# The form a webhook request was signed with, once checked (set by the middleware).
TWILIO_FORM = web.RequestKey("twilio_form", MultiDictProxy)


def public_url(public_base_url: str, request: web.Request) -> str:
    """The URL Twilio called and signed. Behind a reverse proxy the server sees another host and
    scheme, so it is rebuilt from the configured public base, never from the request's Host."""
    return public_base_url.rstrip("/") + str(request.rel_url)


@dataclass(frozen=True)
class Body:
    """What a webhook request's body gives: the parameters its signature is checked against, and
    either the form the handlers may read or, when there is none, why (`problem`)."""

    signed: MultiDict
    form: MultiDict | None
    problem: str | None = None
    broken: bool = False  # the body's stream failed: the connection cannot be used again


def _refused(problem: str, signed: MultiDict | None = None, *, broken: bool = False) -> Body:
    return Body(MultiDict() if signed is None else signed, None, problem, broken)


async def read_body(request: web.BaseRequest) -> Body:
    """The body of a webhook request, read as Twilio writes it (only a POST has one)."""
    if request.method != "POST":
        return Body(MultiDict(), MultiDict())
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return _refused(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _refused(f"the body is larger than {MAX_BODY_BYTES} bytes")
    except (HttpProcessingError, RequestPayloadError):  # chunks or compression that do not decode
        return _refused("the body could not be read (its transfer or content encoding)",
                        broken=True)
    if len(data) > MAX_BODY_BYTES:
        return _refused(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not data:
        return Body(MultiDict(), MultiDict())
    if request.content_type != FORM_TYPE:
        return _refused(f"the body is not a form ({FORM_TYPE})")
    charset = request.charset or "utf-8"
    fields = _text_fields(data, charset)
    if fields is None:
        return _refused(f"the form is not text in its charset ({charset[:40]!r})",
                        MultiDict(_byte_fields(data)))
    form = MultiDict(fields)
    if any("\x00" in name or "\x00" in value for name, value in form.items()):
        return _refused("the form holds a NUL character", form)
    return Body(form, form)


def _byte_fields(data: bytes) -> list[tuple[str, str]]:
    """Each field's bytes, percent-escapes decoded: Latin-1 maps every byte to one character."""
    return parse_qsl(data.decode("latin-1"), keep_blank_values=True, encoding="latin-1")


def _text_fields(data: bytes, charset: str) -> list[tuple[str, str]] | None:
    """The form's fields as text in its charset: each field's bytes decoded; None when they
    are not text in it (or Python knows no such text encoding)."""
    if charset.lower() in ("utf-8", "utf8"):
        # Twilio's: the body and its escapes decoded as they are parsed, which gives the same
        # fields whenever it succeeds (UTF-8 decodes piece by piece) at a third of the cost.
        try:
            return parse_qsl(data.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                             errors="strict")
        except UnicodeDecodeError:
            pass  # an escape may complete raw bytes: the bytes decide
    try:
        b"".decode(charset)  # a charset Python knows, and a text encoding (not "hex", "zlib")
        return [(name.encode("latin-1").decode(charset), value.encode("latin-1").decode(charset))
                for name, value in _byte_fields(data)]
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None


def _valid(validator: RequestValidator, url: str, params: MultiDict,
           request: web.BaseRequest) -> bool:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    try:
        # The URL as Twilio called it, first: one HMAC. The library's check then tries it with
        # and without a port (two HMACs and the URL parsed), for a signature made that way.
        if hmac.compare_digest(validator.compute_signature(url, params, algorithm), signature):
            return True
    except (UnicodeError, ValueError, TypeError):  # TypeError: a header not ASCII; ValueError:
        pass  # an algorithm the library refuses — its check below says so
    try:
        return validator.validate(url, params, signature, algorithm)
    except (UnicodeError, ValueError):  # a URL that cannot be encoded: never signed
        return False


def signature_middleware(auth_token: str, public_base_url: str):
    validator = RequestValidator(auth_token)

    @web.middleware
    async def require_twilio_signature(request: web.Request, handler):
        body = await read_body(request)
        if not _valid(validator, public_url(public_base_url, request), body.signed, request):
            return _refusal(403, "forbidden", body)
        if body.form is None:
            return _refusal(400, f"bad request: {body.problem}", body)
        request[TWILIO_FORM] = MultiDictProxy(body.form)
        return await handler(request)

    return require_twilio_signature


def _refusal(status: int, text: str, body: Body) -> web.Response:
    response = web.Response(status=status, text=text)
    if body.broken:
        response.force_close()
    return response


async def form_of(request: web.Request) -> MultiDictProxy:
    """The webhook's form, as its signature was checked (the middleware read it)."""
    form = request.get(TWILIO_FORM)
    if form is None:  # a handler mounted without the middleware: aiohttp's own reading
        return await request.post()  # type: ignore[return-value]
    return form
