"""What the balance line's handlers share: its configuration and state, built once at start."""

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import web

from ledger import Ledger

from .flow import Steps, Voice
from .limits import LookupRules, caller_identity
from .opening import CustomerService, default_customer_service
from .prompts import Prompts
from .spoken import Vocabulary


@dataclass(frozen=True)
class LineConfig:
    public_base_url: str
    auth_token: str
    caller_hash_key: bytes
    voices: Mapping[str, Voice]
    locales: Path
    rules: LookupRules = LookupRules()  # frozen: one default shared is safe
    customer_service: CustomerService = field(default_factory=default_customer_service)
    # A caller whose number is the mobile on file of meters is offered them (ivr/app.py).
    known_callers: bool = True


class LineMetrics(Protocol):
    """What the line counts, when the app that mounts it keeps metrics (saldo's /metrics)."""

    def call_answered(self) -> None: ...

    def call_ended(self, status: str, seconds: int | None) -> None: ...

    def looked_up(self, outcome: str) -> None: ...

    def ceiling_refused(self) -> None: ...


@dataclass
class Line:
    """What the handlers share, built once when the app starts."""

    config: LineConfig
    prompts: Mapping[str, Prompts]
    words: Mapping[str, Vocabulary]
    ledger: Callable[[web.Request], Ledger]
    rules: LookupRules
    steps: Steps  # the call's steps' URLs, from the router
    metrics: LineMetrics | None = None  # none: the line alone, in tests

    def caller(self, form: Mapping[str, str]) -> str:
        """Whom the look-up limits count (ivr/limits.py: the number in E.164, or the call when
        the number is withheld), kept only as a keyed hash."""
        identity = caller_identity(form.get("From", ""), form.get("CallSid", ""))
        digest = hmac.new(self.config.caller_hash_key, identity.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).hexdigest()
        return f"ivr:{digest[:16]}"


LINE = web.AppKey("line", Line)  # on the balance line's sub-app
