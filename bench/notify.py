"""Queued SMS sent through the real path, beside a bare aiohttp client posting the same requests.

    python bench/notify.py [--messages N] [--rounds R] [--profile]

Setup (not timed): N accounts (default 20,000) with a mobile and notify=sms are imported, and the
worker's first step turns their activation events into N queued SMS in the outbox, in R groups
(default 4), each due an hour after the one before.
Timed, in R rounds: the worker's sending step (`Dispatcher.send_due`) with the clock at one
group's hour, so that it sends that group: claim from the outbox, render each message
(Jinja2 + Babel), send it with the twilio library's async client, record each outcome, until
none is due. The send rate is set high enough not to limit.
Baseline, same rounds: a bare aiohttp client POSTing the same requests (same form fields, basic
auth) to the same kind of server, in batches of the same size as the worker's claims.
Worker and baseline take turns, each round in the other order, so that both see the machine as
it is at that moment: on this shared 2-core machine one 10-second phase could run 30 % slower
than the next. The figures are the rounds' sums; each round's ratio is printed too.

The server is tests/twilio_api.py (Twilio's Messages API on 127.0.0.1), a fresh one for each
phase, in a process of its own so the load does not share its event loop. Everything lives in a
temporary directory.
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
# This process's CPU time in the timed parts (all its threads; not the server's), by side.
CPU_SECONDS = {"worker": 0.0, "bare": 0.0}


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


async def queue_messages(db_file: Path, count: int, rounds: int) -> int:
    """`count` SMS in `rounds` groups, group k due at round_time(k)."""
    clock = SettableClock(NOW)
    ledger = await Ledger.open(f"sqlite:///{db_file}", clock=clock)
    try:
        queued = 0
        for number, serials in enumerate(groups(count, rounds)):
            clock.set(round_time(number))
            rows = [AccountInput(make_ean(i), ("electricity", "gas")[i % 2],
                                 ("fr", "nl", "de")[i % 3], mobile=mobile(i), notify="sms",
                                 activated_at=clock.now())
                    for i in serials]
            report = await ledger.import_accounts(rows)
            require(report.new == len(rows) and not report.errors, f"setup: {report.errors[:3]}")
            while True:
                events, messages = await ledger.outbox.queue(
                    lambda event, contacts: Router().plan(event, contacts, clock.now()))
                queued += messages
                if not events:
                    break
        return queued
    finally:
        await ledger.close()


async def outbox_counts(db_file: Path) -> dict[str, int]:
    ledger = await Ledger.open(f"sqlite:///{db_file}", clock=SettableClock(NOW))
    try:
        return await ledger.outbox.counts()
    finally:
        await ledger.close()


def groups(count: int, rounds: int) -> list[range]:
    """The serials of each round's messages."""
    size = -(-count // rounds)
    return [range(first, min(first + size, count + 1)) for first in range(1, count + 1, size)]


def round_time(number: int) -> datetime:
    return NOW + timedelta(hours=number)


async def send_all(db_file: Path, api_url: str, at: datetime, profiler: cProfile.Profile | None
                   ) -> tuple[float, int]:
    clock = SettableClock(at + timedelta(minutes=1))
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
        start, cpu = time.perf_counter(), time.process_time()
        done = await dispatcher.send_due()
        seconds = time.perf_counter() - start
        CPU_SECONDS["worker"] += time.process_time() - cpu
        if profiler:
            profiler.disable()
        require(done.retried == 0 and done.gave_up == 0,
                f"{done.retried} to retry, {done.gave_up} given up: the server refused some")
        return seconds, done.sent
    finally:
        await sms.close()
        await ledger.close()


async def bare_client(api_url: str, serials: range) -> float:
    """The same POSTs as the twilio library makes them, from a plain aiohttp session."""
    url = f"{api_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    auth = base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:{DEFAULT_AUTH_TOKEN}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Accept": "application/json"}
    body = "Saldo: votre compteur (EAN ...0017) a été activé. Solde 20,00 EUR."
    forms = [{"To": mobile(i), "From": FROM, "Body": body, "StatusCallback": CALLBACK}
             for i in serials]
    async with aiohttp.ClientSession() as session:

        async def post(form: dict[str, str]) -> None:
            async with session.post(url, data=form, headers=headers) as answer:
                require(answer.status == 201, f"the server answered {answer.status}")
                await answer.json()

        start, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(forms), BATCH):
            await asyncio.gather(*(post(f) for f in forms[first:first + BATCH]))
        CPU_SECONDS["bare"] += time.process_time() - cpu
        return time.perf_counter() - start


def worker_round(db_file: Path, number: int, expected: int,
                 profiler: cProfile.Profile | None) -> float:
    server = TwilioServer()
    seconds, sent = asyncio.run(send_all(db_file, server.url, round_time(number), profiler))
    posted = server.close()
    require(sent == expected, f"round {number + 1}: the worker sent {sent}, not {expected}")
    require(posted == sent, f"the server was posted {posted} messages for {sent} sent")
    return seconds


def bare_round(serials: range) -> float:
    server = TwilioServer()
    seconds = asyncio.run(bare_client(server.url, serials))
    server.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="queued SMS to send")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds, worker and baseline taking turns")
    parser.add_argument("--profile", action="store_true", help="cProfile the sending step")
    args = parser.parse_args()
    require(args.messages > 0, "--messages must be positive")
    require(0 < args.rounds <= min(args.messages, 8),
            "--rounds: from 1 to 8 (an hour apart, all in the day's sending hours)")
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, aiohttp "
          f"{aiohttp.__version__}, twilio {twilio.__version__}, nproc {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="saldo-bench-") as tmp:
        db_file = Path(tmp) / "ledger.db"
        t0 = time.perf_counter()
        queued = asyncio.run(queue_messages(db_file, args.messages, args.rounds))
        require(queued == args.messages, f"setup queued {queued} SMS, not {args.messages}")
        print(f"setup (not timed): {queued:,} SMS queued in {time.perf_counter() - t0:.0f} s")

        profiler = cProfile.Profile() if args.profile else None
        seconds = bare_seconds = 0.0
        for number, serials in enumerate(groups(args.messages, args.rounds)):
            if number % 2:
                bare = bare_round(serials)
                worker = worker_round(db_file, number, len(serials), profiler)
            else:
                worker = worker_round(db_file, number, len(serials), profiler)
                bare = bare_round(serials)
            print(f"  round {number + 1}: {len(serials):,} SMS, worker {worker:.2f} s, bare "
                  f"{bare:.2f} s, ratio {bare / worker:.2f}")
            seconds, bare_seconds = seconds + worker, bare_seconds + bare
        counts = asyncio.run(outbox_counts(db_file))
        require(counts == {"sent": args.messages}, f"the outbox after sending: {counts}")
        sent = args.messages

    rate, bare_rate = sent / seconds, args.messages / bare_seconds
    print(f"worker (outbox → render → twilio library → record): {sent:,} SMS in {seconds:.2f} s, "
          f"{rate:,.0f} messages/s")
    print(f"bare aiohttp client, same requests: {args.messages:,} in {bare_seconds:.2f} s, "
          f"{bare_rate:,.0f} requests/s")
    ratio = rate / bare_rate
    print(f"ratio: {ratio:.2f} (target >= {TARGET_RATIO}): "
          f"{'met' if ratio >= TARGET_RATIO else 'not met'}")
    per_message = {side: cpu / args.messages * 1e6 for side, cpu in CPU_SECONDS.items()}
    print(f"informative, CPU time of this process per message: worker "
          f"{per_message['worker']:.0f} µs (all its threads), bare client "
          f"{per_message['bare']:.0f} µs")
    if profiler:
        print("(--profile: the worker's figures above include the profiler's cost)")
        print_profile(profiler, "profile of the sending step (the worker's event loop)")


if __name__ == "__main__":
    main()
