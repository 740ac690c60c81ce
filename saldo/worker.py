"""The background worker: the ledger's periodic tick (ends of non-disconnection periods), and the
notifications — events into the outbox, then what is due out to Twilio and SMTP."""

import asyncio
import logging
import signal
from datetime import time

from ledger import Ledger
from ledger.morning import DEFAULT_HOUR
from messaging.dispatch import Dispatcher, Pass

log = logging.getLogger("saldo.worker")

SEND_EVERY_SECONDS = 2.0  # how soon a new event's message leaves, at worst
GOING_WITHOUT_EVERY_SECONDS = 3600.0  # the households going without (ledger/hardship.py)


async def tick(ledger: Ledger, morning_list_at: time = DEFAULT_HOUR) -> int:
    """Time passing: cuts at the end of non-disconnection periods, the installation's reminders
    and surveys, the CPAS's morning lists."""
    cut_off = await ledger.tick()
    if cut_off:
        log.info("tick: %d meter(s) cut off at the end of the non-disconnection period", cut_off)
    reminded = await ledger.journey.remind()
    if reminded:
        log.info("tick: %d installation reminder(s) and survey(s) due", reminded)
    await ledger.fold_counts()  # the counts GET /metrics reads stay a few rows
    lists = await ledger.send_morning_lists(morning_list_at)
    if lists:
        log.info("tick: the morning lists of %d CPAS", lists)
    return cut_off


async def flag_going_without(ledger: Ledger) -> None:
    changed = await ledger.refresh_going_without()
    if changed:
        log.info("%d household(s) started or stopped going without", changed)


async def send(dispatcher: Dispatcher, stop: asyncio.Event | None = None) -> Pass:
    done = await dispatcher.run_once(stop)
    if done != Pass():
        log.info("messages: %d queued, %d sent, %d to retry, %d given up", done.queued, done.sent,
                 done.retried, done.gave_up)
    return done


async def run_once(ledger: Ledger, dispatcher: Dispatcher | None,
                   morning_list_at: time = DEFAULT_HOUR) -> None:
    """`saldo worker --once`: the flags, the tick, then every message due now."""
    await flag_going_without(ledger)
    await tick(ledger, morning_list_at)
    if dispatcher:
        await send(dispatcher)


async def run_forever(ledger: Ledger, dispatcher: Dispatcher | None, tick_seconds: float,
                      stop: asyncio.Event, morning_list_at: time = DEFAULT_HOUR) -> None:
    loop = asyncio.get_running_loop()
    next_tick = next_flags = loop.time()
    while not stop.is_set():
        # A failing step is logged and tried again, never silently dropped.
        if loop.time() >= next_flags:
            next_flags = loop.time() + GOING_WITHOUT_EVERY_SECONDS
            try:
                await flag_going_without(ledger)
            except Exception:
                log.exception("flagging failed; trying again in %.0f s", tick_seconds)
                next_flags = loop.time() + tick_seconds
        if loop.time() >= next_tick:
            next_tick = loop.time() + tick_seconds
            try:
                await tick(ledger, morning_list_at)
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
