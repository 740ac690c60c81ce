"""Pages for CPAS staff: a sub-app with its own middleware (security headers, CSRF, sessions).

Works without JavaScript: plain links and forms. Every word is in locales/{fr,nl,de}/portal.json.
Cookies: the session (its token, signed; HTTP-only; SameSite=Lax), the CSRF secret (signed
double submit: each form carries an HMAC of it), and the chosen language.
"""

import ipaddress
import logging
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

import jinja2
from aiohttp import web
from markupsafe import Markup

from ledger import (
    LANGUAGES,
    InvalidInput,
    Ledger,
    ReferenceConflict,
    UnknownAccount,
    parse_cents,
)
from ledger.cpas import ResidentFile
from wording import day_month, money

from .access import MAX_PASSWORD_LENGTH, USERNAME_LENGTH, Access, LoginRefused, Staff
from .chart import ChartLabels, balance_chart
from .guard import BODY_LIMIT, security, session
from .keys import NEW_CSRF_SECRET, PORTAL, SESSION_TOKEN, STAFF
from .rendering import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    language_of,
    mount,
    not_found,
    render,
    url,
)
from .residents import SORTS, needs_attention
from .state import LineWords, Portal, PortalConfig
from .texts import history_title, load_texts, refusal_text

log = logging.getLogger("saldo.portal")

PAGE_SIZE = 50  # residents a page of the list

def staff_of(request: web.Request) -> Staff:
    return request[STAFF]


async def login_page(request: web.Request) -> web.Response:
    if STAFF in request:
        raise web.HTTPSeeOther(url(request, "home"))
    return render(request, "login.html")


async def log_in(request: web.Request) -> web.Response:
    portal = request.app[PORTAL]
    ledger = portal.ledger(request)
    form = await request.post()
    username = _printable(str(form.get("username", ""))).strip().lower()[:USERNAME_LENGTH]
    signed = request.cookies.get(SESSION_COOKIE, "")
    try:
        staff, token = await portal.access(request).log_in(
            username, str(form.get("password", ""))[:MAX_PASSWORD_LENGTH],
            replacing=portal.unsigned(signed, "session") if signed else None,
            client=portal.sign(client_address(request), "client")[:32])
    except LoginRefused as refused:
        # What was typed as a name is kept only if it is one: it may be a password.
        await ledger.audit(actor=f"web:{username}" if refused.why not in ("unknown", "throttled")
                           else "web:?",
                           action="log-in", ean=None, outcome=refused.why)
        # One answer for every refusal: the page must not tell which names exist.
        return render(request, "login.html", status=401,
                      error=refusal_text(refused, portal.texts[language_of(request)],
                                         language_of(request)), username=username)
    await ledger.audit(actor=f"staff:{staff.username}", action="log-in", ean=None,
                       outcome="ok", detail=staff.cpas)
    response = web.HTTPSeeOther(url(request, "home"))
    response.set_cookie(SESSION_COOKIE, f"{token}.{portal.sign(token, 'session')}",
                        httponly=True, samesite="Lax", secure=portal.config.secure_cookies,
                        path=mount(request))
    request[NEW_CSRF_SECRET] = secrets.token_urlsafe(24)  # a new one with each session
    if LANGUAGE_COOKIE not in request.cookies:
        _remember_language(request, response, staff.language)
    raise response


async def log_out(request: web.Request) -> web.Response:
    portal = request.app[PORTAL]
    staff = staff_of(request)
    ledger = portal.ledger(request)
    await portal.access(request).log_out(request[SESSION_TOKEN])
    await ledger.audit(actor=f"staff:{staff.username}", action="log-out", ean=None, outcome="ok")
    request[NEW_CSRF_SECRET] = secrets.token_urlsafe(24)
    response = web.HTTPSeeOther(url(request, "login"))
    response.del_cookie(SESSION_COOKIE, path=mount(request))
    raise response


def client_address(request: web.Request) -> str:
    """Where a log-in comes from, for its throttle. Behind a reverse proxy (a peer on a private
    or loopback address) the client is the last address the proxy added to X-Forwarded-For;
    a peer on a public address is the client itself (its header could be anything)."""
    peer = request.remote or ""
    try:
        behind_proxy = ipaddress.ip_address(peer).is_private
    except ValueError:
        behind_proxy = False
    forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
    if behind_proxy and forwarded:
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return peer


def _remember_language(request: web.Request, response: web.StreamResponse, language: str
                       ) -> None:
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="Lax",
                        secure=request.app[PORTAL].config.secure_cookies, path=mount(request))


async def choose_language(request: web.Request) -> web.Response:
    form = await request.post()
    language = str(form.get("language", ""))
    back = str(form.get("back", ""))
    if not back.startswith(mount(request).rstrip("/") + "/") or "//" in back:
        back = url(request, "home")  # never a redirect elsewhere
    response = web.HTTPSeeOther(back)
    if language in LANGUAGES:
        _remember_language(request, response, language)
    raise response


def _printable(text: str) -> str:
    """What was typed, without control characters (NUL…) or lone surrogates: no database
    takes them, and nobody types them."""
    return "".join(c for c in text if c.isprintable())


def _page_number(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) <= 6 \
        and int(text) > 0 else 1


async def residents_page(request: web.Request) -> web.Response:
    """One page of the residents (PAGE_SIZE), in the order asked, with the counts by state of
    them all on top: sorting, search and counting are the database's."""
    staff = staff_of(request)
    ledger = request.app[PORTAL].ledger(request)
    sort = request.query.get("sort", "attention")
    sort = sort if sort in SORTS else "attention"
    query = _printable(request.query.get("q", "")).strip()[:40]
    number = _page_number(request.query.get("page", ""))
    actor = f"staff:{staff.username}"
    page = await ledger.residents(staff.cpas, actor=actor, sort=sort, query=query,
                                  offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, -(-page.total // PAGE_SIZE))
    if number > pages:  # past the end (the list got shorter): its last page
        number = pages
        page = await ledger.residents(staff.cpas, actor=actor, sort=sort, query=query,
                                      offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    shown = page.residents

    def page_link(n: int) -> str:
        values = {"sort": sort, **({"q": query} if query else {}), "page": str(n)}
        return str(request.app.router["home"].url_for().with_query(values))

    return render(request, "residents.html", sort=sort, sorts=SORTS, query=query,
                  attention=[r for r in shown if needs_attention(r)] if sort == "attention"
                  else [], others=[r for r in shown if not needs_attention(r)]
                  if sort == "attention" else shown, total=page.total, counts=page.counts,
                  page=number, pages=pages, page_link=page_link)


async def resident_page(request: web.Request) -> web.Response:
    staff = staff_of(request)
    portal = request.app[PORTAL]
    language = language_of(request)
    try:
        file = await portal.ledger(request).cpas.resident(
            staff.cpas, request.match_info["ean"], actor=f"staff:{staff.username}")
    except UnknownAccount:
        return not_found(request)
    texts = portal.texts[language]
    done = request.query.get("done", "")
    notice = None
    if done in ("topup", "replayed"):
        key = "topup_done" if done == "topup" else "topup_replayed"
        notice = texts[key].format(balance=money(file.view.balance_cents, language))
    return _resident_response(request, file, notice=notice)


def _resident_response(request: web.Request, file: ResidentFile, *, status: int = 200,
                       notice: str | None = None, amount: str = "", reference: str = "",
                       error: str | None = None) -> web.Response:
    """A resident's page: after a look, or with the top-up form as it was sent back."""
    portal = request.app[PORTAL]
    language = language_of(request)
    return render(request, "resident.html", status=status, file=file, notice=notice,
                  back=url(request, "resident", ean=file.view.ean13),
                  meaning=portal.line_words(file.view, language),
                  chart=Markup(_chart(file, portal.texts[language], language)),
                  history_title=history_title(file, portal.texts[language], language),
                  amount=amount, reference=reference, error=error)


async def office_top_up(request: web.Request) -> web.Response:
    """Post/redirect/get: a reload never records the top-up twice (the receipt reference is
    its idempotency key anyway)."""
    staff = staff_of(request)
    portal = request.app[PORTAL]
    language = language_of(request)
    texts = portal.texts[language]
    form = await request.post()
    ean = request.match_info["ean"]
    amount, reference = str(form.get("amount", ""))[:20], str(form.get("reference", ""))[:60]
    ledger = portal.ledger(request)
    try:
        if not (amount.isprintable() and reference.isprintable()):
            # No database takes a NUL; nobody types control characters.
            raise InvalidInput("reference" if amount.isprintable() else "amount",
                               "control characters are refused", "value.refused")
        result = await ledger.cpas.top_up(staff.cpas, ean, parse_cents(amount), reference,
                                          actor=f"staff:{staff.username}")
    except UnknownAccount:
        return not_found(request)
    except (InvalidInput, ReferenceConflict) as refused:
        error = texts["topup_invalid"].format(why=refusal_text(refused, texts, language))
        try:
            file = await ledger.cpas.resident(staff.cpas, ean, actor=f"staff:{staff.username}")
        except UnknownAccount:  # a bad amount for a meter not under mandate: still not found
            return not_found(request)
        return _resident_response(request, file, status=422, amount=amount,
                                  reference=reference, error=error)
    done = "replayed" if result.replayed else "topup"
    raise web.HTTPSeeOther(request.app.router["resident"].url_for(ean=ean).with_query(done=done))


STATIC = Path(__file__).parent / "static"


async def static_file(request: web.Request) -> web.StreamResponse:
    """The style sheet: only the files that are there, and any other name the styled page
    (aiohttp's own static route answers a missing file with an empty 404)."""
    name = request.match_info["name"]
    if name not in request.app[PORTAL].static_files:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name)


def _chart(file: ResidentFile, texts: Mapping[str, str], language: str) -> str:
    labels = ChartLabels(title=history_title(file, texts, language),
                         description=texts["history_description"],
                         consumption=texts["legend_consumption"], balance=texts["legend_balance"],
                         no_data=texts["no_history"], disconnection=texts["legend_disconnection"])
    return balance_chart(file.history, labels=labels, money=lambda cents: money(cents, language),
                         short_date=lambda day: day_month(day, language))


def create_portal_app(config: PortalConfig, ledger: Callable[[web.Request], Ledger],
                      access: Callable[[web.Request], Access],
                      line_words: Callable[[Path], LineWords]) -> web.Application:
    """`line_words(locales)`: what the balance line says of a balance, loaded at start."""
    # Forms here are a few fields: nothing bigger is read.
    app = web.Application(middlewares=[security, session], client_max_size=BODY_LIMIT)

    async def load(app: web.Application):
        pages = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
            lstrip_blocks=True)
        static_files = frozenset(path.name for path in STATIC.iterdir() if path.is_file())
        app[PORTAL] = Portal(config, load_texts(config.locales), pages, ledger, access,
                             line_words(config.locales), static_files)
        yield

    app.cleanup_ctx.append(load)
    # Named: every link and redirect is built from its route's name (rendering.url).
    login = app.router.add_resource("/login", name="login")
    login.add_route("GET", login_page)
    login.add_route("POST", log_in)
    app.router.add_post("/logout", log_out, name="logout")
    app.router.add_post("/language", choose_language, name="language")
    app.router.add_get("/", residents_page, name="home")
    app.router.add_get("/residents/{ean:[0-9]{13}}", resident_page, name="resident")
    app.router.add_post("/residents/{ean:[0-9]{13}}/topup", office_top_up, name="top_up")
    app.router.add_get("/static/{name}", static_file, name="static")
    return app
