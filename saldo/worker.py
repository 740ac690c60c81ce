"""The background worker: the ledger's periodic tick (ends of non-disconnection periods)."""

import asyncio
import logging
import signal

from ledger import Clock, Ledger

log = logging.getLogger("saldo.worker")


async def run_once(ledger: Ledger) -> int:
    cut_off = await ledger.tick()
    if cut_off:
        log.info("tick: %d meter(s) cut off at the end of the non-disconnection period", cut_off)
    return cut_off


async def run_forever(ledger: Ledger, every_seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await run_once(ledger)
        except Exception:  # a failing tick is logged and retried, never silently dropped
            log.exception("tick failed; retrying in %.0f s", every_seconds)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
        except TimeoutError:
            pass


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def main(ledger_factory, clock: Clock, every_seconds: float, once: bool) -> None:
    ledger: Ledger = await ledger_factory(clock)
    try:
        if once:
            await run_once(ledger)
            return
        stop = asyncio.Event()
        stop_on_signals(stop)
        log.info("worker started: tick every %.0f s", every_seconds)
        await run_forever(ledger, every_seconds, stop)
        log.info("worker stopped")
    finally:
        await ledger.close()
