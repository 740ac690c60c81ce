"""Signed balance-line webhooks over loopback, beside a bare aiohttp handler.

    python bench/ivr_webhooks.py [--accounts N] [--requests N] [--warmup N] [--concurrency N]
                                 [--profile]

Timed: --requests (default 20,000) POST /voice/ean?lang=fr&failures=0, the costliest webhook
(signature check, form, caller guard, a balance look-up with its audit record committed before
the answer, the spoken balance as TwiML), at --concurrency (default 64) connections, after --warmup
(default 1,000) untimed requests. Each request carries its own CallSid, one of many made-up
caller numbers, and the last 13 digits of a random existing account, signed as Twilio signs.
Baseline, same run: the same requests against a bare aiohttp app whose POST handler returns a
fixed TwiML (the real app's answer to one of them) without checking anything.

Each server runs in its own process (aiohttp AppRunner + TCPSite on 127.0.0.1, a free port),
logging as `saldo serve` does (INFO, the aiohttp access log; here into a file), so the load
generator does not share its event loop. Signatures and bodies are computed before the clock
starts. Setup (accounts through the real import path, one day of consumption for most of them)
is not timed. Everything lives in a temporary directory.

--profile: cProfile the real app's server process during the timed requests and print the top
of it (slows the server down; its figures are then not the benchmark's).
"""

import argparse
import asyncio
import cProfile
import dataclasses
import hashlib
import logging
import multiprocessing as mp
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

# Benchmark the working tree, whatever is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import sqlalchemy  # noqa: E402
from aiohttp import web  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from ledger import Ledger, SettableClock, read_accounts, read_consumption  # noqa: E402
from saldo.access_log import RouteAccessLogger  # noqa: E402
from made_up import (  # noqa: E402 - bench/ is the script's folder
    belgian_amount,
    print_profile,
    make_ean,
    require,
    write_accounts_csv,
)

# A fixed "now" keeps runs comparable; the consumption day is the day before.
NOW = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)
CONSUMPTION_DAY = date(2025, 3, 11)
ACTIVATED_ON = CONSUMPTION_DAY - timedelta(days=6)
NO_CONSUMPTION_EVERY = 4  # these have no posted day yet
HEAVY_USER_EVERY = 50  # these go well below zero
CALLERS = 5_000  # made-up caller numbers the requests rotate over
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://saldo.example.be"
PATH = "/voice/ean?lang=fr&failures=0"
FORM_TYPE = "application/x-www-form-urlencoded"
BALANCE_MARK = 'action="/voice/menu?lang=fr"'  # the menu after a spoken balance
TARGET_P99_MS = 25.0
TARGET_RATIO = 0.5
BARE_TWIML_FALLBACK = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say>bonjour</Say>'
                       '</Response>')




# ---- made-up input ------------------------------------------------------------------------------







def write_consumption_csv(path: Path, eans: list[str]) -> int:
    rng = random.Random(2025)
    lines = ["ean;day;amount"]
    for serial, ean in enumerate(eans, start=1):
        if serial % NO_CONSUMPTION_EVERY == 0:
            continue
        cents = rng.randint(15_00, 40_00) if serial % HEAVY_USER_EVERY == 0 else rng.randint(30, 9_99)
        lines.append(f"{ean};{CONSUMPTION_DAY.isoformat()};{belgian_amount(cents)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


async def create_ledger(db_file: Path, folder: Path, eans: list[str]) -> int:
    ledger = await Ledger.open(f"sqlite:///{db_file}", clock=SettableClock(NOW))
    try:
        write_accounts_csv(folder / "accounts.csv", eans, ACTIVATED_ON)
        parsed = read_accounts(folder / "accounts.csv")
        report = await ledger.import_accounts(parsed.rows)
        require(report.posted == len(eans) and not parsed.errors and not report.errors,
                f"account setup: {report.posted} of {len(eans)} created, "
                f"errors {(parsed.errors + report.errors)[:3]}")
        days = write_consumption_csv(folder / "consumption.csv", eans)
        parsed = read_consumption(folder / "consumption.csv")
        report = await ledger.post_consumption(parsed.rows)
        require(report.posted == days and not parsed.errors and not report.errors,
                f"consumption setup: {report.posted} of {days} posted, "
                f"errors {(parsed.errors + report.errors)[:3]}")
        return days
    finally:
        await ledger.close()


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]


def make_requests(eans: list[str], count: int, seed: int) -> list[Request]:
    """Signed exactly as Twilio signs: the public URL and the posted parameters."""
    rng = random.Random(seed)
    validator = RequestValidator(AUTH_TOKEN)
    url = PUBLIC_BASE_URL + PATH
    requests = []
    for _ in range(count):
        form = {
            "CallSid": "CA" + rng.randbytes(16).hex(),
            "AccountSid": "AC" + hashlib.md5(AUTH_TOKEN.encode()).hexdigest(),
            "From": f"+324{rng.randrange(CALLERS):08d}",
            "To": "+3227000000",
            "Digits": rng.choice(eans)[5:],
        }
        headers = {"X-Twilio-Signature": validator.compute_signature(url, form),
                   "Content-Type": FORM_TYPE}
        requests.append(Request(urlencode(form).encode(), headers))
    return requests


# ---- the servers (each in its own process) ------------------------------------------------------

def configure_logging(log_file: Path) -> None:
    """As `saldo serve` does (saldo/cli.py), into a file instead of stderr."""
    logging.basicConfig(level="INFO", filename=log_file,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("aiosqlite", "sqlalchemy"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def real_app(db_file: Path) -> web.Application:
    from saldo.app import create_app
    from saldo.settings import Settings
    settings = dataclasses.replace(Settings(), database_url=f"sqlite:///{db_file}",
                                   public_base_url=PUBLIC_BASE_URL, twilio_auth_token=AUTH_TOKEN,
                                   lookups_per_hour=10**6)
    return create_app(settings, clock=SettableClock(NOW))


def bare_app(twiml: str) -> web.Application:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(text=twiml, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/voice/ean", answer)
    return app


def serve(kind: str, arg: str, log_file: str, profile_file: str | None,
          ready, stop, profiling) -> None:
    """The server process: sends its port on `ready`, serves until `stop` is set. With a
    profile file, profiles while `profiling` is set and dumps the stats there on stop."""
    configure_logging(Path(log_file))
    profiler = cProfile.Profile() if profile_file else None

    async def main() -> None:
        app = real_app(Path(arg)) if kind == "real" else bare_app(arg)
        runner = web.AppRunner(app, access_log_class=RouteAccessLogger)  # as `saldo serve`
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready.send(runner.addresses[0][1])
        loop = asyncio.get_running_loop()
        if profiler:
            await loop.run_in_executor(None, profiling.wait)
            profiler.enable()
        await loop.run_in_executor(None, stop.wait)
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_file)
        await runner.cleanup()

    asyncio.run(main())


class Server:
    def __init__(self, kind: str, arg: str, folder: Path, profile: bool = False):
        ctx = mp.get_context("spawn")
        self.stop, self.profiling = ctx.Event(), ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        self.profile_file = str(folder / f"{kind}.prof") if profile else None
        self.process = ctx.Process(
            target=serve, args=(kind, arg, str(folder / f"{kind}.log"), self.profile_file, send,
                                self.stop, self.profiling), daemon=True)
        self.process.start()
        require(receive.poll(120), f"the {kind} server did not start (see its log)")
        self.port = receive.recv()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"

    def close(self) -> None:
        self.stop.set()
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()
        require(self.process.exitcode == 0, f"server exited with {self.process.exitcode}")


# ---- the load -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    count: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile_ms(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


async def load(url: str, requests: list[Request], concurrency: int) -> tuple[Figures, str]:
    """Every answer must be 200 with a <Say> and, for the balance line, be a balance (its menu
    follows), not an apology or a "code unknown"; returns the figures and one answer's body."""
    latencies = [0.0] * len(requests)
    sample: list[str] = []
    position = iter(range(len(requests)))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for i in position:
                request = requests[i]
                start = time.perf_counter()
                async with session.post(url, data=request.body, headers=request.headers) as resp:
                    body = await resp.text()
                latencies[i] = time.perf_counter() - start
                if resp.status != 200 or "<Say" not in body or BALANCE_MARK not in body:
                    raise SystemExit(f"FAILED: {url} answered {resp.status}: {body[:300]!r}")
                if not sample:
                    sample.append(body)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return Figures(len(requests), seconds, latencies), sample[0]


def run_load(server: Server, warmup: list[Request], timed: list[Request], concurrency: int,
             ) -> tuple[Figures, str]:
    asyncio.run(load(server.url, warmup, concurrency))
    server.profiling.set()
    return asyncio.run(load(server.url, timed, concurrency))


# ---- the run ------------------------------------------------------------------------------------

def line(label: str, f: Figures) -> str:
    return (f"{label}: {f.count} requests in {f.seconds:.2f} s, {f.rate:,.0f} req/s, "
            f"p50 {f.percentile_ms(50):.1f} ms, p99 {f.percentile_ms(99):.1f} ms")


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def print_machine() -> None:
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"aiohttp {aiohttp.__version__}, SQLAlchemy {sqlalchemy.__version__}, "
          f"nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), {platform.machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200_000, help="accounts in the ledger")
    parser.add_argument("--requests", type=int, default=20_000, help="timed requests per server")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed requests first")
    parser.add_argument("--concurrency", type=int, default=64, help="connections and workers")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the real app's server during the timed requests")
    args = parser.parse_args()
    require(args.accounts > 0 and args.requests > 0 and args.warmup >= 0
            and args.concurrency > 0, "the counts must be positive")
    print_machine()
    eans = [make_ean(i) for i in range(1, args.accounts + 1)]
    with tempfile.TemporaryDirectory(prefix="saldo-bench-") as tmp:
        folder = Path(tmp)
        db_file = folder / "ledger.db"
        t0 = time.perf_counter()
        days = asyncio.run(create_ledger(db_file, folder, eans))
        print(f"setup (not timed): {args.accounts:,} accounts, {days:,} with a day of consumption, "
              f"in {time.perf_counter() - t0:.0f} s")
        warmup = make_requests(eans, args.warmup, seed=1)
        timed = make_requests(eans, args.requests, seed=2)
        print(f"load: POST {PATH}, {args.concurrency} connections, {args.warmup:,} warm-up then "
              f"{args.requests:,} timed requests per server, signed beforehand; servers log as "
              f"`saldo serve` does (access log on)")

        real = Server("real", str(db_file), folder, profile=args.profile)
        try:
            real_figures, twiml = run_load(real, warmup, timed, args.concurrency)
        finally:
            real.close()
        bare = Server("bare", twiml or BARE_TWIML_FALLBACK, folder)
        try:
            bare_figures, _ = run_load(bare, warmup, timed, args.concurrency)
        finally:
            bare.close()

        ratio = real_figures.rate / bare_figures.rate
        p99 = real_figures.percentile_ms(99)
        print(line("balance line", real_figures))
        print(line("bare aiohttp handler", bare_figures))
        print(f"ratio: {ratio:.2f} (target >= {TARGET_RATIO}): {met(ratio >= TARGET_RATIO)}")
        print(f"p99 target {TARGET_P99_MS:.0f} ms: {met(p99 < TARGET_P99_MS)}")
        if args.profile:
            print("(--profile: the balance line's figures above include the profiler's cost)")
            print_profile(real.profile_file, "profile of the real app's server process during the "
                          "timed requests (event-loop thread)")


if __name__ == "__main__":
    main()
