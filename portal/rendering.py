"""A page of the CPAS pages rendered in the reader's language, with the formatting the templates
use; the reader's language from their choice (a cookie) or their browser."""

from aiohttp import web

from ledger import DEFAULT_LANGUAGE, LANGUAGES
from wording import date_time, full_date, money, short_date_time

from .keys import NEW_CSRF_SECRET, PORTAL, STAFF
from .texts import delivery_text, event_text, state_text

SESSION_COOKIE, CSRF_COOKIE, LANGUAGE_COOKIE = "saldo_session", "saldo_csrf", "saldo_lang"


def language_of(request: web.Request) -> str:
    language = request.cookies.get(LANGUAGE_COOKIE, "")
    if language in LANGUAGES:
        return language
    accepted = request.headers.get("Accept-Language", "")[:2].lower()
    return accepted if accepted in LANGUAGES else DEFAULT_LANGUAGE


def url(request: web.Request, route: str, **parts: str) -> str:
    """The path of the pages' route named `route`, where they are mounted, its parts filled in."""
    return str(request.app.router[route].url_for(**parts))


def mount(request: web.Request) -> str:
    """Where the pages are mounted ("/cpas"): the path of their cookies."""
    return url(request, "home").rstrip("/") or "/"


def csrf_secret(request: web.Request) -> str:
    return request.get(NEW_CSRF_SECRET) or request.cookies.get(CSRF_COOKIE, "")


def render(request: web.Request, template: str, status: int = 200, **values) -> web.Response:
    portal = request.app[PORTAL]
    language = language_of(request)
    texts = portal.texts[language]
    page = portal.pages.get_template(template).render(
        t=texts, lang=language, languages=LANGUAGES,
        url=lambda route, **parts: url(request, route, **parts),
        staff=request.get(STAFF), csrf=portal.sign(csrf_secret(request), "csrf"),
        money=lambda cents: money(cents, language),
        when=lambda moment: date_time(moment, language),
        day=lambda day: full_date(day, language),
        state=lambda view, short=False: state_text(
            view, texts, (lambda moment: short_date_time(moment, language)) if short
            else (lambda moment: date_time(moment, language))),
        delivery=lambda message: delivery_text(message, texts),
        event=lambda name: event_text(name, texts), **values)
    return web.Response(text=page, content_type="text/html", status=status)


def not_found(request: web.Request, status: int = 404) -> web.Response:
    """One page for what is not there: under /residents/ it speaks of residents, whether the
    code was malformed, unknown or another CPAS's (the answer must not tell them apart)."""
    residents = request.path.startswith(f"{mount(request)}/residents/")
    return render(request, "not_found.html", status=status,
                  text="not_found" if residents else "page_not_found")
