"""The CPAS pages' and the JSON API's aiohttp keys: the portal's state on its sub-app, and what
their middlewares set on a request."""

from aiohttp import web

from .access import ApiClient, Staff
from .state import ApiState, Portal

PORTAL = web.AppKey("portal", Portal)  # on the CPAS pages' sub-app
API = web.AppKey("api", ApiState)  # on the JSON API's sub-app

# Set on a request by the CPAS pages' middleware.
STAFF = web.RequestKey("staff", Staff)
SESSION_TOKEN = web.RequestKey("session_token", str)
NEW_CSRF_SECRET = web.RequestKey("new_csrf_secret", str)  # a first visit: its cookie to set

# Set on a request by the JSON API's middleware: the client its bearer token names.
API_CLIENT = web.RequestKey("api_client", ApiClient)
