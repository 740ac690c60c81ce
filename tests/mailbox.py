"""A real SMTP server (aiosmtpd, in a thread of its own) that keeps what it is sent, and can be
told to refuse the next messages with a given reply."""

import email
import socket
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._refusals: list[str] = []
        self._controller: Controller | None = None
        self.port = 0

    def refuse_next(self, reply: str, times: int = 1) -> None:
        """e.g. '550 5.1.1 No such user here' or '451 4.3.0 Try again later'."""
        self._refusals += [reply] * times

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        if self._refusals:
            return self._refusals.pop(0)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> "Mailbox":
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        return message.get_body(("plain",)).get_content()
