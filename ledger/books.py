"""The ledger's books and its postings' references, each formatted in one place and parsed back
there: no other module writes or splits their text.

A book is where money sits: an account's balance, one of its debts, or one of the platform's
books outside the accounts. A posting moves money from one book to another, so the books sum to
zero. A reference is a posting's idempotency key: the input that caused it, so that the same
input posted twice changes nothing.
"""

from dataclasses import dataclass

# Books outside the accounts: where the money comes from and goes to.
ENERGY_SOLD = "energy_sold"
BUDGET_METER_TRANSFERS = "budget_meter_transfers"
PRIOR_DEBTS = "prior_debts"
AGENT_ADJUSTMENTS = "agent_adjustments"

_BALANCE, _TOPUPS, _START_DEBT, _PLAN_DEBT = "balance:", "topups:", "debt:start:", "debt:plan:"


def balance_book(account_id: int) -> str:
    return f"{_BALANCE}{account_id}"


def topup_book(channel: str) -> str:
    """Where a payment channel's money comes from."""
    return f"{_TOPUPS}{channel}"


def start_debt_book(account_id: int) -> str:
    """The starting credit's advance (seed 003), repaid a euro a day."""
    return f"{_START_DEBT}{account_id}"


def plan_debt_book(account_id: int, reference: str) -> str:
    """An earlier debt with its payment plan, named by the agent's reference."""
    return f"{_PLAN_DEBT}{account_id}:{reference}"


def is_balance_book(book: str) -> bool:
    return book.startswith(_BALANCE)


def is_debt_book(book: str) -> bool:
    return book.startswith("debt:")


# ---- references --------------------------------------------------------------------------------

def consumption_reference(account_id: int, day: str, revision: int) -> str:
    """A day's consumption; a correction of it is the next revision."""
    return f"consumption:{account_id}:{day}:{revision}"


def reversal_reference(reversed_reference: str) -> str:
    return f"reversal:{reversed_reference}"


def repayment_reference(debt_book: str, day: str) -> str:
    return f"repayment:{debt_book}:{day}"


def transfer_reference(ean: str) -> str:
    """The balance a replaced budget meter handed over, on activation."""
    return f"transfer:{ean}"


def start_credit_reference(ean: str) -> str:
    return f"start_credit:{ean}"


def plan_reference(debt_book: str) -> str:
    return f"plan:{debt_book}"


@dataclass(frozen=True)
class TopUpReference:
    """A top-up's key: its channel, who recorded it for the channel (a CPAS office's code), and
    the payment's own reference as the payer gave it (a receipt, a transaction number). Two
    issuers' receipts never collide; the channel and the issuer hold no ':' (ledger/limits.py),
    the receipt may."""

    channel: str
    receipt: str
    issuer: str | None = None

    PREFIX = "topup:"

    def __str__(self) -> str:
        issued = f"{self.channel}@{self.issuer}" if self.issuer else self.channel
        return f"{self.PREFIX}{issued}:{self.receipt}"

    @classmethod
    def parse(cls, key: str) -> "TopUpReference":
        """topup:CHANNEL[@ISSUER]:RECEIPT back into its parts; ValueError if it is none."""
        if not key.startswith(cls.PREFIX) or key.count(":") < 2:
            raise ValueError(f"not a top-up's reference: {key!r}")
        issued, receipt = key[len(cls.PREFIX):].split(":", 1)
        channel, _, issuer = issued.partition("@")
        return cls(channel, receipt, issuer or None)
