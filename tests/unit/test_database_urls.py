"""DATABASE_URL as operators write it, and as hosting platforms give it."""

import pytest

from ledger.db import async_url, sqlite_path
from saldo.settings import Settings, SettingsError


@pytest.mark.parametrize("given, driver", [
    ("sqlite:///saldo.db", "sqlite+aiosqlite"),
    ("postgresql://saldo:secret@db.internal/saldo", "postgresql+asyncpg"),
    ("postgres://saldo:secret@db.internal:5432/saldo", "postgresql+asyncpg"),  # Heroku-style
])
def test_each_database_gets_its_async_driver(given, driver):
    assert async_url(given).drivername == driver
    assert (sqlite_path(given) is not None) == given.startswith("sqlite")


def test_other_databases_are_refused_by_name():
    with pytest.raises(SettingsError, match="DATABASE_URL: 'mysql' is not supported"):
        Settings.from_env({"DATABASE_URL": "mysql://x/y"})
    assert Settings.from_env({"DATABASE_URL": "postgres://u@h/d"}).database_url == "postgres://u@h/d"


def test_secrets_stay_out_of_the_settings_repr():
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": "t" * 32, "PORTAL_SECRET": "p" * 32})
    assert "t" * 32 not in repr(settings) and "p" * 32 not in repr(settings)
