"""The Procfile's processes as a platform runs them: started, answering, stopped by SIGTERM."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime

import pytest

from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger, SettableClock
from tests.conftest import make_ean
from tests.mailbox import Mailbox
from tests.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioApi

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def saldo(*args: str, env: dict[str, str], **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "saldo", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)


@pytest.fixture
def env(database_url) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items()
              if not k.startswith(("NDP_", "DATABASE_", "PORT", "TWILIO_", "SMTP_", "MAIL_"))}
    values.update(DATABASE_URL=database_url, PORT=str(free_port()),
                  HOST="127.0.0.1", TICK_SECONDS="1")
    return values


def wait_for_health(port: int, process: subprocess.Popen, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited early: {process.communicate()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                return json.loads(answer.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server never answered")


def stop(process: subprocess.Popen) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_serve_answers_and_stops_on_sigterm(env):
    server = saldo("serve", env=env)
    try:
        assert wait_for_health(int(env["PORT"]), server) == {"status": "ok"}
    finally:
        code, _, err = stop(server)
    assert code == 0, err
    assert "Traceback" not in err


def sending_settings(twilio_api_url: str = "http://127.0.0.1:9", smtp_port: int = 9
                     ) -> dict[str, str]:
    """Where the worker sends; port 9 (discard) when nothing is due anyway."""
    return dict(TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID, TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
                TWILIO_FROM="+32460200000", TWILIO_API_URL=twilio_api_url,
                PUBLIC_BASE_URL="https://saldo.example.be",
                SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", MAIL_FROM="saldo@ores.example")


def test_the_access_log_names_routes_never_what_was_typed(env):
    server = saldo("serve", env=env)
    port = int(env["PORT"])
    try:
        wait_for_health(port, server)
        for path in ("/cpas/?q=Zo%C3%A9+Imaginaire", f"/api/v1/residents/{make_ean(7)}",
                     f"/cpas/residents/{make_ean(7)[5:]}"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).close()
            except OSError:
                pass  # 401, 303 to the log-in page…: the log line is what matters
    finally:
        code, _, err = stop(server)
    assert code == 0, err
    assert "/api/v1/residents/{ean}" in err and "/cpas/residents/{ean}" in err
    for typed in ("Imaginaire", "Zo%C3%A9", make_ean(7), make_ean(7)[5:]):
        assert typed not in err


def test_the_worker_will_not_start_without_where_to_send(env):
    done = subprocess.run([sys.executable, "-m", "saldo", "worker"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "TWILIO_ACCOUNT_SID" in done.stderr and "SMTP_URL" in done.stderr
    assert "Traceback" not in done.stderr


def wait_for_log(path, text: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while text not in path.read_text():
        if process.poll() is not None:
            raise AssertionError(f"exited early: {path.read_text()}")
        assert time.monotonic() < deadline, f"never logged {text!r}"
        time.sleep(0.1)


def test_the_worker_runs_until_sigterm(env, tmp_path):
    env.update(sending_settings())
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:  # a file: read while it runs, and it never fills up
        worker = subprocess.Popen([sys.executable, "-m", "saldo", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    # Started, not just spawned: a SIGTERM before then ends the process before its handlers exist.
    wait_for_log(log, "worker started", worker)
    time.sleep(2)  # TICK_SECONDS=1: a few ticks
    assert worker.poll() is None
    code, _, _ = stop(worker)
    err = log.read_text()
    assert code == 0, err
    assert "worker stopped" in err


async def test_worker_once_cuts_off_a_meter_whose_period_has_ended(env):
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=BRUSSELS)
    ledger = await Ledger.open(env["DATABASE_URL"], clock=SettableClock(saturday))
    await ledger.import_accounts([AccountInput(make_ean(1), "gas", "de",
                                               activated_at=datetime(2026, 11, 1, tzinfo=BRUSSELS))])
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 20), 3492)])
    await ledger.close()
    env.update(sending_settings())
    done = subprocess.run([sys.executable, "-m", "saldo", "worker", "--once"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 meter(s) cut off" in done.stderr
    shown = subprocess.run([sys.executable, "-m", "saldo", "balance", make_ean(1), "--json"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(shown.stdout)["state"] == "disconnected"


async def test_worker_once_sends_what_is_due_and_exits(env):
    ledger = await Ledger.open(env["DATABASE_URL"])
    await ledger.import_accounts([AccountInput(make_ean(1), "electricity", "nl",
                                               mobile="+32470000001", email="klant@example.be",
                                               notify="sms+email")])
    await ledger.close()
    mailbox = Mailbox().start()
    try:
        async with TwilioApi() as twilio:
            env.update(sending_settings(twilio.url, mailbox.port), QUIET_HOURS="none",
                       LOG_LEVEL="DEBUG")
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "saldo", "worker", "--once", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await asyncio.wait_for(worker.communicate(), 60)
            assert worker.returncode == 0, err.decode()
            assert [p.form["To"] for p in twilio.posts] == ["+32470000001"]
    finally:
        mailbox.stop()
    assert [m["To"] for m in mailbox.messages] == ["klant@example.be"]
    logged = err.decode()  # at DEBUG: no number, address or full EAN (the SID is Twilio's)
    assert "message 1" in logged
    for secret in ("+32470000001", "32470000001", "klant@", make_ean(1), make_ean(1)[-13:]):
        assert secret not in logged


async def test_a_worker_killed_mid_send_neither_loses_nor_repeats_the_sms(env):
    ledger = await Ledger.open(env["DATABASE_URL"])
    await ledger.import_accounts([AccountInput(make_ean(1), "gas", "fr", mobile="+32470000001",
                                               notify="sms")])
    await ledger.close()
    async with TwilioApi() as twilio:
        env.update(sending_settings(twilio.url), QUIET_HOURS="none", SEND_LEASE_SECONDS="1")
        twilio.delay_next(60, method="POST")  # Twilio has the SMS; its answer is slow to come
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "saldo", "worker", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(300):
            if twilio.posts:
                break
            await asyncio.sleep(0.1)
        worker.kill()  # SIGKILL: between the send and its record
        await worker.wait()
        assert len(twilio.posts) == 1
        ledger = await Ledger.open(env["DATABASE_URL"])
        try:
            assert await ledger.outbox.counts() == {"sending": 1}
            await asyncio.sleep(1.2)  # the lease
            again = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "saldo", "worker", "--once", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await asyncio.wait_for(again.communicate(), 60)
            assert again.returncode == 0, err.decode()
            assert await ledger.outbox.counts() == {"sent": 1}
        finally:
            await ledger.close()
        assert len(twilio.posts) == 1  # found at Twilio, not sent again
        assert len(twilio.messages) == 1


def test_demo_creates_and_serves(env):
    demo = saldo("demo", env=env)
    try:
        wait_for_health(int(env["PORT"]), demo)
    finally:
        code, out, err = stop(demo)
    assert code == 0, err
    assert "created a demo ledger" in out and "saldo balance" in out


def test_a_call_from_the_terminal_to_the_demo(env):
    env = {**env, "TWILIO_AUTH_TOKEN": "made-up-token",
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{env['PORT']}"}
    demo = saldo("demo", env=env)
    try:
        wait_for_health(int(env["PORT"]), demo)
        from saldo.demo import CUSTOMERS
        keys = f"2\n{CUSTOMERS[0].ean[-13:]}#\n0\n"
        call = subprocess.run([sys.executable, "-m", "saldo", "call"], env=env, input=keys,
                              capture_output=True, text=True, timeout=60)
    finally:
        stop(demo)
    assert call.returncode == 0, call.stderr
    assert "trente-huit euros et quatre-vingts centimes" in call.stdout
    assert "(call ended)" in call.stdout
