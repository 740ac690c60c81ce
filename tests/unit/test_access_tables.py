"""Who may log in keeps its tables beside the ledger's, created where missing (portal/access.py)."""

from portal.access import tables

# The access tables as databases hold them since the ledger's migration 3 made them (December
# 2026); portal/access.py creates them where missing, from its definitions.
ACCESS_TABLES_AS_RELEASED = {
    "api_clients": ["id INTEGER", "token_hash VARCHAR(64)", "kind VARCHAR(8)", "cpas VARCHAR(32)",
                    "channel VARCHAR(12)", "label TEXT", "created_at VARCHAR(20)",
                    "revoked_at VARCHAR(20)"],
    "staff": ["id INTEGER", "username VARCHAR(64)", "cpas VARCHAR(32)", "password_hash TEXT",
              "language VARCHAR(2)", "created_at VARCHAR(20)", "disabled_at VARCHAR(20)",
              "failed_logins INTEGER", "locked_until VARCHAR(20)"],
    "staff_sessions": ["id INTEGER", "token_hash VARCHAR(64)", "staff_id INTEGER",
                       "created_at VARCHAR(20)", "last_seen_at VARCHAR(20)"],
}


def test_the_access_tables_are_what_databases_already_hold():
    """Creating what is missing cannot change a table that exists: a column added to the
    definitions needs a migration of its own in portal/access.py, and this list its update."""
    defined = {table.name: [f"{column.name} {column.type}" for column in table.columns]
               for table in tables.sorted_tables}
    assert defined == ACCESS_TABLES_AS_RELEASED
