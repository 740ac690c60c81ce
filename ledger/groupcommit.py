"""Group commit: many small records, one write transaction.

Each balance look-up must leave an audit record before the caller hears anything. Writing each
in its own transaction costs about a millisecond; here the records that arrive while one write
is under way all go into the next one. Every `add` returns only once its record is committed, and
raises what the write raised — nothing is lost silently.

`linger`: a write waits that long after its first record for others to join it. Writes are
faster than a sender's outcomes arrive, so without it the worker wrote ~2.6 outcomes a
transaction (bench/notify.py).
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]], *, linger: float = 0.0):
        self._write = write
        self._linger = linger
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, record: T) -> None:
        await self.add_many([record])

    async def add_many(self, records: list[T]) -> None:
        """Several records, in the same write: returns once they are all committed."""
        if not records:
            return
        done = asyncio.get_running_loop().create_future()
        self._pending += [(record, done) for record in records]
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        # shield: a caller who hangs up does not take its records (or others') out of the batch
        await asyncio.shield(done)

    async def _write_all(self) -> None:
        while self._pending:
            batch: list[tuple[T, asyncio.Future[None]]] = []
            try:
                if self._linger:
                    await asyncio.sleep(self._linger)
                batch, self._pending = self._pending, []
                await self._write([record for record, _ in batch])
            except BaseException as error:
                if not batch:  # cancelled while lingering: what waited fails, as in a write
                    batch, self._pending = self._pending, []
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error if isinstance(error, Exception)
                                           else RuntimeError("the write was cancelled"))
                if not isinstance(error, Exception):
                    raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def drain(self) -> None:
        """Wait until everything added so far is written (or has failed)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])
