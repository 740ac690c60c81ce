"""The access log, without customer data: the route's pattern, never the path or query typed.

aiohttp's default line carries the raw request line: `/cpas/?q=<a resident's name>`,
`/api/v1/residents/<a full EAN>`. Here `/cpas/residents/{ean}` is logged instead.
"""

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


def route_of(request: web.BaseRequest) -> str:
    """The route's pattern; "(no route)" for a path no route matches, and for a request aiohttp
    could not parse, which never reached the router (its match_info asserts then)."""
    try:
        match_info = getattr(request, "match_info", None)
    except AssertionError:
        match_info = None
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else "(no route)"


class RouteAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.1f ms", request.method, route_of(request), response.status,
                         time * 1000)
