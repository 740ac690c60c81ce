"""The CPAS pages' middlewares: security headers on every answer, a CSRF secret for every visitor
and its HMAC on every form posted, the pages' own body limit, and a live session for every page
but the log-in's."""

import logging
import secrets

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .keys import NEW_CSRF_SECRET, PORTAL, SESSION_TOKEN, STAFF
from .rendering import CSRF_COOKIE, SESSION_COOKIE, mount, not_found, render, url

log = logging.getLogger("saldo.portal")

PUBLIC_ROUTES = frozenset({"login", "language", "static"})  # open without a session
BODY_LIMIT = 16 * 1024  # forms here are a few fields: nothing bigger is read (see security)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # residents' data stays off shared disks and back buttons
}


def _csrf_secret_ok(secret: str) -> bool:
    """Ours are token_urlsafe(24): a cookie with anything else is replaced by a new one."""
    return 0 < len(secret) <= 64 and secret.isascii() and secret.isprintable()


@web.middleware
async def security(request: web.Request, handler):
    """Headers on every answer; a CSRF secret for every visitor; POSTs must carry its HMAC."""
    portal = request.app[PORTAL]
    # The pages' own limit: a sub-app's client_max_size is not the one aiohttp applies (the
    # root app's, 1 MiB, is), so each request of the pages is given it here.
    request = request.clone(client_max_size=BODY_LIMIT)
    if not _csrf_secret_ok(request.cookies.get(CSRF_COOKIE, "")):
        request[NEW_CSRF_SECRET] = secrets.token_urlsafe(24)
    if request.method == "POST":
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            log.warning("portal: a form over %d bytes was refused", BODY_LIMIT)
            return finish(request, render(request, "expired.html", status=413))
        except (ValueError, LookupError, AssertionError, RuntimeError, HttpProcessingError):
            # A body that is no form (bytes that are not UTF-8, an unknown charset, a broken
            # multipart): its CSRF token cannot be read, so it is refused as one without.
            form = None
        for value in form.values() if form is not None else ():
            if isinstance(value, web.FileField):  # no form here has one: nothing is kept
                value.file.close()
        secret = request.cookies.get(CSRF_COOKIE, "")
        token = form.get("csrf", "") if form is not None else ""
        if not secret or not isinstance(token, str) \
                or not portal.verify(secret, "csrf", token):
            log.warning("portal: a form without a valid CSRF token was refused")
            response = render(request, "expired.html", status=403)
            return finish(request, response)
    try:
        response = await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as unknown:
        if request.path == mount(request) and request.method == "GET":
            home = web.HTTPSeeOther(url(request, "home"))  # "/cpas" alone
            finish(request, home)
            raise home from None
        response = not_found(request, status=unknown.status)
        if "Allow" in unknown.headers:
            response.headers["Allow"] = unknown.headers["Allow"]
    except web.HTTPException as redirect_or_error:  # aiohttp's are responses too
        finish(request, redirect_or_error)
        raise
    except Exception:
        route = request.match_info.route.resource
        log.exception("portal: internal error on %s", route.canonical if route else "?")
        response = render(request, "error.html", status=500)
    return finish(request, response)


def finish(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    portal = request.app[PORTAL]
    response.headers.update(SECURITY_HEADERS)
    if portal.config.secure_cookies:  # served over HTTPS: browsers keep to it
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if NEW_CSRF_SECRET in request:
        response.set_cookie(CSRF_COOKIE, request[NEW_CSRF_SECRET], httponly=True,
                            samesite="Strict", secure=portal.config.secure_cookies,
                            path=mount(request))
    return response


@web.middleware
async def session(request: web.Request, handler):
    """Pages other than the log-in need a live session; without one, to the log-in page."""
    portal = request.app[PORTAL]
    signed = request.cookies.get(SESSION_COOKIE, "")
    token = portal.unsigned(signed, "session") if signed else None
    staff = await portal.access(request).session(token) if token else None
    if staff is not None:
        request[STAFF], request[SESSION_TOKEN] = staff, token
    elif request.match_info.route.name not in PUBLIC_ROUTES:
        raise web.HTTPSeeOther(url(request, "login"))
    return await handler(request)
