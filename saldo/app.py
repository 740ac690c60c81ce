"""The composition root: one app factory; resources open and close in cleanup_ctx."""

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from ledger import Clock, Ledger, SystemClock

from . import keys, worker
from .settings import Settings


async def open_ledger(settings: Settings, clock: Clock) -> Ledger:
    return await Ledger.open(settings.database_url, clock=clock, ndp=settings.ndp,
                             ean_prefix=settings.ean_prefix)


async def _ledger_ctx(app: web.Application) -> AsyncIterator[None]:
    ledger = await open_ledger(app[keys.SETTINGS], app[keys.CLOCK])
    app[keys.LEDGER] = ledger
    yield
    await ledger.close()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker inside the web process (for `saldo demo`); production runs `saldo worker`."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        worker.run_forever(app[keys.LEDGER], app[keys.SETTINGS].tick_seconds, stop))
    yield
    stop.set()
    await task


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, *, clock: Clock | None = None,
               with_worker: bool = False) -> web.Application:
    app = web.Application()
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    app.cleanup_ctx.append(_ledger_ctx)
    if with_worker:
        app.cleanup_ctx.append(_worker_ctx)
    app.router.add_get("/healthz", healthz)
    return app
