"""Every aiohttp AppKey of the project, in one place."""

from aiohttp import web

from ivr.line import Line
from ledger import Clock, Ledger

from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
LEDGER = web.AppKey("ledger", Ledger)
LINE = web.AppKey("line", Line)  # on the balance line's sub-app
