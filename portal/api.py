"""The JSON API, `/api/v1`: a sub-app with its own middleware (bearer tokens, JSON errors).

Two kinds of client, each with a bearer token made by `saldo api-client add`:
- a CPAS reads its own residents and records the top-ups paid at its office;
- a payment channel (terminal, online, transfer) records top-ups on any EAN, and reads nothing.

Money is in integer cents, moments are ISO 8601 with their Europe/Brussels offset. Every error
is `{"error": {"code", "message", "field"?, "refusal"?, "params"?}}`: `message` is English;
`refusal` is the ledger's stable reason (ledger.errors.REFUSALS) and `params` its values, for a
client to say it in its user's language. An unknown EAN and another CPAS's EAN get the same
404. The contract is `openapi.json` beside this file, served at `/api/v1/openapi.json`.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from ledger import (
    BRUSSELS,
    InvalidInput,
    Ledger,
    LedgerError,
    MessageRecord,
    ReferenceConflict,
    TopUpResult,
    UnknownAccount,
)
from ledger.cpas import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    QUERY_MAX_LENGTH,
    RESIDENT_SORTS,
    Day,
    DebtLine,
    PostingLine,
    ResidentFile,
)

from .access import Access, ApiClient
from .keys import API, API_CLIENT
from .state import ApiState

log = logging.getLogger("saldo.api")

OPENAPI_FILE = Path(__file__).resolve().parent / "openapi.json"
BODY_LIMIT = 16 * 1024  # a top-up is a hundred bytes
TOPUP_FIELDS = ("ean", "amount_cents", "reference")
# The ledger's names for the fields it refuses, as the API's clients know them.
LEDGER_FIELDS = {"amount": "amount_cents"}
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
UNKNOWN_EAN = {
    "cpas": "No resident under your mandate has this EAN.",
    "channel": "No prepayment account has this EAN.",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An answer other than success: its status, code, message, perhaps the field at fault and
    the ledger's refusal it amounts to (whose code and params the answer carries)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None, refused: LedgerError | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}
        self.refused = refused


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None, *,
                   refused: LedgerError | None = None) -> web.Response:
    """`refused`: the ledger's refusal, whose code and params go beside the English message."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    if refused is not None:
        error["refusal"], error["params"] = refused.code, dict(refused.params)
    return web.json_response({"error": error}, status=status,
                             headers={**HEADERS, **(headers or {})})


# ---- serializers ----------------------------------------------------------------------------

def moment(value: datetime | None) -> str | None:
    return value.astimezone(BRUSSELS).isoformat() if value else None


def day_text(value: date | None) -> str | None:
    return value.isoformat() if value else None


def debt_json(debt: DebtLine) -> dict[str, Any]:
    return {"kind": debt.kind, "principal_cents": debt.principal_cents,
            "outstanding_cents": debt.outstanding_cents, "daily_cents": debt.daily_cents}


def history_json(day: Day) -> dict[str, Any]:
    return {"day": day_text(day.day), "consumption_cents": day.consumption_cents,
            "balance_cents": day.balance_cents}


def posting_json(posting: PostingLine) -> dict[str, Any]:
    return {"at": moment(posting.at), "kind": posting.kind, "amount_cents": posting.amount_cents,
            "day": day_text(posting.day), "reference": posting.receipt}


def message_json(message: MessageRecord) -> dict[str, Any]:
    return {"id": message.id, "event": message.event_name, "event_at": moment(message.event_at),
            "audience": message.audience, "channel": message.channel, "state": message.state,
            "attempts": message.attempts, "created_at": moment(message.created_at),
            "sent_at": moment(message.sent_at), "reported_at": moment(message.reported_at),
            "error": message.error, "superseded_by": message.superseded_by_event}


def resident_file_json(file: ResidentFile) -> dict[str, Any]:
    return {"name": file.name, "balance": file.view.to_json(), "going_without": file.going_without,
            "debts": [debt_json(d) for d in file.debts],
            "history": [history_json(d) for d in file.history],
            "postings": [posting_json(p) for p in file.postings],
            "messages": [message_json(m) for m in file.messages]}


def topup_json(ean: str, amount_cents: int, reference: str, channel: str,
               result: TopUpResult, *, balance_shown: bool) -> dict[str, Any]:
    return {"ean": ean, "amount_cents": amount_cents, "reference": reference, "channel": channel,
            "balance_cents": result.balance_cents if balance_shown else None,
            "replayed": result.replayed}


# ---- input ----------------------------------------------------------------------------------

async def topup_body(request: web.Request) -> tuple[str, int, str]:
    """The EAN, the amount and the reference of a top-up, or ApiError 422 naming the field."""
    if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise ApiError(422, "invalid_json", "The body is JSON in UTF-8 (RFC 8259), not "
                       f"{request.charset[:40]!r}.")
    try:
        # The bytes, decoded here: a Content-Type naming an unknown charset is no 500.
        body = json.loads((await request.read()).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(422, "invalid_json", "The body must be a JSON object: "
                       '{"ean": "...", "amount_cents": 2000, "reference": "..."}.') from None
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_json", "The body must be a JSON object, not "
                       f"{type(body).__name__ if body is not None else 'null'}.")
    if "channel" in body:
        raise ApiError(422, "invalid_input", "The payment channel is set by your token; "
                       "leave it out of the body.", "channel")
    unknown = sorted(set(body) - set(TOPUP_FIELDS))
    if unknown:
        raise ApiError(422, "invalid_input", f"Unknown field {unknown[0]!r}: a top-up has "
                       f"{', '.join(TOPUP_FIELDS)}.", unknown[0])
    for name in TOPUP_FIELDS:
        if body.get(name) is None:
            raise ApiError(422, "invalid_input", f"The field {name!r} is required.", name,
                           refused=InvalidInput(name, "is required", "value.required"))
    ean, amount, reference = body["ean"], body["amount_cents"], body["reference"]
    if not (isinstance(ean, str) and ean.isascii() and ean.isdigit() and len(ean) in (13, 18)):
        raise ApiError(422, "invalid_input", "The EAN is a string of 18 digits, or its last 13.",
                       "ean", refused=InvalidInput("ean", "18 digits or the last 13",
                                                   "ean.malformed", text=str(ean)[:40]))
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ApiError(422, "invalid_input", "The amount is a whole number of cents "
                       "(2000 for 20,00 €).", "amount_cents")
    for name in ("ean", "reference"):
        if isinstance(body[name], str) and not _storable(body[name]):
            raise ApiError(422, "invalid_input", f"The field {name!r} holds a character no text "
                           "may hold (a control character such as NUL, or a lone surrogate "
                           "such as \\ud800).", name,
                           refused=InvalidInput(name, "unreadable characters", "text.nul"
                                                if "\x00" in body[name] else "value.refused"))
    if not isinstance(reference, str) or not reference.strip():
        raise ApiError(422, "invalid_input", "The reference is a non-empty string identifying "
                       "this payment (a receipt or transaction number).", "reference",
                       refused=InvalidInput("reference", "a non-empty string",
                                            "reference.missing"))
    return ean, amount, reference.strip()  # its length: the ledger's limit, with its code


def residents_query(request: web.Request) -> tuple[str, str, int, int]:
    """The list's sort, search, page (from 1) and limit from the query string, or ApiError
    422 naming the parameter."""
    values = request.query
    sort = values.get("sort", "attention")
    if sort not in RESIDENT_SORTS:
        raise ApiError(422, "invalid_input", f"The sort is one of {', '.join(RESIDENT_SORTS)}.",
                       "sort")
    query = values.get("q", "")
    if len(query) > QUERY_MAX_LENGTH or not query.isprintable():
        refused = (InvalidInput("q", "contains a NUL character", "text.nul") if "\x00" in query
                   else InvalidInput("q", f"at most {QUERY_MAX_LENGTH} characters",
                                     "text.too_long", max_length=QUERY_MAX_LENGTH,
                                     length=len(query)) if len(query) > QUERY_MAX_LENGTH
                   else InvalidInput("q", "printable characters only", "value.refused"))
        raise ApiError(422, "invalid_input", f"The search has at most {QUERY_MAX_LENGTH} "
                       "printable characters (a name, or digits of the EAN).", "q",
                       refused=refused)
    numbers = []
    for name, default, low, high in (("page", 1, 1, 10**7), ("limit", PAGE_SIZE, 1,
                                                               MAX_PAGE_SIZE)):
        text = values.get(name, str(default))
        if not (text.isascii() and text.isdigit() and len(text) <= 10
                and low <= int(text) <= high):
            raise ApiError(422, "invalid_input", f"The {name} is a whole number from {low} to "
                           f"{high}.", name)
        numbers.append(int(text))
    return sort, query, numbers[0], numbers[1]


def _storable(text: str) -> bool:
    """No control character (NUL…) and no lone surrogate: text that every database keeps."""
    return all(c.isprintable() or c == " " for c in text)


def bearer_token(request: web.Request) -> str | None:
    """The token of 'Authorization: Bearer <token>', or None. Ours are printable ASCII: bytes
    of another kind (aiohttp hands them on as surrogates) are no token of ours, not a 500."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if not (token.isascii() and token.isprintable()):
        return ""
    return token if scheme.lower() == "bearer" and token else None


def client_of(request: web.Request, *kinds: str) -> ApiClient:
    client = request[API_CLIENT]
    if client.kind not in kinds:
        raise ApiError(403, "forbidden", "A payment channel's token may only record top-ups "
                       "(POST /api/v1/topups)." if client.kind == "channel"
                       else "This token may not do this.")
    return client


def actor(client: ApiClient) -> str:
    return f"api:{client.id}"


# ---- the app --------------------------------------------------------------------------------

@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown paths and methods first (the routes are public), then the bearer token; every
    error becomes JSON, and nothing unexpected shows its traceback."""
    # A sub-app's client_max_size is not applied by aiohttp (the root app's is): here it is.
    request = request.clone(client_max_size=BODY_LIMIT)
    try:
        exception = request.match_info.http_exception
        if exception is not None:
            raise exception
        if request.match_info.handler != openapi:
            await _authenticate(request)
        response = await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message, error.field,
                              error.headers, refused=error.refused)
    except UnknownAccount as refused:
        kind = request[API_CLIENT].kind if API_CLIENT in request else "channel"
        return error_response(404, "unknown_ean", UNKNOWN_EAN[kind], "ean", refused=refused)
    except ReferenceConflict as refused:
        return error_response(409, "reference_conflict", "This reference was already used "
                              "for another top-up (another amount or EAN).", "reference",
                              refused=refused)
    except InvalidInput as error:
        field = LEDGER_FIELDS.get(error.field, error.field)
        return error_response(422, "invalid_input", _sentence(error.message), field,
                              refused=error)
    except web.HTTPException as error:
        return _http_error(request, error)
    except Exception:
        route = request.match_info.route.resource
        # The route, not the path: logs never show a whole EAN.
        log.exception("API %s %s failed", request.method,
                      route.canonical if route else "?")
        return error_response(500, "internal_error", "Something went wrong on our side; "
                              "it is logged. Try again later, or tell the platform's operator.")
    response.headers.update(HEADERS)
    return response

async def _authenticate(request: web.Request) -> None:
    token = bearer_token(request)
    if token == "":
        raise ApiError(401, "unauthorized", "The Authorization header holds bytes that are "
                       "not a token (tokens are printable ASCII: 'Bearer saldo_…').",
                       headers={"WWW-Authenticate":
                                'Bearer realm="saldo", error="invalid_token"'})
    if token is None:
        raise ApiError(401, "unauthorized", "This API needs a bearer token: "
                       "'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": 'Bearer realm="saldo"'})
    client = await request.app[API].access(request).client(token)
    if client is None:
        log.warning("API: refused an unknown or revoked token from %s", request.remote)
        raise ApiError(401, "unauthorized", "The bearer token is unknown or revoked.",
                       headers={"WWW-Authenticate":
                                'Bearer realm="saldo", error="invalid_token"'})
    request[API_CLIENT] = client

async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[API].document, content_type="application/json")

async def residents(request: web.Request) -> web.Response:
    client = client_of(request, "cpas")
    assert client.cpas is not None
    sort, query, number, limit = residents_query(request)
    page = await request.app[API].ledger(request).residents(
        client.cpas, actor=actor(client), sort=sort, query=query,
        offset=(number - 1) * limit, limit=limit)

    def link(to: int) -> str:
        return str(request.rel_url.update_query(page=str(to), limit=str(limit)))

    return web.json_response({
        "residents": [{"name": r.name, "balance": r.view.to_json(),
                       "going_without": r.going_without} for r in page.residents],
        "total": page.total, "counts": page.counts, "page": number, "limit": limit,
        "next": link(number + 1) if number * limit < page.total else None,
        "previous": link(number - 1) if number > 1 else None})

async def resident(request: web.Request) -> web.Response:
    client = client_of(request, "cpas")
    assert client.cpas is not None
    file = await request.app[API].ledger(request).cpas.resident(
        client.cpas, request.match_info["ean"], actor=actor(client))
    return web.json_response(resident_file_json(file))

async def top_up(request: web.Request) -> web.Response:
    client = client_of(request, "cpas", "channel")
    ean, amount, reference = await topup_body(request)
    ledger = request.app[API].ledger(request)
    if client.kind == "cpas":
        assert client.cpas is not None
        result = await ledger.cpas.top_up(client.cpas, ean, amount, reference,
                                          actor=actor(client))
        channel = "cpas"
    else:
        assert client.channel is not None
        channel = client.channel
        # Each client numbers its own payments: another client's reference is not a replay.
        result = await ledger.top_up(ean, amount, channel, reference, actor=actor(client),
                                     issuer=f"client-{client.id}")
    # A channel reads no balances: a replay (of any reference it knows) must not become one.
    shown = client.kind == "cpas" or not result.replayed
    return web.json_response(topup_json(ean, amount, reference, channel, result,
                                        balance_shown=shown),
                             status=200 if result.replayed else 201)


def _sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _http_error(request: web.Request, error: web.HTTPException) -> web.Response:
    headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
    if error.status == 404:
        return error_response(404, "not_found", f"No such path: {request.rel_url.path}. "
                              "The paths are in /api/v1/openapi.json.", headers=headers)
    if error.status == 405:
        return error_response(405, "method_not_allowed", f"{request.method} is not allowed here"
                              f" (allowed: {error.headers.get('Allow', 'none')}).",
                              headers=headers)
    if error.status == 413:
        return error_response(413, "too_large", "The body is too large.")
    return error_response(error.status, "http_error", error.reason or "Refused.", headers=headers)


def load_document(path: Path = OPENAPI_FILE) -> bytes:
    """The OpenAPI document, checked to be JSON when the app is built, not when it is asked for."""
    document = path.read_bytes()
    json.loads(document)
    return document


def create_api_app(ledger_getter: Callable[[web.Request], Ledger],
                   access_getter: Callable[[web.Request], Access]) -> web.Application:
    """To mount at /api/v1. The getters find the open ledger and access from a request."""
    app = web.Application(middlewares=[_middleware])

    async def load(app: web.Application):
        app[API] = ApiState(ledger_getter, access_getter, load_document())
        yield

    app.cleanup_ctx.append(load)
    app.router.add_get("/openapi.json", openapi, allow_head=False)
    app.router.add_get("/residents", residents, allow_head=False)
    app.router.add_get("/residents/{ean}", resident, allow_head=False)
    app.router.add_post("/topups", top_up)
    return app
