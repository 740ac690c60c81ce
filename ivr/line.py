"""What the balance line's handlers share: its configuration and state, built once at start."""

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from ledger import Ledger

from .flow import Voice
from .limits import CallerLimits
from .script import Prompts
from .spoken import Vocabulary

REMEMBERED_CALLS = 10_000


@dataclass(frozen=True)
class LineConfig:
    public_base_url: str
    auth_token: str
    caller_hash_key: bytes
    voices: Mapping[str, Voice]
    locales: Path
    lookups_per_hour: int = 20
    unknown_before_lockout: int = 5
    lockout: timedelta = timedelta(hours=1)


@dataclass
class Line:
    """What the handlers share, built once when the app starts."""

    config: LineConfig
    prompts: Mapping[str, Prompts]
    words: Mapping[str, Vocabulary]
    ledger: Callable[[web.Request], Ledger]
    limits: CallerLimits
    remembered: dict[str, str] = field(default_factory=dict)  # CallSid → digits, for "repeat"

    def remember(self, call: str, digits: str) -> None:
        self.remembered.pop(call, None)
        self.remembered[call] = digits
        while len(self.remembered) > REMEMBERED_CALLS:  # calls that hung up without "0"
            self.remembered.pop(next(iter(self.remembered)))

    def caller(self, form: Mapping[str, str]) -> str:
        """Caller numbers are kept only as a keyed hash."""
        digest = hmac.new(self.config.caller_hash_key, form.get("From", "").encode(),
                          hashlib.sha256).hexdigest()
        return f"ivr:{digest[:16]}"
