"""Every aiohttp AppKey and RequestKey of the project, in one place."""

from aiohttp import web

from ivr.line import Line
from portal.state import Portal
from ledger import Clock, Ledger
from ledger.access import ApiClient, Staff

from .observability import Metrics
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
LEDGER = web.AppKey("ledger", Ledger)
METRICS = web.AppKey("metrics", Metrics)  # on the root app; sub-apps reach it by config_dict
LINE = web.AppKey("line", Line)  # on the balance line's sub-app
PORTAL = web.AppKey("portal", Portal)  # on the CPAS pages' sub-app

# Set on a request by the CPAS pages' middleware.
STAFF = web.RequestKey("staff", Staff)
SESSION_TOKEN = web.RequestKey("session_token", str)
NEW_CSRF_SECRET = web.RequestKey("new_csrf_secret", str)  # a first visit: its cookie to set

# Set on a request by the JSON API's middleware: the client its bearer token names.
API_CLIENT = web.RequestKey("api_client", ApiClient)
