"""What the other packages give the ledger and get back from it: the rows of an import, its
report, a top-up's result, a look-up of the trail, a resident as a CPAS sees them."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from .limits import check_text
from .view import BalanceView


@dataclass(frozen=True)
class AccountInput:
    ean: str  # 18 digits, or the last 13 (rebuilt with the network's prefix)
    energy: str
    language: str
    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    notify: str | None = None
    threshold_cents: int | None = None
    transferred_cents: int | None = None
    activated_at: datetime | None = None
    power_limiter: bool = False
    cpas: str | None = None
    line: int | None = None


class ConsumptionInput(NamedTuple):  # a tuple: hundreds of thousands per import
    ean: str
    day: date
    amount_cents: int
    quantity: str | None = None
    unit: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class RowError:
    line: int | None
    field: str
    message: str


@dataclass(frozen=True)
class AppointmentInput:
    """A row of the appointments file: the technician's window to install a meter, or its
    cancellation (no window). Times in UTC."""

    ean: str  # 13 or 18 digits, as written
    starts_at: datetime | None
    ends_at: datetime | None
    mobile: str | None = None  # to remind when the account has none on file
    language: str | None = None
    cancelled: bool = False
    line: int | None = None


@dataclass
class ImportReport:
    new: int = 0  # accounts created, or meter-days posted for the first time
    corrected: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0  # lines replaced by a later line of the same file for the same day
    errors: list[RowError] = field(default_factory=list)

    def add(self, other: "ImportReport") -> None:
        self.new += other.new
        self.corrected += other.corrected
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.superseded += other.superseded
        self.errors += other.errors


@dataclass(frozen=True)
class TopUpResult:
    balance_cents: int
    replayed: bool


def check_account_texts(row: AccountInput) -> None:
    """The limits of an account's text fields (ledger.limits): the first one broken."""
    for name in ("name", "mobile", "email", "cpas"):
        check_text(name, getattr(row, name))


class Lookup(NamedTuple):
    """One look-up of the audit trail."""

    at: datetime
    ean: str | None
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class Resident:
    """An account under a CPAS's mandate, as its staff see it."""

    name: str | None
    view: BalanceView
    going_without: bool = False  # cut off twice in 30 days, or a week in emergency credit
