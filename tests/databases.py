"""Where the tests keep their ledgers: a SQLite file per test by default; with
SALDO_TEST_POSTGRES set (a PostgreSQL server's URL, e.g. postgresql://saldo@127.0.0.1:55432/postgres,
as .ci/run starts one), a new PostgreSQL database per test instead, dropped afterwards."""

import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

POSTGRES_ENV = "SALDO_TEST_POSTGRES"


def postgres_server() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@asynccontextmanager
async def fresh_database(tmp_path: Path):
    """Yields a DATABASE_URL nobody else uses."""
    server = postgres_server()
    if server is None:
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    import asyncpg

    name = f"saldo_test_{secrets.token_hex(6)}"
    url = make_url(server)
    admin = await asyncpg.connect(user=url.username, password=url.password, host=url.host,
                                  port=url.port, database=url.database or "postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
