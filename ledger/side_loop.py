"""An event loop in a thread of its own, for reads nobody is waiting on (a residents listing).

Such a read's Python work — SQLAlchemy building and compiling its statements, the driver's rows,
fifty balance views — took ~8 ms of the event loop a page at 20,000 residents, in one piece: a
balance-line request that came meanwhile waited for all of it (bench/line_isolation.py). Here it
runs in another thread, which the interpreter makes hand the GIL over every switch interval
(saldo/app.py sets it short), so the line's requests go in between.
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class SideLoop:
    """Started on first use; `close` ends it. Coroutines run here must use only objects made
    for this loop (an engine whose connections it opens), never the caller's."""

    def __init__(self, name: str, on_start: Callable[[], None] | None = None):
        self._name = name
        self._on_start = on_start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._loop is not None

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            if self._on_start:
                self._on_start()
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop
        return loop

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """`work()` awaited on this loop; its result or its exception comes back here, and
        cancelling the caller cancels it."""
        loop = self._loop or self._start()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work(), loop))

    async def close(self, last: Callable[[], Awaitable[None]] | None = None) -> None:
        """`last()` (an engine's dispose) runs on this loop before it stops."""
        if self._loop is None:
            return
        if last is not None:
            await self.run(last)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        await asyncio.to_thread(self._thread.join)
        self._loop = self._thread = None
