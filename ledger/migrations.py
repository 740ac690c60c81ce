"""The numbered migrations: each states its own DDL, frozen as it was released.

A migration never reads the live table definitions (ledger/schema.py): a column added there
later must come with a migration of its own, and a new database is built by running all of
them in order, as an old one was. tests/integration/test_migrations.py checks that what they
build is what ledger/schema.py defines, on both databases.

Numbered, applied in order, never edited once released: add a function, never change one.
"""

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)

from .names import name_key

OUTBOX_CURSOR = "outbox_cursor"  # meta key: the last event turned into messages

# --- 1: the ledger (as released on 23 November 2026) ----------------------------------------

_V1 = MetaData()

_accounts = Table(
    "accounts", _V1,
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
)

_debts = Table(
    "debts", _V1,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("book", String(80), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # start_credit | payment_plan
    Column("principal_cents", Integer, nullable=False),
    Column("daily_cents", Integer, nullable=False),
    Column("outstanding_cents", Integer, nullable=False),
    Column("created_at", String(20), nullable=False),
)

_postings = Table(
    "postings", _V1,
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

_consumption_days = Table(
    "consumption_days", _V1,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("amount_cents", Integer, nullable=False),
    Column("repaid_cents", Integer, nullable=False),
    Column("revision", Integer, nullable=False),  # its posting is consumption:ACCOUNT:DAY:REVISION
    Column("quantity", String(20)),
    Column("unit", String(8)),
    sqlite_with_rowid=False,
)

_events = Table(
    "events", _V1,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(32), nullable=False),
    Column("at", String(20), nullable=False),
    Column("payload", Text, nullable=False),
)

_audit = Table(
    "audit", _V1,
    Column("id", Integer, primary_key=True),
    Column("at", String(20), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("action", String(40), nullable=False),
    Column("ean", String(18)),
    Column("outcome", String(40), nullable=False),
    Column("detail", Text),
)

_meta = Table(
    "meta", _V1,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

Index("accounts_cpas", _accounts.c.cpas)
Index("accounts_supply", _accounts.c.supply)


def _v1_create_tables(conn: Connection) -> None:
    _V1.create_all(conn)


# --- 2: the outbox -------------------------------------------------------------------------

_V2 = MetaData()
# Only what the new tables' foreign keys name.
Table("accounts", _V2, Column("id", Integer, primary_key=True))
Table("events", _V2, Column("id", Integer, primary_key=True))

_cpas_contacts = Table(
    "cpas_contacts", _V2,
    Column("cpas", String(32), primary_key=True),
    Column("mobile", String(20)),
    Column("email", Text),
    Column("language", String(2), nullable=False),
)

_outbox = Table(
    "outbox", _V2,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
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
    UniqueConstraint("event_id", "audience", "channel"),
)

_delivery_reports = Table(
    "delivery_reports", _V2,
    Column("id", Integer, primary_key=True),
    Column("provider_id", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("at", String(20), nullable=False),
)

Index("outbox_due", _outbox.c.state, _outbox.c.not_before)
Index("outbox_provider_id", _outbox.c.provider_id)


def _v2_outbox(conn: Connection) -> None:
    _V2.create_all(conn, tables=[_cpas_contacts, _outbox, _delivery_reports])
    # Events from before the outbox existed are history: nobody is told about them now.
    last = conn.execute(text("SELECT max(id) FROM events")).scalar() or 0
    conn.execute(text("INSERT INTO meta (key, value) VALUES (:key, :value)"),
                 {"key": OUTBOX_CURSOR, "value": str(last)})


# --- 3: nothing now ---------------------------------------------------------------------------
# Until 7 December 2026 it created the tables of the pages' staff, their sessions and the API's
# clients; who may log in is no longer the ledger's business, and portal/access.py creates them
# where missing. A database made before keeps them as they were, the same definitions.

def _v3_access(conn: Connection) -> None:
    pass


# --- 4 and later: one change each -----------------------------------------------------------

def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def _v4_audit_by_actor(conn: Connection) -> None:
    # The balance line reads a caller's recent look-ups at every call (ivr/limits.py).
    conn.execute(text("CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, at)"))


# Until 7 December 2026 migrations 1 and 2 created the tables as defined at the time they ran:
# a database made then already has the columns of 5, 6 and 7, which therefore look first.

def _v5_superseded_messages(conn: Connection) -> None:
    if "superseded_by" not in _columns(conn, "outbox"):
        conn.execute(text("ALTER TABLE outbox ADD COLUMN superseded_by INTEGER"))


def _v6_name_keys(conn: Connection) -> None:
    if "name_key" not in _columns(conn, "accounts"):
        conn.execute(text("ALTER TABLE accounts ADD COLUMN name_key TEXT"))
    named = conn.execute(text("SELECT id, name FROM accounts WHERE name IS NOT NULL")).all()
    if named:
        conn.execute(text("UPDATE accounts SET name_key = :key WHERE id = :account_id"),
                     [{"account_id": id_, "key": name_key(name)} for id_, name in named])


# The rank of an account's state for the residents list, as its columns say it (ledger/cpas.py).
_STANDING_RANK_V7 = ("CASE WHEN supply = 'off' THEN (CASE WHEN power_limiter THEN 1 ELSE 0 END)"
                     " WHEN supply = 'pending' THEN 2 WHEN balance_cents < 0 THEN 3"
                     " WHEN balance_cents < threshold_cents THEN 4 ELSE 5 END")


def _v7_attention_order(conn: Connection) -> None:
    if "attention" not in _columns(conn, "accounts"):
        # SQLite adds a computed column only as VIRTUAL (its index keeps the values);
        # PostgreSQL keeps only STORED ones.
        kept = "STORED" if conn.dialect.name == "postgresql" else "VIRTUAL"
        collation = ' COLLATE "C"' if conn.dialect.name == "postgresql" else ""
        conn.execute(text(f"ALTER TABLE accounts ADD COLUMN attention INTEGER "
                          f"GENERATED ALWAYS AS ({_STANDING_RANK_V7}) {kept}"))
        conn.execute(text(f"ALTER TABLE accounts ADD COLUMN name_order TEXT{collation} "
                          f"GENERATED ALWAYS AS (coalesce(name_key, '')) {kept}"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS accounts_attention ON accounts "
                      "(cpas, attention, balance_cents, name_order, id)"))


def _v8_accounts_by_mobile(conn: Connection) -> None:
    # The balance line finds the meters of a caller's number at each call.
    conn.execute(text("CREATE INDEX IF NOT EXISTS accounts_by_mobile ON accounts (mobile)"))


# --- 9: messages that listen, and the installation journey ---------------------------------
# An event and its messages may belong to no account: the answer to a number on file of no
# meter, a reminder of an installation before the account exists. account_id loses NOT NULL;
# SQLite alters no constraint, and its own documentation gives the way for this change: the
# table's stored definition is edited, since no row's bytes change (sqlite.org/lang_altertable,
# "Making Other Kinds Of Table Schema Changes").

_V9 = MetaData()
Table("accounts", _V9, Column("id", Integer, primary_key=True))

_sms_stops = Table(
    "sms_stops", _V9,
    Column("mobile", String(20), primary_key=True),
    Column("since", String(20), nullable=False),
    Column("how", String(40), nullable=False),
)

_sms_received = Table(
    "sms_received", _V9,
    Column("sid", String(34), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("at", String(20), nullable=False),
    Column("outcome", String(24), nullable=False),
)
Index("sms_received_by_sender", _sms_received.c.sender, _sms_received.c.at)

_appointments = Table(
    "appointments", _V9,
    Column("ean", String(18), primary_key=True),
    Column("starts_at", String(20), nullable=False),
    Column("ends_at", String(20), nullable=False),
    Column("mobile", String(20)),
    Column("language", String(2), nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("imported_at", String(20), nullable=False),
    Column("reminded_at", String(20)),
    Column("imminent_at", String(20)),
)
Index("appointments_due", _appointments.c.cancelled, _appointments.c.starts_at)

_surveys = Table(
    "surveys", _V9,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("asked_at", String(20), nullable=False),
    Column("score", Integer),
    Column("answered_at", String(20)),
)


def _drop_not_null(conn: Connection, table: str, column: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL"))
        return
    version = conn.execute(text("PRAGMA schema_version")).scalar()
    definition = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                   "AND name = :table"), {"table": table}).scalar()
    changed = definition.replace(f"{column} INTEGER NOT NULL", f"{column} INTEGER", 1)
    if changed == definition:
        return
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :table"),
                 {"sql": changed, "table": table})
    conn.execute(text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))


def _v9_replies_and_appointments(conn: Connection) -> None:
    _drop_not_null(conn, "events", "account_id")
    _drop_not_null(conn, "outbox", "account_id")
    _V9.create_all(conn, tables=[_sms_stops, _sms_received, _appointments, _surveys])
    # The survey is asked twenty days after activation (ledger/journey.py).
    conn.execute(text("CREATE INDEX IF NOT EXISTS accounts_activated ON accounts (activated_at)"))


# --- 10: the households going without (the CPAS's morning list) ------------------------------
# An account cut off twice or more in 30 days, or in emergency credit for 7 days or more, is
# flagged (ledger/hardship.py refreshes it) and comes first in its CPAS's list: `care_order` is
# its rank there, the index serves the list's default order as accounts_attention did.

# PostgreSQL computes no column from another computed one: the standing's rank is written out.
_CARE_ORDER_V10 = f"CASE WHEN going_without THEN 0 ELSE ({_STANDING_RANK_V7}) + 1 END"


def _v10_going_without(conn: Connection) -> None:
    if "going_without" not in _columns(conn, "accounts"):
        conn.execute(text("ALTER TABLE accounts ADD COLUMN going_without BOOLEAN NOT NULL "
                          "DEFAULT false"))
        kept = "STORED" if conn.dialect.name == "postgresql" else "VIRTUAL"
        conn.execute(text(f"ALTER TABLE accounts ADD COLUMN care_order INTEGER "
                          f"GENERATED ALWAYS AS ({_CARE_ORDER_V10}) {kept}"))
    conn.execute(text("DROP INDEX IF EXISTS accounts_attention"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS accounts_care ON accounts "
                      "(cpas, care_order, balance_cents, name_order, id)"))
    # The cuts of the last 30 days, found by name and time.
    conn.execute(text("CREATE INDEX IF NOT EXISTS events_by_name ON events (name, at)"))
    if "daily_list" not in _columns(conn, "cpas_contacts"):
        conn.execute(text("ALTER TABLE cpas_contacts ADD COLUMN daily_list VARCHAR(8) NOT NULL "
                          "DEFAULT 'needed'"))


# --- 11: the outbox's counts, kept as it changes ---------------------------------------------
# GET /metrics counted the outbox's messages by state and channel at each scrape: 90 ms for
# 200,000 messages on SQLite (bench/metrics_scrape.py). Triggers now add a row of changes to
# outbox_tally in the transaction that changes the outbox — rows only ever added, so that writers
# never wait on one another for a counter — and the worker folds them into one row per state and
# channel (ledger/outbox.py, Outbox.fold_tally). The counts are the tally's sums.

_V11 = MetaData()
_outbox_tally = Table(
    "outbox_tally", _V11,
    Column("id", Integer, primary_key=True),
    Column("state", String(20), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("n", Integer, nullable=False),
)

_TALLY_SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS outbox_tally_insert AFTER INSERT ON outbox BEGIN "
    "INSERT INTO outbox_tally (state, channel, n) VALUES (NEW.state, NEW.channel, 1); END",
    "CREATE TRIGGER IF NOT EXISTS outbox_tally_update AFTER UPDATE OF state, channel ON outbox "
    "WHEN OLD.state <> NEW.state OR OLD.channel <> NEW.channel BEGIN "
    "INSERT INTO outbox_tally (state, channel, n) VALUES (OLD.state, OLD.channel, -1), "
    "(NEW.state, NEW.channel, 1); END",
    "CREATE TRIGGER IF NOT EXISTS outbox_tally_delete AFTER DELETE ON outbox BEGIN "
    "INSERT INTO outbox_tally (state, channel, n) VALUES (OLD.state, OLD.channel, -1); END",
)
# PostgreSQL: once a statement, from its transition tables — one row per state and channel a
# statement changed, however many messages it changed.
_TALLY_POSTGRES = (
    "CREATE OR REPLACE FUNCTION outbox_tally_changes() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    "INSERT INTO outbox_tally (state, channel, n) "
    "SELECT state, channel, count(*) FROM new_rows GROUP BY state, channel; "
    "ELSIF TG_OP = 'DELETE' THEN "
    "INSERT INTO outbox_tally (state, channel, n) "
    "SELECT state, channel, -count(*) FROM old_rows GROUP BY state, channel; "
    "ELSE "
    "INSERT INTO outbox_tally (state, channel, n) "
    "SELECT state, channel, sum(n) FROM (SELECT state, channel, -1 AS n FROM old_rows "
    "UNION ALL SELECT state, channel, 1 FROM new_rows) AS changed "
    "GROUP BY state, channel HAVING sum(n) <> 0; "
    "END IF; "
    "RETURN NULL; "
    "END $$",
    "DROP TRIGGER IF EXISTS outbox_tally_insert ON outbox",
    "CREATE TRIGGER outbox_tally_insert AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION outbox_tally_changes()",
    "DROP TRIGGER IF EXISTS outbox_tally_update ON outbox",
    "CREATE TRIGGER outbox_tally_update AFTER UPDATE ON outbox REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_tally_changes()",
    "DROP TRIGGER IF EXISTS outbox_tally_delete ON outbox",
    "CREATE TRIGGER outbox_tally_delete AFTER DELETE ON outbox REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION outbox_tally_changes()",
)


def _v11_outbox_tally(conn: Connection) -> None:
    _V11.create_all(conn, tables=[_outbox_tally])
    conn.execute(text("DELETE FROM outbox_tally"))
    conn.execute(text("INSERT INTO outbox_tally (state, channel, n) "
                      "SELECT state, channel, count(*) FROM outbox GROUP BY state, channel"))
    for statement in (_TALLY_POSTGRES if conn.dialect.name == "postgresql" else _TALLY_SQLITE):
        conn.execute(text(statement))


# --- 12: the accounts and consumption days counted as they are added --------------------------
# GET /metrics counted them at each scrape: on PostgreSQL 20 ms and 13 ms for 200,000 accounts
# and a day of theirs (bench/metrics_scrape.py), and the days grow by as many every day. Their
# counts are now kept in row_tally, in the transaction that adds or removes the rows:
# - PostgreSQL: a trigger once a statement (the imports write a chunk's rows in one statement,
#   ledger/rawpostgres.py) adds a row of the change, never waiting on another writer; the worker
#   folds them (ledger/tally.py);
# - SQLite (one writer at a time): a trigger once a row adds one to the name's single row.

_V12 = MetaData()
_row_tally = Table(
    "row_tally", _V12,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("n", BigInteger, nullable=False),
)
COUNTED_TABLES = ("accounts", "consumption_days")


def _tally_sqlite(table: str) -> tuple[str, ...]:
    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_tally_insert AFTER INSERT ON {table} BEGIN "
        f"UPDATE row_tally SET n = n + 1 WHERE name = '{table}'; END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_tally_delete AFTER DELETE ON {table} BEGIN "
        f"UPDATE row_tally SET n = n - 1 WHERE name = '{table}'; END",
    )


_ROW_TALLY_FUNCTIONS_POSTGRES = (
    "CREATE OR REPLACE FUNCTION row_tally_added() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO row_tally (name, n) SELECT TG_TABLE_NAME, count(*) FROM new_rows "
    "HAVING count(*) > 0; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION row_tally_removed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO row_tally (name, n) SELECT TG_TABLE_NAME, -count(*) FROM old_rows "
    "HAVING count(*) > 0; RETURN NULL; END $$",
)


def _tally_postgres(table: str) -> tuple[str, ...]:
    return (
        f"DROP TRIGGER IF EXISTS {table}_tally_insert ON {table}",
        f"CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS "
        "new_rows FOR EACH STATEMENT EXECUTE FUNCTION row_tally_added()",
        f"DROP TRIGGER IF EXISTS {table}_tally_delete ON {table}",
        f"CREATE TRIGGER {table}_tally_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS "
        "old_rows FOR EACH STATEMENT EXECUTE FUNCTION row_tally_removed()",
    )


def _v12_row_tally(conn: Connection) -> None:
    _V12.create_all(conn, tables=[_row_tally])
    conn.execute(text("DELETE FROM row_tally"))
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        for statement in _ROW_TALLY_FUNCTIONS_POSTGRES:
            conn.execute(text(statement))
    for table in COUNTED_TABLES:
        conn.execute(text(f"INSERT INTO row_tally (name, n) SELECT '{table}', count(*) "
                          f"FROM {table}"))
        for statement in (_tally_postgres(table) if postgres else _tally_sqlite(table)):
            conn.execute(text(statement))


MIGRATIONS: list[Callable[[Connection], None]] = [_v1_create_tables, _v2_outbox, _v3_access,
                                                   _v4_audit_by_actor, _v5_superseded_messages,
                                                   _v6_name_keys, _v7_attention_order,
                                                   _v8_accounts_by_mobile,
                                                   _v9_replies_and_appointments,
                                                   _v10_going_without, _v11_outbox_tally,
                                                   _v12_row_tally]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, "meta"):
        return 0
    value = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
    return int(value) if value is not None else 0


def upgrade(conn: Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns how many migrations ran."""
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"the database has schema {version}, newer than this saldo ({SCHEMA_VERSION})")
    for number in range(version, SCHEMA_VERSION):
        MIGRATIONS[number](conn)
        conn.execute(text("DELETE FROM meta WHERE key = 'schema_version'"))
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', :value)"),
                     {"value": str(number + 1)})
    return SCHEMA_VERSION - version
