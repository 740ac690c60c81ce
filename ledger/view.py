"""The balance view of one account: what the phone line and the CPAS pages read. Pure."""

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from .calendar import NonDisconnectionPeriod
from .clock import BRUSSELS
from .ean import short_code
from .rules import (
    Meter,
    State,
    classify,
    emergency_credit_left_cents,
    minimum_topup_for,
    usable_before_disconnection_cents,
)

OUTFLOW_WINDOW_DAYS = 7


@dataclass(frozen=True)
class LastTopUp:
    at: datetime
    amount_cents: int
    channel: str


@dataclass(frozen=True)
class BalanceView:
    ean: str
    energy: str
    language: str
    balance_cents: int
    as_of: datetime
    state: State
    threshold_cents: int
    emergency_credit_left_cents: int
    usable_before_disconnection_cents: int
    minimum_topup_cents: int | None
    debt_cents: int
    debt_daily_cents: int
    last_topup: LastTopUp | None
    estimated_days_left: int | None
    power_limiter: bool
    disconnect_at: datetime | None  # set while disconnection is pending
    # What flows out a day (consumption and repayments), the last 7 posted days' average in whole
    # cents rounded up; None without data or when nothing flows out. The line says days to 0 from it.
    average_daily_outflow_cents: int | None = None

    @property
    def ean13(self) -> str:
        """The code's last 13 digits, as the customer knows it."""
        return short_code(self.ean)

    def to_json(self) -> dict[str, Any]:
        # Not asdict(): it deep-copies every value, and a residents page makes fifty of these.
        data = {name: getattr(self, name) for name in _VIEW_FIELDS}
        data["state"] = self.state.value
        data["as_of"] = self.as_of.astimezone(BRUSSELS).isoformat()
        data["disconnect_at"] = self.disconnect_at.astimezone(BRUSSELS).isoformat() if self.disconnect_at else None
        if self.last_topup:
            data["last_topup"] = {
                "at": self.last_topup.at.astimezone(BRUSSELS).isoformat(),
                "amount_cents": self.last_topup.amount_cents,
                "channel": self.last_topup.channel,
            }
        return data


_VIEW_FIELDS = tuple(f.name for f in fields(BalanceView))


def estimated_days_left(balance_cents: int, daily_outflows_cents: list[int]) -> int | None:
    """Whole days until the emergency credit is used up, at the average of the last 7 posted days."""
    recent = daily_outflows_cents[:OUTFLOW_WINDOW_DAYS]
    if not recent:
        return None
    usable = usable_before_disconnection_cents(balance_cents)
    total = sum(recent)
    if total <= 0:
        return None  # nothing flows out: no end in sight to estimate
    return usable * len(recent) // total


def average_daily_outflow_cents(daily_outflows_cents: list[int]) -> int | None:
    """The last 7 posted days' average outflow, rounded up (never 0 while something flows out)."""
    recent = daily_outflows_cents[:OUTFLOW_WINDOW_DAYS]
    total = sum(recent)
    if not recent or total <= 0:
        return None
    return -(-total // len(recent))


def build_view(*, meter: Meter, as_of: datetime, now: datetime, ndp: NonDisconnectionPeriod,
               debts: list[tuple[int, int]], last_topup: LastTopUp | None,
               daily_outflows_cents: list[int]) -> BalanceView:
    """`debts` are (outstanding, daily) pairs; `daily_outflows_cents` newest day first."""
    state = classify(meter, now, ndp)
    balance = meter.balance_cents
    open_debts = [(left, daily) for left, daily in debts if left > 0]
    pending = state is State.DISCONNECTION_PENDING and meter.pending_since is not None
    return BalanceView(
        ean=meter.ean,
        energy=meter.energy,
        language=meter.language,
        balance_cents=balance,
        as_of=as_of,
        state=state,
        threshold_cents=meter.threshold_cents,
        emergency_credit_left_cents=emergency_credit_left_cents(balance),
        usable_before_disconnection_cents=usable_before_disconnection_cents(balance),
        minimum_topup_cents=minimum_topup_for(state, balance),
        debt_cents=sum(left for left, _ in open_debts),
        debt_daily_cents=sum(min(left, daily) for left, daily in open_debts),
        last_topup=last_topup,
        estimated_days_left=estimated_days_left(balance, daily_outflows_cents),
        power_limiter=meter.power_limiter,
        disconnect_at=ndp.end_after(meter.pending_since) if pending else None,
        average_daily_outflow_cents=average_daily_outflow_cents(daily_outflows_cents),
    )
