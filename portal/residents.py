"""The residents list: who needs help first, sorting and search. Pure: data in, data out."""

import unicodedata
from collections.abc import Sequence

from ledger import Resident, State

# Most urgent first: no energy now, then soon none, then eating into the emergency credit.
ATTENTION = (State.DISCONNECTED, State.POWER_LIMITED, State.DISCONNECTION_PENDING,
             State.EMERGENCY, State.LOW)
SORTS = ("attention", "name", "balance", "days")


def needs_attention(resident: Resident) -> bool:
    return resident.view.state in ATTENTION


def _folded(text: str) -> str:
    """Case and accents aside: 'zoe' finds 'Zoé'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def matches(resident: Resident, query: str) -> bool:
    query = query.strip()
    if not query:
        return True
    digits = query.replace(" ", "").replace(".", "")
    if digits.isdigit():
        return digits in resident.view.ean[5:]
    return _folded(query) in _folded(resident.name or "")


def _attention_key(resident: Resident) -> tuple:
    state = resident.view.state
    rank = ATTENTION.index(state) if state in ATTENTION else len(ATTENTION)
    return rank, resident.view.balance_cents, _folded(resident.name or "")


def arrange(residents: Sequence[Resident], *, sort: str = "attention", query: str = ""
            ) -> list[Resident]:
    chosen = [r for r in residents if matches(r, query)]
    if sort == "name":
        return sorted(chosen, key=lambda r: (_folded(r.name or "~"), r.view.ean))
    if sort == "balance":
        return sorted(chosen, key=lambda r: (r.view.balance_cents, r.view.ean))
    if sort == "days":  # the fewest days left first; unknown last
        return sorted(chosen, key=lambda r: (r.view.estimated_days_left is None,
                                             r.view.estimated_days_left or 0, r.view.ean))
    return sorted(chosen, key=_attention_key)
