"""The composition root: one app factory; resources open and close in cleanup_ctx."""

import asyncio
import gc
import hmac
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from ivr.app import create_line_app
from ivr.flow import Voice
from ivr.limits import LookupRules
from ivr.line import LineConfig
from ivr.script import line_words
from ledger import Clock, Ledger, SystemClock
from messaging.inbound import InboundConfig
from messaging.keywords import Keywords
from messaging.status import create_status_app
from portal.access import Access
from portal.api import create_api_app
from portal.app import create_portal_app
from portal.state import PortalConfig

from . import keys, observability, worker
from .logs import quiet_malformed_requests
from .sending import STATUS_MOUNT, open_dispatcher
from .settings import Settings

log = logging.getLogger("saldo")
LINE_MOUNT = "/voice"  # the number's voice URL is PUBLIC_BASE_URL + this (README)
PORTAL_MOUNT = "/cpas"
API_MOUNT = "/api/v1"


def locales_dir(settings: Settings) -> Path:
    """The texts: LOCALES_DIR, else the source tree's locales/, else the installed copy."""
    if settings.locales_dir:
        return Path(settings.locales_dir)
    source = Path(__file__).resolve().parent.parent / "locales"
    return source if source.is_dir() else Path(sys.prefix) / "share" / "saldo" / "locales"


def portal_url(settings: Settings) -> str | None:
    """Where the CPAS pages are, for the links of the morning lists (PUBLIC_BASE_URL)."""
    return settings.public_base_url + PORTAL_MOUNT if settings.public_base_url else None


async def open_ledger(settings: Settings, clock: Clock, *, background: bool = False) -> Ledger:
    """`background`: for a process nobody waits on (an import, the worker)."""
    return await Ledger.open(settings.database_url, clock=clock, ndp=settings.ndp,
                             ean_prefix=settings.ean_prefix,
                             day_consumption_max_cents=settings.day_consumption_max_cents,
                             adjustment_max_cents=settings.adjustment_max_cents,
                             background=background)


async def _ledger_ctx(app: web.Application) -> AsyncIterator[None]:
    ledger = await open_ledger(app[keys.SETTINGS], app[keys.CLOCK])
    app[keys.LEDGER] = ledger
    app[keys.ACCESS] = await Access.open(ledger.store)
    yield
    await ledger.close()


async def _demo_worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker inside the web process, printing messages instead of sending them (for
    `saldo demo`); production runs `saldo worker`."""
    settings, ledger, clock = app[keys.SETTINGS], app[keys.LEDGER], app[keys.CLOCK]
    async with open_dispatcher(settings, ledger, clock, locales_dir(settings),
                               portal_url=portal_url(settings), console=True) as dispatcher:
        stop = asyncio.Event()
        task = asyncio.create_task(
            worker.run_forever(ledger, dispatcher, settings.tick_seconds, stop,
                               settings.morning_list_at))
        yield
        stop.set()
        await task


# CPython hands the GIL to a waiting thread only after this many seconds (5 ms by default): a
# thread writing a caller's audit record, or holding SQLite's write lock, waited that long each
# time it came back from the driver while the event loop or a listing worked. At 0.5 ms the
# line's loaded p99 went from 21-38 ms to 16-17 ms (bench/line_isolation.py, 3 December).
GIL_SWITCH_SECONDS = 0.0005
# The collector's first generation runs after this many more objects made than freed (700 by
# default): a balance answer makes a few hundred, nearly all freed at once by reference counting,
# and at 700 the line's server ran a collection every 30 answers (2.5 % of its CPU).
GC_THRESHOLDS = (10_000, 10, 10)


async def _prompt_thread_switching(app: web.Application) -> AsyncIterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    yield
    sys.setswitchinterval(before)


class _SettledCollector:
    """Once everything is open: what start-up made (prompts, phone metadata, the holiday
    calendar, compiled statements) is set aside for good, so that a full collection no longer
    walks it while callers wait — the line's server paused up to 59 ms for them
    (bench/ivr_webhooks.py); and collections come less often. Process-wide, as the collector
    is: set by the first app to start, given back when the last one stops."""

    def __init__(self) -> None:
        self._serving: set[int] = set()
        self._before: tuple[int, int, int] | None = None

    async def started(self, app: web.Application) -> None:
        if not self._serving:
            self._before = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
        self._serving.add(id(app))
        gc.freeze()  # no full collection first: 70 ms and more in a test run's heap, each app

    async def stopped(self, app: web.Application) -> None:
        if id(app) not in self._serving:  # its start-up failed before this
            return
        self._serving.discard(id(app))
        if not self._serving and self._before is not None:
            gc.set_threshold(*self._before)
            gc.unfreeze()


_SETTLED_COLLECTOR = _SettledCollector()


def caller_hash_key(settings: Settings) -> bytes:
    """The key of the callers' and senders' hashes: one number, one identity on the line and in
    SMS; CALLER_HASH_KEY, else derived from the auth token."""
    token = settings.twilio_auth_token or ""
    key = settings.caller_hash_key or hmac.new(token.encode(), b"caller-hash", "sha256").hexdigest()
    return key.encode()


def _balance_line(settings: Settings, metrics: observability.Metrics,
                  ledger_of: Callable[[web.Request], Ledger]) -> web.Application | None:
    """The Twilio webhooks, when the line is configured; off (and said so) otherwise."""
    if not (settings.public_base_url and settings.twilio_auth_token):
        log.warning("balance line off: set PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN to answer calls")
        return None
    config = LineConfig(
        public_base_url=settings.public_base_url, auth_token=settings.twilio_auth_token,
        caller_hash_key=caller_hash_key(settings),
        voices={language: Voice(name, code) for language, name, code in settings.voices},
        locales=locales_dir(settings),
        rules=LookupRules(settings.lookups_per_hour, settings.unknown_before_lockout,
                          timedelta(minutes=settings.lockout_minutes),
                          settings.unknown_codes_per_minute),
        customer_service=settings.customer_service, known_callers=settings.known_callers)
    return create_line_app(config, ledger_of, metrics)


def _portal(settings: Settings, ledger_of: Callable[[web.Request], Ledger],
            access_of: Callable[[web.Request], Access]) -> web.Application:
    secret = settings.portal_secret
    if not secret:
        log.warning("PORTAL_SECRET is not set: CPAS staff sessions end when this process stops, "
                    "and several instances cannot share them")
        secret = secrets.token_hex(32)
    config = PortalConfig(secret=secret.encode(), locales=locales_dir(settings),
                          secure_cookies=settings.portal_secure_cookies)
    return create_portal_app(config, ledger_of, access_of, line_words)


def create_app(settings: Settings, *, clock: Clock | None = None,
               with_demo_worker: bool = False) -> web.Application:
    quiet_malformed_requests()  # a request aiohttp cannot parse: a warning, not a traceback
    metrics = observability.Metrics.create()  # a registry of this app's own
    app = web.Application(middlewares=[
        observability.webhook_timer(metrics, mounts=(LINE_MOUNT, STATUS_MOUNT))])
    app[keys.METRICS] = metrics
    clock = clock or SystemClock()

    # The root app's, opened in cleanup_ctx and read per request, straight from this app:
    # request.config_dict builds a chain of the apps each time (2 % of a balance answer's CPU).
    def ledger_of(_request: web.Request) -> Ledger:
        return app[keys.LEDGER]

    def access_of(_request: web.Request) -> Access:
        return app[keys.ACCESS]

    line = _balance_line(settings, metrics, ledger_of)
    if line is not None:
        app.add_subapp(LINE_MOUNT, line)
        # Twilio's SMS delivery reports and the customers' SMS, signed like the line's webhooks.
        inbound = InboundConfig(Keywords.load(locales_dir(settings)), caller_hash_key(settings),
                                settings.sms_replies_per_hour)
        app.add_subapp(STATUS_MOUNT, create_status_app(
            settings.twilio_auth_token, settings.public_base_url,
            ledger_of, inbound))
    app.add_subapp(PORTAL_MOUNT, _portal(settings, ledger_of, access_of))
    app.add_subapp(API_MOUNT, create_api_app(ledger_of, access_of))
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock
    app.cleanup_ctx.append(_prompt_thread_switching)
    app.cleanup_ctx.append(_ledger_ctx)
    if with_demo_worker:
        app.cleanup_ctx.append(_demo_worker_ctx)
    # After every sub-app's start-up (the line's prompts load there), which add_subapp put
    # after this app's cleanup_ctx: appended last, it runs last.
    app.on_startup.append(_SETTLED_COLLECTOR.started)
    app.on_cleanup.append(_SETTLED_COLLECTOR.stopped)
    app.router.add_get("/healthz", observability.healthz)
    app.router.add_get("/readyz", observability.readiness(ledger_of))
    app.router.add_get("/metrics", observability.metrics_page(metrics, ledger_of))
    return app
