"""The residents list: who needs help first. The sorting, the search and the paging are the
database's (ledger.cpas); the pages only say which residents need attention."""

from ledger import Resident, State
from ledger.cpas import RESIDENT_SORTS

# Most urgent first: no energy now, then soon none, then eating into the emergency credit.
ATTENTION = (State.DISCONNECTED, State.POWER_LIMITED, State.DISCONNECTION_PENDING,
             State.EMERGENCY, State.LOW)
SORTS = RESIDENT_SORTS


def needs_attention(resident: Resident) -> bool:
    """Its state, or going without (ledger/hardship.py) whatever its state now."""
    return resident.going_without or resident.view.state in ATTENTION
