"""The composition root's own aiohttp keys, on the root app. Each package keeps its own
(ivr.line.LINE, portal.keys): nothing imports this one but saldo/."""

from aiohttp import web

from ledger import Clock, Ledger

from .observability import Metrics
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
LEDGER = web.AppKey("ledger", Ledger)
METRICS = web.AppKey("metrics", Metrics)
