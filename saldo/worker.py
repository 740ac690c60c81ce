"""The background worker: the ledger's periodic tick (ends of non-disconnection periods), and the
notifications — events into the outbox, then what is due out to Twilio and SMTP."""

import asyncio
import logging
import signal

from ledger import Ledger
from messaging.dispatch import Dispatcher, Pass

log = logging.getLogger("saldo.worker")

SEND_EVERY_SECONDS = 2.0  # how soon a new event's message leaves, at worst


async def tick(ledger: Ledger) -> int:
    cut_off = await ledger.tick()
    if cut_off:
        log.info("tick: %d meter(s) cut off at the end of the non-disconnection period", cut_off)
    reminded = await ledger.journey.remind()
    if reminded:
        log.info("tick: %d installation reminder(s) and survey(s) due", reminded)
    return cut_off


async def send(dispatcher: Dispatcher, stop: asyncio.Event | None = None) -> Pass:
    done = await dispatcher.run_once(stop)
    if done != Pass():
        log.info("messages: %d queued, %d sent, %d to retry, %d given up", done.queued, done.sent,
                 done.retried, done.gave_up)
    return done


async def run_once(ledger: Ledger, dispatcher: Dispatcher | None) -> None:
    """`saldo worker --once`: the tick, then every message due now."""
    await tick(ledger)
    if dispatcher:
        await send(dispatcher)


async def run_forever(ledger: Ledger, dispatcher: Dispatcher | None, tick_seconds: float,
                      stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    next_tick = loop.time()
    while not stop.is_set():
        # A failing step is logged and tried again, never silently dropped.
        if loop.time() >= next_tick:
            next_tick = loop.time() + tick_seconds
            try:
                await tick(ledger)
            except Exception:
                log.exception("tick failed; trying again in %.0f s", tick_seconds)
        if dispatcher:
            try:
                await send(dispatcher, stop)
            except Exception:
                log.exception("sending failed; trying again in %.0f s", SEND_EVERY_SECONDS)
        wait = SEND_EVERY_SECONDS if dispatcher else max(0.0, next_tick - loop.time())
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            pass


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
