"""Health, readiness and metrics, for the process supervisor and the monitoring.

`/healthz`: the process answers. `/readyz`: it can serve — the database answers and its schema is
this code's (503 with the reason otherwise). `/metrics`: Prometheus's text format, from a registry
of this app's own (never the library's global one: several apps may live in one process), with no
personal data — counts by outcome, state and channel, latencies by route pattern, never a number,
a name or an EAN. It is not public: reachable from the monitoring network only.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from ledger import Ledger
from ledger import MESSAGE_CHANNELS, MESSAGE_STATES

from .access_log import route_of

log = logging.getLogger("saldo")

# The balance line's look-up outcomes (ivr/app.py decides them).
LOOKUP_OUTCOMES = ("found", "unknown", "mistyped", "nothing_heard", "locked_out", "error")
# A webhook answers in tens of milliseconds (README, Benchmarks); Twilio gives up after 15 s.
# Twilio's final call statuses, sent to the number's status callback (README, Deploying).
CALL_ENDS = ("completed", "busy", "failed", "no-answer", "canceled")
# A balance call lasts a minute or two; Twilio ends a call after four hours.
CALL_BUCKETS = (15, 30, 60, 90, 120, 180, 300, 600, 1800, 14400)
WEBHOOK_BUCKETS = (0.005, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
                   2.5)


@dataclass(frozen=True)
class Metrics:
    """One app's registry and its collectors."""

    registry: CollectorRegistry
    calls: Counter
    call_ends: Counter
    call_seconds: Histogram
    lookups: Counter
    ceiling_refusals: Counter
    webhook_seconds: Histogram
    messages: Gauge
    accounts: Gauge
    consumption_days: Gauge

    @classmethod
    def create(cls) -> "Metrics":
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        metrics = cls(
            registry=registry,
            calls=Counter("saldo_line_calls", "Calls the balance line answered.",
                          registry=registry),
            call_ends=Counter("saldo_line_calls_ended", "Calls to the balance line that ended, "
                              "by Twilio's final status.", ["status"], registry=registry),
            call_seconds=Histogram("saldo_line_call_duration_seconds",
                                   "How long the completed calls to the balance line lasted.",
                                   buckets=CALL_BUCKETS, registry=registry),
            lookups=Counter("saldo_line_lookups",
                            "Codes typed at the balance line, by outcome; error: the line "
                            "apologised for an internal error.",
                            ["outcome"], registry=registry),
            ceiling_refusals=Counter("saldo_line_ceiling_refusals",
                                     "Look-ups refused because the unknown codes typed in the "
                                     "last minute, all callers together, reached "
                                     "UNKNOWN_CODES_PER_MINUTE: someone may be guessing codes.",
                                     registry=registry),
            webhook_seconds=Histogram("saldo_webhook_duration_seconds",
                                      "Time to answer a Twilio webhook, by route pattern.",
                                      ["route"], buckets=WEBHOOK_BUCKETS, registry=registry),
            messages=Gauge("saldo_outbox_messages", "Messages in the outbox, by state and channel.",
                           ["state", "channel"], registry=registry),
            accounts=Gauge("saldo_ledger_accounts", "Accounts in the ledger.", registry=registry),
            consumption_days=Gauge("saldo_ledger_consumption_days",
                                   "Consumption days posted, all accounts.", registry=registry))
        for outcome in LOOKUP_OUTCOMES:  # every series from the start, at 0
            metrics.lookups.labels(outcome)
        for status in CALL_ENDS:
            metrics.call_ends.labels(status)
        return metrics

    def call_answered(self) -> None:
        self.calls.inc()

    def call_ended(self, status: str, seconds: int | None) -> None:
        if status not in CALL_ENDS:  # a status Twilio may add: not a label per value sent
            return
        self.call_ends.labels(status).inc()
        if status == "completed" and seconds is not None:
            self.call_seconds.observe(seconds)

    def looked_up(self, outcome: str) -> None:
        self.lookups.labels(outcome).inc()

    def ceiling_refused(self) -> None:
        self.ceiling_refusals.inc()

    async def read_ledger(self, ledger: Ledger) -> None:
        """The gauges read at scrape time. Read first, then set without an await in between, so
        that two scrapes at once cannot mix their figures. A database that cannot be read leaves
        them unknown (no message series, NaN counts) and the rest is still scraped: the line's
        errors are counted precisely then."""
        try:
            messages = await ledger.outbox.counts_by_channel()
            accounts = await ledger.count_accounts()
            days = await ledger.count_consumption_days()
        except Exception as error:  # any driver's failure: the figures are unknown
            log.warning("metrics: the ledger could not be read (%s)", type(error).__name__)
            self.messages.clear()
            self.accounts.set(math.nan)
            self.consumption_days.set(math.nan)
            return
        self.messages.clear()
        for state in MESSAGE_STATES:
            for channel in MESSAGE_CHANNELS:
                self.messages.labels(state, channel).set(0)
        for (state, channel), count in messages.items():
            self.messages.labels(state, channel).set(count)
        self.accounts.set(accounts)
        self.consumption_days.set(days)


def webhook_timer(metrics: Metrics, mounts: tuple[str, ...]):
    """Times the requests to the routes under `mounts` (the Twilio webhooks), labelled by the
    route's pattern; a path that matches no route is not timed (it would be a label per path)."""

    @web.middleware
    async def time_webhooks(request: web.Request, handler):
        route = route_of(request)
        if not any(route == mount or route.startswith(mount + "/") for mount in mounts):
            return await handler(request)
        start = time.perf_counter()
        try:
            return await handler(request)
        finally:
            metrics.webhook_seconds.labels(route).observe(time.perf_counter() - start)

    return time_webhooks


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def readiness(ledger: Callable[[web.Request], Ledger]):
    async def readyz(request: web.Request) -> web.Response:
        ready, reason = await ledger(request).ready()
        if ready:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": reason}, status=503)

    return readyz


def metrics_page(metrics: Metrics, ledger: Callable[[web.Request], Ledger]):
    async def scrape(request: web.Request) -> web.Response:
        await metrics.read_ledger(ledger(request))
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(metrics.registry), headers={"Content-Type": content_type})

    return scrape
