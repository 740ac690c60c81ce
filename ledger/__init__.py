"""The embedded prepayment ledger: balances, debts, emergency credit and disconnection rules.

It knows nothing of HTTP, Twilio or templates. Other packages use what is exported here.
"""

from .calendar import NonDisconnectionPeriod
from .clock import BRUSSELS, Clock, SettableClock, SystemClock
from .csvfile import (
    FileRefused,
    read_accounts,
    read_appointments,
    read_consumption,
    stream_accounts,
    stream_consumption,
)
from .domain import (
    AUDIENCES,
    DEFAULT_LANGUAGE,
    ENERGIES,
    LANGUAGES,
    MESSAGE_CHANNELS,
    PAYMENT_CHANNELS,
    TOPUP_CHANNELS,
    Audience,
    Energy,
    SmsRequest,
    Language,
    MessageChannel,
)
from .ean import masked
from .errors import (
    DemoRefused,
    InvalidInput,
    LedgerError,
    ReferenceConflict,
    UnknownAccount,
)
from .events import Event
from .inputs import (
    AccountInput,
    AppointmentInput,
    ConsumptionInput,
    ImportReport,
    Lookup,
    Resident,
    RowError,
    TopUpResult,
)
from .money import format_cents, parse_cents
from .outbox import (
    DEFAULT_LEASE,
    MESSAGE_STATES,
    Contacts,
    CpasContact,
    GaveUp,
    MessageRecord,
    NewMessage,
    OutboxMessage,
    Postponed,
    Retry,
    Sent,
    Withheld,
)
from .replies import IncomingSms
from .rules import State
from .service import Ledger
from .view import BalanceView, LastTopUp

__all__ = [
    "AUDIENCES", "DEFAULT_LANGUAGE", "DEFAULT_LEASE", "ENERGIES", "LANGUAGES", "MESSAGE_CHANNELS", "MESSAGE_STATES",
    "Audience", "Energy", "SmsRequest", "Language", "MessageChannel",
    "BRUSSELS", "PAYMENT_CHANNELS", "TOPUP_CHANNELS", "AccountInput", "AppointmentInput", "BalanceView", "Clock",
    "ConsumptionInput", "Contacts", "CpasContact", "DemoRefused", "Event", "FileRefused", "GaveUp",
    "ImportReport", "IncomingSms", "InvalidInput", "LastTopUp", "Ledger", "LedgerError", "Lookup", "MessageRecord",
    "NewMessage", "NonDisconnectionPeriod", "OutboxMessage", "Postponed", "ReferenceConflict", "Resident", "Retry",
    "RowError", "Sent", "SettableClock", "State", "SystemClock", "TopUpResult", "UnknownAccount", "Withheld",
    "format_cents", "masked", "parse_cents", "read_accounts", "read_appointments", "read_consumption", "stream_accounts",
    "stream_consumption",
]
