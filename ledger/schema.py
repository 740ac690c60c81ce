"""Tables of the ledger as the code reads and writes them; ledger/migrations.py builds them.

Only `ledger` reads these tables; every other package goes through `ledger.service`.
Times are UTC text (`ledger.clock.to_text`), days are 'YYYY-MM-DD', money is integer cents.
"""


from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from .domain import ATTENTION_ORDER, DailyList
from .migrations import OUTBOX_CURSOR, SCHEMA_VERSION, current_version, upgrade  # noqa: F401

metadata = MetaData()

# ledger.cpas.ATTENTION_ORDER's index of an account's state as its columns say it — a pending
# disconnection counts as pending here; ledger/cpas.py ranks those whose non-disconnection
# period is over as cut, as ledger.rules.classify does, since that depends on the hour.
_RANK = {state: rank for rank, state in enumerate(ATTENTION_ORDER)}
STANDING_RANK = (
    f"CASE WHEN supply = 'off' THEN (CASE WHEN power_limiter THEN {_RANK['power_limited']}"
    f" ELSE {_RANK['disconnected']} END)"
    f" WHEN supply = 'pending' THEN {_RANK['disconnection_pending']}"
    f" WHEN balance_cents < 0 THEN {_RANK['emergency']}"
    f" WHEN balance_cents < threshold_cents THEN {_RANK['low']} ELSE {_RANK['normal']} END")
CARE_ORDER = f"CASE WHEN going_without THEN 0 ELSE ({STANDING_RANK}) + 1 END"
# Names in code-point order on both databases, as Python sorts them: SQLite compares text
# byte by byte; PostgreSQL's default collation would not.
NAME_ORDER_TYPE = Text().with_variant(Text(collation="C"), "postgresql")

accounts = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("ean", String(18), nullable=False, unique=True),
    Column("ean13", String(13), nullable=False, unique=True),
    Column("energy", String(12), nullable=False),
    Column("language", String(2), nullable=False),
    Column("name", Text),
    Column("mobile", String(20)),
    Column("email", Text),
    Column("notify", String(10), nullable=False),
    Column("threshold_cents", Integer, nullable=False),
    Column("power_limiter", Boolean, nullable=False),
    Column("cpas", String(32)),
    Column("activated_at", String(20), nullable=False),
    Column("activated_on", String(10), nullable=False),  # its day in Brussels
    Column("transferred_cents", Integer),  # from a replaced budget meter, if any
    # Cached from the postings, updated in the same transaction; the tests check they agree.
    Column("balance_cents", Integer, nullable=False),
    Column("supply", String(8), nullable=False),
    Column("pending_since", String(20)),
    Column("as_of", String(20), nullable=False),
    Column("last_topup_at", String(20)),
    Column("last_topup_cents", Integer),
    Column("last_topup_channel", String(12)),
    Column("name_key", Text),  # the name folded (ledger/names.py), for the residents list
    # Kept by the database as the columns they are computed from change, for the residents
    # list's default order (ledger/cpas.py), which an index then serves.
    Column("attention", Integer, Computed(STANDING_RANK, persisted=True)),
    Column("name_order", NAME_ORDER_TYPE, Computed("coalesce(name_key, '')", persisted=True)),
    # Cut off twice in 30 days, or 7 days in emergency credit (ledger/hardship.py keeps it).
    Column("going_without", Boolean, nullable=False, server_default=false()),
    # The residents list's default order: those going without first, then by standing.
    Column("care_order", Integer, Computed(CARE_ORDER, persisted=True)),
)
Index("accounts_cpas", accounts.c.cpas)
# A CPAS's residents in the list's default order: a page reads its rows, not the whole CPAS.
Index("accounts_care", accounts.c.cpas, accounts.c.care_order, accounts.c.balance_cents,
      accounts.c.name_order, accounts.c.id)
Index("accounts_supply", accounts.c.supply)
# The balance line knows a caller by the mobile on file (ivr: a known caller).
Index("accounts_by_mobile", accounts.c.mobile)
# The satisfaction survey goes twenty days after activation (ledger/journey.py).
Index("accounts_activated", accounts.c.activated_at)

debts = Table(
    "debts", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("book", String(80), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # start_credit | payment_plan
    Column("principal_cents", Integer, nullable=False),
    Column("daily_cents", Integer, nullable=False),
    Column("outstanding_cents", Integer, nullable=False),
    Column("created_at", String(20), nullable=False),
)

# Append-only. Each row moves `amount_cents` (> 0) from one book to another, so the books sum to
# zero by construction; `reference` is the idempotency key of the input that caused it.
postings = Table(
    "postings", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("from_book", String(80), nullable=False),
    Column("to_book", String(80), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("at", String(20), nullable=False),
    Column("day", String(10)),
    Column("reference", String(120), nullable=False, unique=True),
    Column("reverses", String(120)),
    Column("detail", Text),
)

consumption_days = Table(
    "consumption_days", metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("amount_cents", Integer, nullable=False),
    Column("repaid_cents", Integer, nullable=False),
    Column("revision", Integer, nullable=False),  # its posting is consumption:ACCOUNT:DAY:REVISION
    Column("quantity", String(20)),
    Column("unit", String(8)),
    sqlite_with_rowid=False,
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    # None: an event of no account (a reply to an unknown number, an installation reminder).
    Column("account_id", Integer, ForeignKey("accounts.id"), index=True),
    Column("name", String(32), nullable=False),
    Column("at", String(20), nullable=False),
    Column("payload", Text, nullable=False),
)
# The cuts of the last 30 days (ledger/hardship.py).
Index("events_by_name", events.c.name, events.c.at)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String(20), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("action", String(40), nullable=False),
    Column("ean", String(18)),
    Column("outcome", String(40), nullable=False),
    Column("detail", Text),
)
# The balance line reads a caller's recent look-ups at every call (ivr/limits.py).
Index("audit_by_actor", audit.c.actor, audit.c.at)

meta = Table(
    "meta", metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

# A CPAS with residents under mandate (accounts.cpas) may register where the serious events of
# those residents also go.
cpas_contacts = Table(
    "cpas_contacts", metadata,
    Column("cpas", String(32), primary_key=True),
    Column("mobile", String(20)),
    Column("email", Text),
    Column("language", String(2), nullable=False),
    # When the CPAS wants its morning list (ledger.domain.DailyList).
    Column("daily_list", String(8), nullable=False, server_default=DailyList.NEEDED.value),
)

# The durable outbox: at most one message per event, audience and channel.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), index=True),  # None: its event's
    Column("audience", String(8), nullable=False),  # customer | cpas
    Column("channel", String(8), nullable=False),  # sms | email
    Column("address", Text, nullable=False),  # E.164 mobile or e-mail address
    Column("language", String(2), nullable=False),
    Column("state", String(16), nullable=False),  # outbox.MESSAGE_STATES
    Column("attempts", Integer, nullable=False),
    Column("not_before", String(20), nullable=False),  # next attempt: quiet hours, back-off
    Column("claimed_at", String(20)),
    Column("provider_id", String(64)),  # Twilio's message SID, or the e-mail's Message-ID
    Column("error", Text),
    Column("created_at", String(20), nullable=False),
    Column("sent_at", String(20)),
    Column("reported_at", String(20)),  # the last delivery report applied
    Column("fallback_for", Integer, ForeignKey("outbox.id")),
    Column("superseded_by", Integer),  # the later event that made it stale (state superseded)
    UniqueConstraint("event_id", "audience", "channel"),
)
Index("outbox_due", outbox.c.state, outbox.c.not_before)

# The outbox's counts by state and channel, as rows of changes its triggers add (migration 11)
# and the worker folds: the counts are their sums (Outbox.counts_by_channel).
outbox_tally = Table(
    "outbox_tally", metadata,
    Column("id", Integer, primary_key=True),
    Column("state", String(20), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("n", Integer, nullable=False),
)
Index("outbox_provider_id", outbox.c.provider_id)

# The accounts and consumption days counted as they are added (migration 12, ledger/tally.py):
# a count is the sum of its name's rows.
row_tally = Table(
    "row_tally", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("n", BigInteger, nullable=False),
)

# Delivery reports as the provider sent them, in any order and any number of times; one that
# arrives before its message is recorded as sent is applied when it is.
delivery_reports = Table(
    "delivery_reports", metadata,
    Column("id", Integer, primary_key=True),
    Column("provider_id", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("at", String(20), nullable=False),
)

# A number that answered STOP: it gets no SMS but the answers to what it asks itself (opt-out
# is by number, whatever meters it is on file for). START deletes the row; the audit trail keeps
# the history.
sms_stops = Table(
    "sms_stops", metadata,
    Column("mobile", String(20), primary_key=True),  # E.164
    Column("since", String(20), nullable=False),
    Column("how", String(40), nullable=False),  # the keyword as the customer wrote it
)

# Every incoming SMS once: a webhook Twilio delivers again finds its SID. `sender` is the
# number's keyed hash (never the number), for the limit per number and hour.
sms_received = Table(
    "sms_received", metadata,
    Column("sid", String(34), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("at", String(20), nullable=False),
    Column("outcome", String(24), nullable=False),
)
Index("sms_received_by_sender", sms_received.c.sender, sms_received.c.at)

# The technician's visit to install a meter (seed 003), from the appointments file: one per EAN,
# a later file replaces or cancels it. The reminders are emitted when due (ledger/journey.py).
appointments = Table(
    "appointments", metadata,
    Column("ean", String(18), primary_key=True),
    Column("starts_at", String(20), nullable=False),
    Column("ends_at", String(20), nullable=False),
    Column("mobile", String(20)),  # the file's; a mobile on file of the account comes first
    Column("language", String(2), nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("imported_at", String(20), nullable=False),
    Column("reminded_at", String(20)),  # the 48-hour reminder emitted (or skipped: too late)
    Column("imminent_at", String(20)),  # the 15-minute one
)
Index("appointments_due", appointments.c.cancelled, appointments.c.starts_at)

# The satisfaction survey, twenty days after installation: asked once, answered once.
surveys = Table(
    "surveys", metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("asked_at", String(20), nullable=False),
    Column("score", Integer),
    Column("answered_at", String(20)),
)
