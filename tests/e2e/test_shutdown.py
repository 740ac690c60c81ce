"""On SIGTERM the server stops accepting, finishes calls in flight and exits."""

import asyncio
import signal
import sqlite3
import time
import xml.etree.ElementTree as ET
from contextlib import asynccontextmanager

import aiohttp
import asyncpg
import pytest
from twilio.request_validator import RequestValidator

from ledger import AccountInput, Ledger
from ledger.audit import audit_file
from ledger.db import sqlite_path
from tests.conftest import make_ean
from tests.e2e.test_processes import env, saldo, wait_for_health  # noqa: F401 - env: a fixture

pytestmark = pytest.mark.slow

TOKEN = "made-up-auth-token"
PUBLIC = "https://saldo.example.be"
HELD_AFTER_SIGTERM = 2  # seconds; well within the 10 s a SQLite writer waits for a lock
CALL = {"CallSid": "CA" + "0" * 31 + "7", "From": "+32470000999", "To": "+3280092424"}


@asynccontextmanager
async def accounts_locked(database_url: str):
    """Holds the database so the server's look-up waits until the block ends: on SQLite no write
    gets into the audit trail's file (the look-up's record waits), on PostgreSQL not even a read
    of the accounts."""
    path = sqlite_path(database_url)
    if path is not None:
        holder = sqlite3.connect(audit_file(path), isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        return
    holder = await asyncpg.connect(database_url)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await holder.close()


async def until_the_server_waits(database_url: str, seconds: float = 10) -> None:
    """Until the request is inside the server, held by the lock."""
    if sqlite_path(database_url) is not None:
        await asyncio.sleep(1)  # SQLite shows no waiting writer: a look-up takes milliseconds
        return
    watcher = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + seconds
        while not await watcher.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"):
            assert time.monotonic() < deadline, "the look-up never reached the database"
            await asyncio.sleep(0.05)
    finally:
        await watcher.close()


async def signed_post(port: int, path: str, **form: str) -> tuple[int, str]:
    params = {**CALL, **form}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(f"http://127.0.0.1:{port}{path}", data=params,
                                headers={"X-Twilio-Signature": signature}) as answer:
            return answer.status, await answer.text()


async def until_refused(port: int, seconds: float = 10) -> None:
    """Until a new connection is refused: the server has stopped listening."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except (ConnectionRefusedError, ConnectionResetError):  # reset: closed as it queued
            return
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
    raise AssertionError("the server still accepts connections after SIGTERM")


async def test_sigterm_lets_the_call_in_flight_finish_then_exits(env, database_url):
    ledger = await Ledger.open(database_url)
    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "fr")])
    await ledger.close()
    env.update(TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=PUBLIC)
    port = int(env["PORT"])
    server = saldo("serve", env=env)
    in_flight: asyncio.Task | None = None
    try:
        wait_for_health(port, server)
        async with accounts_locked(database_url):
            in_flight = asyncio.create_task(
                signed_post(port, "/voice/ean?lang=fr", Digits=make_ean(1)[-13:]))
            await until_the_server_waits(database_url)
            assert not in_flight.done()
            server.send_signal(signal.SIGTERM)
            await until_refused(port)
            # Held a while longer: a server that gives up on calls in flight has done so now.
            await asyncio.sleep(HELD_AFTER_SIGTERM)
            assert not in_flight.done(), "the call ended before the database answered"
            assert server.poll() is None
        status, body = await asyncio.wait_for(in_flight, 30)
        _, err = server.communicate(timeout=30)
    finally:
        if in_flight is not None:
            in_flight.cancel()
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert status == 200, body
    answer = ET.fromstring(body)
    said = " ".join(element.text or "" for element in answer.iter("Say"))
    assert "vingt euros" in said  # the balance of a new account
    assert answer.find("Gather") is not None  # and the menu after it
    assert server.returncode == 0, err
    assert "Traceback" not in err
