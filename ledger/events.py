"""What happened to an account, named in the past tense. The notifications' input.

Every event carries what a message needs, so a sender never has to read the ledger again.
"""

import functools
import json
from dataclasses import dataclass, fields
from datetime import datetime

from .clock import from_text, to_text


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in fields(kind))


@dataclass(frozen=True, kw_only=True)
class Event:
    ean: str
    energy: str
    language: str
    at: datetime
    balance_cents: int

    @property
    def name(self) -> str:
        return type(self).__name__

    def payload(self) -> str:
        # Every field is a plain value: no asdict (it deep-copies), which was half an import.
        data = {name: getattr(self, name) for name in _field_names(type(self))}
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = to_text(value)
        return json.dumps(data, sort_keys=True)


@dataclass(frozen=True, kw_only=True)
class PrepaymentActivated(Event):
    debt_cents: int
    daily_repayment_cents: int
    transferred_cents: int


@dataclass(frozen=True, kw_only=True)
class LowCredit(Event):
    threshold_cents: int


@dataclass(frozen=True, kw_only=True)
class EmergencyCreditStarted(Event):
    emergency_credit_left_cents: int
    power_limiter: bool = False  # when it runs out: limited to about 10 A, not cut off (older rows lack it)


@dataclass(frozen=True, kw_only=True)
class DisconnectionPending(Event):
    disconnect_at: datetime
    minimum_topup_cents: int
    power_limiter: bool = False  # limited to about 10 A at disconnect_at, not cut off (older rows lack it)


@dataclass(frozen=True, kw_only=True)
class Disconnected(Event):
    minimum_topup_cents: int


@dataclass(frozen=True, kw_only=True)
class PowerLimited(Event):
    minimum_topup_cents: int


@dataclass(frozen=True, kw_only=True)
class ReconnectionAllowed(Event):
    power_limiter: bool = False  # what comes back is full power, not the supply (older rows lack it)


@dataclass(frozen=True, kw_only=True)
class TopUpReceived(Event):
    amount_cents: int
    channel: str
    # What the top-up left (ledger.rules.TopUpOutcome); rows from before it say "credited".
    outcome: str = "credited"
    minimum_topup_cents: int = 0  # what more restores the supply or avoids the cut
    disconnect_at: datetime | None = None  # when the cut still happens (outcome still_pending)
    power_limiter: bool = False
    emergency_credit_left_cents: int = 0
    usable_before_disconnection_cents: int = 0


@dataclass(frozen=True, kw_only=True)
class BalanceRequested(Event):
    """The customer asked the balance line for what it said, by SMS (menu 4): one per call
    and meter (`request`, the call), to the mobile on file only."""

    state: str  # ledger.rules.State's value
    as_of: datetime
    minimum_topup_cents: int = 0  # what restores the supply or avoids the cut, when it matters
    disconnect_at: datetime | None = None
    power_limiter: bool = False
    request: str = ""


@dataclass(frozen=True, kw_only=True)
class AlertsChanged(Event):
    """The customer changed the low-credit alert on the balance line (from the number on file):
    confirmed by SMS to that number."""

    threshold_cents: int
    notify: str  # ledger.domain.Notify's value
    request: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        PrepaymentActivated,
        LowCredit,
        EmergencyCreditStarted,
        DisconnectionPending,
        Disconnected,
        PowerLimited,
        ReconnectionAllowed,
        TopUpReceived,
        BalanceRequested,
        AlertsChanged,
    )
}


def event_from_row(name: str, payload: str) -> Event:
    cls = EVENT_TYPES[name]
    data = json.loads(payload)
    for f in fields(cls):
        if f.type in (datetime, datetime | None) and isinstance(data.get(f.name), str):
            data[f.name] = from_text(data[f.name])
    return cls(**data)
