"""Queued SMS sent through the real path, beside a bare aiohttp client posting the same requests.

    python bench/notify.py [--messages N] [--profile]

Setup (not timed): N accounts (default 20,000) with a mobile and notify=sms are imported, and the
worker's first step turns their activation events into N queued SMS in the outbox.
Timed: the worker's sending step (`Dispatcher.send_due`): claim from the outbox, render each
message (Jinja2 + Babel), send it with the twilio library's async client, record each outcome,
until the outbox is empty. The send rate is set high enough not to limit.
Baseline, same run: a bare aiohttp client POSTing the same N requests (same form fields, basic
auth) to the same server, in batches of the same size as the worker's claims.

The server is tests/twilio_api.py (Twilio's Messages API on 127.0.0.1), in a process of its own
so the load does not share its event loop. Everything lives in a temporary directory.
"""

import argparse
import asyncio
import base64
import cProfile
import multiprocessing as mp
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the working tree, and tests/twilio_api.py

import aiohttp  # noqa: E402
import twilio  # noqa: E402

from ledger import AccountInput, Ledger, SettableClock  # noqa: E402
from made_up import make_ean, print_profile, require  # noqa: E402 - bench/ is the script's folder
from messaging.dispatch import Dispatcher  # noqa: E402
from messaging.mail import SmtpMail, SmtpServer  # noqa: E402
from messaging.pacing import SendRate  # noqa: E402
from messaging.render import MessageTemplates  # noqa: E402
from messaging.routing import Router  # noqa: E402
from messaging.sms import TwilioSms  # noqa: E402
from tests.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioApi  # noqa: E402

NOW = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)  # a Tuesday morning: no quiet hours
FROM = "+32460200000"
CALLBACK = "https://saldo.example.be/sms/status"
BATCH = 200  # the worker's claim size (messaging.dispatch.Dispatcher's default)
TARGET_RATIO = 0.5


def serve_twilio(ready, stop) -> None:
    async def main() -> None:
        async with TwilioApi() as api:
            ready.send(api.port)
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)
            ready.send(len(api.posts))

    asyncio.run(main())


class TwilioServer:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.stop = ctx.Event()
        self.receive, send = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=serve_twilio, args=(send, self.stop), daemon=True)
        self.process.start()
        require(self.receive.poll(60), "the Twilio-speaking server did not start")
        self.url = f"http://127.0.0.1:{self.receive.recv()}"

    def close(self) -> int:
        """Stops it; returns how many messages it was posted."""
        self.stop.set()
        posted = self.receive.recv() if self.receive.poll(60) else -1
        self.process.join(30)
        return posted


def mobile(serial: int) -> str:
    return f"+32470{serial:06d}"


async def queue_messages(db_file: Path, count: int) -> int:
    clock = SettableClock(NOW)
    ledger = await Ledger.open(f"sqlite:///{db_file}", clock=clock)
    try:
        rows = [AccountInput(make_ean(i), ("electricity", "gas")[i % 2], ("fr", "nl", "de")[i % 3],
                             mobile=mobile(i), notify="sms", activated_at=NOW)
                for i in range(1, count + 1)]
        report = await ledger.import_accounts(rows)
        require(report.new == count and not report.errors, f"setup: {report.errors[:3]}")
        queued = 0
        while True:
            events, messages = await ledger.outbox.queue(
                lambda event, contacts: Router().plan(event, contacts, clock.now()))
            queued += messages
            if not events:
                return queued
    finally:
        await ledger.close()


async def send_all(db_file: Path, api_url: str, profiler: cProfile.Profile | None
                   ) -> tuple[float, int]:
    clock = SettableClock(NOW + timedelta(minutes=1))
    # As `saldo worker` opens it: a background process (ledger/store.py).
    ledger = await Ledger.open(f"sqlite:///{db_file}", clock=clock, background=True)
    sms = TwilioSms(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FROM, api_url=api_url,
                    status_callback=CALLBACK)
    unused_mail = SmtpMail(SmtpServer("127.0.0.1", 9, use_tls=False), "saldo@ores.example")
    dispatcher = Dispatcher(ledger, MessageTemplates.load(ROOT / "locales"), Router(), sms=sms,
                            mail=unused_mail, sms_rate=SendRate(10**6),
                            mail_rate=SendRate(10**6), clock=clock, rng=random.Random(1),
                            batch=BATCH)
    try:
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        done = await dispatcher.send_due()
        seconds = time.perf_counter() - start
        if profiler:
            profiler.disable()
        require(done.retried == 0 and done.gave_up == 0,
                f"{done.retried} to retry, {done.gave_up} given up: the server refused some")
        counts = await ledger.outbox.counts()
        require(counts == {"sent": done.sent}, f"the outbox after sending: {counts}")
        return seconds, done.sent
    finally:
        await sms.close()
        await ledger.close()


async def bare_client(api_url: str, count: int) -> float:
    """The same POSTs as the twilio library makes them, from a plain aiohttp session."""
    url = f"{api_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    auth = base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:{DEFAULT_AUTH_TOKEN}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Accept": "application/json"}
    body = "Saldo: votre compteur (EAN ...0017) a été activé. Solde 20,00 EUR."
    forms = [{"To": mobile(i), "From": FROM, "Body": body, "StatusCallback": CALLBACK}
             for i in range(1, count + 1)]
    async with aiohttp.ClientSession() as session:

        async def post(form: dict[str, str]) -> None:
            async with session.post(url, data=form, headers=headers) as answer:
                require(answer.status == 201, f"the server answered {answer.status}")
                await answer.json()

        start = time.perf_counter()
        for first in range(0, count, BATCH):
            await asyncio.gather(*(post(f) for f in forms[first:first + BATCH]))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="queued SMS to send")
    parser.add_argument("--profile", action="store_true", help="cProfile the sending step")
    args = parser.parse_args()
    require(args.messages > 0, "--messages must be positive")
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, aiohttp "
          f"{aiohttp.__version__}, twilio {twilio.__version__}, nproc {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="saldo-bench-") as tmp:
        db_file = Path(tmp) / "ledger.db"
        t0 = time.perf_counter()
        queued = asyncio.run(queue_messages(db_file, args.messages))
        require(queued == args.messages, f"setup queued {queued} SMS, not {args.messages}")
        print(f"setup (not timed): {queued:,} SMS queued in {time.perf_counter() - t0:.0f} s")

        server = TwilioServer()
        profiler = cProfile.Profile() if args.profile else None
        seconds, sent = asyncio.run(send_all(db_file, server.url, profiler))
        posted = server.close()
        require(posted == sent, f"the server was posted {posted} messages for {sent} sent")

        server = TwilioServer()
        bare_seconds = asyncio.run(bare_client(server.url, args.messages))
        server.close()

    rate, bare_rate = sent / seconds, args.messages / bare_seconds
    print(f"worker (outbox → render → twilio library → record): {sent:,} SMS in {seconds:.2f} s, "
          f"{rate:,.0f} messages/s")
    print(f"bare aiohttp client, same requests: {args.messages:,} in {bare_seconds:.2f} s, "
          f"{bare_rate:,.0f} requests/s")
    ratio = rate / bare_rate
    print(f"ratio: {ratio:.2f} (target >= {TARGET_RATIO}): "
          f"{'met' if ratio >= TARGET_RATIO else 'not met'}")
    if profiler:
        print("(--profile: the worker's figures above include the profiler's cost)")
        print_profile(profiler, "profile of the sending step (the worker's event loop)")


if __name__ == "__main__":
    main()
