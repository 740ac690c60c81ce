"""A turnstile in front of SQLite's write lock, shared by every process writing one file.

SQLite keeps no queue of writers: one that finds the lock taken asks again later. An import
writes batch after batch and leaves the lock free only for the microseconds between two of them,
so a writer asking every millisecond waited for several batches — a look-up's audit record, when
the trail was in the ledger's file, and the caller's answer with it: the line's p99 was 2-2.7
times its p99 alone while an import ran in another process (bench/line_isolation.py). So a
server's writer (a top-up, a staff session) that finds the lock taken holds the turnstile while
it asks, and the background processes' writers (an import, the worker) pass through the
turnstile before each transaction and wait without it: the server's writer gets the lock at the
end of the batch under way, whatever process that batch is in, and the background ones go last.
The audit trail's file (ledger/audit.py) has a turnstile of its own, for its writers that wait.

The turnstile is an flock(2) on a file beside the database (`<database>-turnstile`): the kernel
releases it when its process dies, so a killed writer never leaves it closed. Only taken when
someone is waiting: a writer that finds the lock free passes with two system calls.
"""

import asyncio
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PASS_POLL_SECONDS = 0.0005


class Turnstile:
    def __init__(self, database: Path):
        self.path = database.with_name(database.name + "-turnstile")
        self._fd: int | None = None

    def _file(self) -> int:
        # One open file per Turnstile: flock(2) locks of two open files exclude each other even
        # within one process, so the audit writer's thread and the event loop each have theirs.
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Blocks until the turnstile is this caller's (run it in a thread)."""
        fd = self._file()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    async def take(self) -> None:
        """Waits until the turnstile is this caller's, never blocking the event loop; `give_back`
        it once the write lock is taken."""
        fd = self._file()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                await asyncio.sleep(PASS_POLL_SECONDS)

    def give_back(self) -> None:
        """After `take`: a second call does nothing (flock's unlock of a file not locked)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def pass_through_blocking(self) -> None:
        """Returns once no writer waits holding the turnstile (run it in a thread)."""
        with self.held():
            pass

    async def pass_through(self) -> None:
        """Returns once no writer waits holding the turnstile; never blocks the event loop."""
        await self.take()
        self.give_back()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
