"""For `saldo demo`: senders that print each message on the console instead of sending it."""

import itertools
import sys
from typing import TextIO

from .render import Email


def _masked(address: str) -> str:
    """Made-up data, but the habit holds: never a whole number or address on a screen or log."""
    if "@" in address:
        name, _, domain = address.partition("@")
        return f"{name[:1]}…@{domain}"
    return f"{address[:5]}…{address[-2:]}"


class ConsoleSender:
    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout
        self._serial = itertools.count(1)

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def send(self, to: str, body, *, outbox_id: int | None = None) -> str:
        number = next(self._serial)
        if isinstance(body, Email):
            self._print(f"\n── e-mail to {_masked(to)} ── {body.subject}\n{body.text.strip()}\n")
            return f"<demo-{number}@saldo.invalid>"
        self._print(f"\n── SMS to {_masked(to)} ──\n{body}\n")
        return f"SM{number:032x}"

    async def find_sent(self, to: str, body: str, since) -> str | None:
        return None

    async def close(self) -> None:
        pass
