"""E-mail over SMTP (aiosmtplib): a thin adapter. SMTP_URL is smtp://[user:password@]host[:port]
(STARTTLS when the server offers it) or smtps://… (TLS from the first byte)."""

import ssl
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import aiosmtplib

from .errors import PermanentFailure, TemporaryFailure
from .render import Email


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    use_tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        """Raises ValueError naming what is wrong (the password never appears in it)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL: expected smtp://[user:password@]host[:port] or smtps://…")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ValueError("SMTP_URL: the port is not a number") from None
        return cls(parts.hostname, port, parts.scheme == "smtps",
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


class _FoldedHeader(str):
    """A header value already encoded and folded: stored and written as it is."""


class _Policy(EmailPolicy):
    """email.policy.default, except that a _FoldedHeader is kept as we folded it."""

    def header_store_parse(self, name, value):
        if isinstance(value, _FoldedHeader):
            return (name, str(value))
        return super().header_store_parse(name, value)


_POLICY = _Policy(refold_source="none")


def folded_subject(subject: str) -> str:
    """The Subject header's value as it goes on the wire. Non-ASCII text becomes RFC 2047
    encoded words with every space *inside* a word (as "_"): Python's own refolder (3.11, also
    3.12) leaves the space between two words at a fold outside them, where RFC 2047 says a
    reader must drop it ("2 décembre" arrived as "2décembre"; CPython gh-144156). email.header
    splits only between characters, never inside one, and keeps each line within 78."""
    if subject.isascii():
        return subject  # folded at its own spaces, which unfolding keeps
    return _FoldedHeader(Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n"))


def build_email(email: Email, *, sender: str, to: str, message_id: str) -> EmailMessage:
    """Multipart text + HTML. The Message-ID is the outbox message's own, so a message sent again
    after a crash carries the same one and mail systems can tell it is the same."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = folded_subject(email.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def message_id_for(outbox_id: int, sender: str) -> str:
    domain = sender.rpartition("@")[2].strip(">") or "saldo.invalid"
    return f"<saldo-message-{outbox_id}@{domain}>"


class SmtpMail:
    def __init__(self, server: SmtpServer, sender: str, timeout: float = 30.0):
        self.server = server
        self.sender = sender
        self.timeout = timeout

    async def send(self, to: str, email: Email, *, outbox_id: int) -> str:
        """Returns the Message-ID; raises TemporaryFailure or PermanentFailure."""
        message_id = message_id_for(outbox_id, self.sender)
        message = build_email(email, sender=self.sender, to=to, message_id=message_id)
        try:
            await aiosmtplib.send(
                message, hostname=self.server.hostname, port=self.server.port,
                username=self.server.username, password=self.server.password,
                use_tls=self.server.use_tls, timeout=self.timeout,
                tls_context=ssl.create_default_context() if self.server.use_tls else None)
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise _by_code(min(r.code for r in error.recipients), "recipient refused") from None
        except aiosmtplib.SMTPResponseException as error:
            raise _by_code(error.code, "the server refused the message") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TemporaryFailure(f"SMTP: {type(error).__name__}") from None
        return message_id


def _by_code(code: int, what: str) -> TemporaryFailure | PermanentFailure:
    """SMTP 5xx is permanent; 4xx (and anything else) is worth another try."""
    if 500 <= code < 600:
        return PermanentFailure(f"SMTP {code}: {what}", code=code)
    return TemporaryFailure(f"SMTP {code}: {what}")

