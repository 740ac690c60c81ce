"""Why a message could not be sent, in the two kinds the outbox acts on.

    SendError (base)
    ├── TemporaryFailure  retry later, on the same channel
    └── PermanentFailure  never retry this message on this channel

TemporaryFailure: Twilio 429 and 5xx, a timeout, a refused or dropped connection, Twilio's
"queue full" codes (21611 and the like), and 401 (the account's credentials were refused: a
configuration error of ours, which is fixed by an operator, not by giving the message up);
for e-mail, SMTP connection errors and 4xx replies.
PermanentFailure: any other Twilio 4xx, e.g. 21211 (the 'To' number is not a valid phone
number) or 21614 (the 'To' number is not a mobile number); for e-mail, SMTP 5xx replies.

Every error carries `reason`, a short text safe for logs: it never holds the phone number,
the e-mail address or the message's body (Twilio's own error messages repeat the number, so
they are not copied into it, and the library's exception is not chained either). `code` is
the provider's error code (Twilio's, e.g. 21211, or the SMTP reply code) and `status` the
HTTP status, each None where there is none.

A TemporaryFailure may come after the provider accepted the message (a timeout or a dropped
connection after the request went out, a 5xx): retrying blindly could send it twice. The
outbox keeps no record of how each attempt failed, so before every retry of an SMS the
dispatcher looks for it (`TwilioSms.find_sent`), whatever the failure was.
"""


class SendError(Exception):
    """A message could not be sent. `reason` is safe for logs (no address, no body)."""

    def __init__(self, reason: str, *, code: int | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.reason!r}, code={self.code!r}, "
                f"status={self.status!r})")


class TemporaryFailure(SendError):
    """Retry later; the provider may have the message all the same (see above)."""


class PermanentFailure(SendError):
    """Never retry this message on this channel; `code` says why (e.g. Twilio's 21211)."""
