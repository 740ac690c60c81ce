"""When to try again, and how fast to send: pure arithmetic over an injected random source and
the event loop's clock."""

import asyncio
import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter, up to a number of attempts."""

    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.first <= timedelta(0) or self.cap < self.first:
            raise ValueError("back-off: attempts ≥ 1 and 0 < first ≤ cap")

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the `attempts`-th failed try: doubling, capped, each drawn in its upper
        half so that messages failed together do not all come back together."""
        ceiling = min(self.cap, self.first * 2 ** (max(attempts, 1) - 1))
        return ceiling * rng.uniform(0.5, 1.0)


class SendRate:
    """At most `per_second` sends, evenly spaced (a sender's limit, e.g. Twilio's per number)."""

    def __init__(self, per_second: float):
        if per_second <= 0:
            raise ValueError("a send rate must be positive")
        self.interval = 1.0 / per_second
        self._next = 0.0

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
