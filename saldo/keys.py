"""The composition root's own aiohttp keys, on the root app. Each package keeps its own
(ivr.line.LINE, portal.keys): nothing imports this one but saldo/."""

from aiohttp import web

from ledger import Clock, Ledger
from portal.access import Access

from .observability import Metrics
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
LEDGER = web.AppKey("ledger", Ledger)
ACCESS = web.AppKey("access", Access)  # who may use the pages and the API, in the ledger's database
METRICS = web.AppKey("metrics", Metrics)
