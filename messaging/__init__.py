"""SMS and e-mail notifications from the ledger's events. Built in its own issue."""
