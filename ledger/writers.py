"""The writers' turn in this process: one at a time, the balance line's audit records first.

SQLite has one writer at a time, and on it the look-up's audit record is written under the same
lock as a top-up, a staff session or an import's chunk. A plain FIFO lock made a caller's answer
wait behind every writer that queued before it (4 s behind a burst of API top-ups,
bench/line_isolation.py): here an urgent waiter is let in before every ordinary one, so it waits
for at most the transaction under way.
"""

import asyncio
from collections import deque
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator


class WritersLock:
    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    def urgent(self):
        return self._turn(self._urgent)

    def ordinary(self):
        return self._turn(self._ordinary)

    @asynccontextmanager
    async def _turn(self, queue: deque[asyncio.Future[None]]) -> AsyncIterator[None]:
        await self._acquire(queue)
        try:
            yield
        finally:
            self._release()

    def locked(self) -> bool:
        return self._held

    async def _acquire(self, queue: deque[asyncio.Future[None]]) -> None:
        if not self._held and not self._urgent and not self._ordinary:
            self._held = True
            return
        turn = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            await turn  # resolved with the lock handed over: _held stays True
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed over just as it was cancelled: pass it on
            elif turn in queue:
                queue.remove(turn)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._ordinary):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._held = False
