"""A balance described for an operator (`saldo balance`), in plain English: customer-facing words
live in locales/."""

from ledger import BRUSSELS, BalanceView, State, format_cents

STATE_WORDS = {
    State.NORMAL: "normal",
    State.LOW: "low credit: the emergency credit starts when the balance runs out",
    State.EMERGENCY: "emergency credit in use",
    State.DISCONNECTION_PENDING: "will be disconnected when the non-disconnection period ends",
    State.DISCONNECTED: "disconnected",
    State.POWER_LIMITED: "power-limited",
}


def describe(view: BalanceView) -> str:
    """The operator's plain-text summary (customer-facing words live in locales/)."""
    when = view.as_of.astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M")
    lines = [
        f"EAN          {view.ean} ({view.energy}, {view.language})",
        f"balance      {format_cents(view.balance_cents)} as of {when} (Brussels)",
        f"state        {view.state.value}: {STATE_WORDS[view.state]}",
    ]
    if view.state is State.EMERGENCY:
        lines.append(f"usable       {format_cents(view.usable_before_disconnection_cents)} "
                     "before disconnection")
    if view.disconnect_at:
        lines.append(f"cut off at   {view.disconnect_at.astimezone(BRUSSELS):%d/%m/%Y %H:%M}")
    if view.minimum_topup_cents is not None:
        lines.append(f"to restore   top up at least {format_cents(view.minimum_topup_cents)}")
    if view.debt_cents:
        lines.append(f"debt         {format_cents(view.debt_cents)}, repaid "
                     f"{format_cents(view.debt_daily_cents)} a day")
    if view.last_topup:
        t = view.last_topup
        lines.append(f"last top-up  {format_cents(t.amount_cents)} ({t.channel}) on "
                     f"{t.at.astimezone(BRUSSELS):%d/%m/%Y %H:%M}")
    if view.estimated_days_left is not None:
        lines.append(f"days left    about {view.estimated_days_left} (average of the last 7 days)")
    return "\n".join(lines)
