"""What happened, named in the past tense. The notifications' input.

Most events happened to an account (AccountEvent): their messages go to its contacts on file.
The others name their address (`to`): a reply to a number on file of no meter, an installation
reminder before the account exists. Every event carries what a message needs, so a sender never
has to read the ledger again.
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
    language: str
    at: datetime

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
class AccountEvent(Event):
    """Something that happened to one account: its messages go to its contacts on file."""

    ean: str
    energy: str
    balance_cents: int


@dataclass(frozen=True, kw_only=True)
class PrepaymentActivated(AccountEvent):
    debt_cents: int
    daily_repayment_cents: int
    transferred_cents: int


@dataclass(frozen=True, kw_only=True)
class LowCredit(AccountEvent):
    threshold_cents: int


@dataclass(frozen=True, kw_only=True)
class EmergencyCreditStarted(AccountEvent):
    emergency_credit_left_cents: int
    power_limiter: bool = False  # when it runs out: limited to about 10 A, not cut off (older rows lack it)


@dataclass(frozen=True, kw_only=True)
class DisconnectionPending(AccountEvent):
    disconnect_at: datetime
    minimum_topup_cents: int
    power_limiter: bool = False  # limited to about 10 A at disconnect_at, not cut off (older rows lack it)


@dataclass(frozen=True, kw_only=True)
class Disconnected(AccountEvent):
    minimum_topup_cents: int


@dataclass(frozen=True, kw_only=True)
class PowerLimited(AccountEvent):
    minimum_topup_cents: int


@dataclass(frozen=True, kw_only=True)
class ReconnectionAllowed(AccountEvent):
    power_limiter: bool = False  # what comes back is full power, not the supply (older rows lack it)


@dataclass(frozen=True, kw_only=True)
class TopUpReceived(AccountEvent):
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
class BalanceRequested(AccountEvent):
    """The customer asked the balance line for what it said, by SMS (menu 4): one per call
    and meter (`request`, the call), to the mobile on file only."""

    state: str  # ledger.rules.State's value
    as_of: datetime
    minimum_topup_cents: int = 0  # what restores the supply or avoids the cut, when it matters
    disconnect_at: datetime | None = None
    power_limiter: bool = False
    request: str = ""


@dataclass(frozen=True, kw_only=True)
class AlertsChanged(AccountEvent):
    """The customer changed the low-credit alert on the balance line (from the number on file):
    confirmed by SMS to that number."""

    threshold_cents: int
    notify: str  # ledger.domain.Notify's value
    request: str = ""


# ---- replies to SMS (messaging/inbound.py) ---------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SmsStopped(AccountEvent):
    """The mobile on file of this meter (and of any other meter on that number) asked for no
    more SMS: confirmed once, to that number. `request`: the incoming message's SID."""

    request: str = ""


@dataclass(frozen=True, kw_only=True)
class SmsRestarted(AccountEvent):
    """That number asked for SMS again (START): confirmed once."""

    request: str = ""


@dataclass(frozen=True, kw_only=True)
class HelpSent(Event):
    """A number wrote something the service does not act on, or asked for help: the help
    message, to that number, whoever it is — it holds no data of anyone."""

    to: str  # E.164
    request: str = ""


# ---- the installation journey (seed 003) -----------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class InstallationReminder(Event):
    """Two days before the technician's window: the reminder to the appointment's mobile. Of an
    EAN, not an account — the account exists once prepayment is activated, after the visit."""

    ean: str
    to: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class InstallationImminent(Event):
    """A quarter of an hour before the window: the technician is on the way."""

    ean: str
    to: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class AppointmentChanged(Event):
    """A later appointments file moved or cancelled the appointment: a reminder of the earlier
    window not yet sent never will be. Nobody is told by it."""

    ean: str
    cancelled: bool = False


@dataclass(frozen=True, kw_only=True)
class SurveyAsked(AccountEvent):
    """Twenty days after the meter's installation: how did it go, from 1 to 5, by reply."""


@dataclass(frozen=True, kw_only=True)
class SurveyAnswered(AccountEvent):
    """The survey's reply, recorded once and thanked once."""

    score: int
    request: str = ""



# ---- the CPAS's morning list (ledger/morning.py) ---------------------------------------------

@dataclass(frozen=True, kw_only=True)
class CpasDailyList(Event):
    """A working day's morning: the residents of one CPAS who need a call today, by e-mail to
    the CPAS. `residents`: each a dict of name, meter_ref (masked), ean13 (the link to their
    page), energy, state, balance_cents, days_left, going_without."""

    to: str  # the CPAS's e-mail address
    cpas: str
    day: str  # YYYY-MM-DD, Brussels
    counts: dict  # going_without and each state listed: how many
    residents: list
    more: int = 0  # listed in the pages but not in the e-mail (it shows the first ones)


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
        SmsStopped,
        SmsRestarted,
        HelpSent,
        InstallationReminder,
        InstallationImminent,
        AppointmentChanged,
        SurveyAsked,
        SurveyAnswered,
        CpasDailyList,
    )
}


def event_from_row(name: str, payload: str) -> Event:
    cls = EVENT_TYPES[name]
    data = json.loads(payload)
    for f in fields(cls):
        if f.type in (datetime, datetime | None) and isinstance(data.get(f.name), str):
            data[f.name] = from_text(data[f.name])
    return cls(**data)
