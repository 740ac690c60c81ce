"""Signed balance-line webhooks over loopback, beside a bare aiohttp handler.

    python bench/ivr_webhooks.py [--accounts N] [--requests N] [--warmup N] [--concurrency N]
                                 [--database-url URL] [--servers N] [--profile]

Timed: --requests (default 20,000) POST /voice/ean?lang=fr&failures=0, the costliest webhook
(signature check, form, caller guard, a balance look-up with its audit record committed before
the answer, the spoken balance as TwiML), at --concurrency (default 64) connections, after --warmup
(default 1,000) untimed requests. Each request carries its own CallSid, one of many made-up
caller numbers, and the last 13 digits of a random existing account, signed as Twilio signs.
Baseline, same run: the same requests against a bare aiohttp app whose POST handler returns a
fixed TwiML (the real app's answer to one of them) without checking anything.

Each server runs in its own process (aiohttp AppRunner + TCPSite on 127.0.0.1, a free port),
logging as `saldo serve` does (INFO, JSON lines through the personal-data net, the aiohttp
access log; here into a file), so the load generator does not share its event loop. Signatures
and bodies are computed before the clock starts. Setup (accounts through the real import path,
one day of consumption for most of them) is not timed. Everything lives in a temporary directory.

--database-url postgresql://USER@HOST:PORT/DATABASE: the ledger is a new database on that
PostgreSQL server (created for the run, dropped at its end; the user must be allowed to create
databases) instead of a SQLite file in the temporary directory.

--servers N (default 1): N server processes of the real app on the same database, each on its
own port, the load generator sending the requests round-robin to them, as a load balancer
would; the baseline is then N bare-handler processes, likewise. The load generator stays one
process: on a machine with few cores it shares them with the servers (and the database).

Informative, after the figures: the CPU time each group of processes used during the timed
requests (servers, load generator, the PostgreSQL server's processes when it runs on this
machine, and every other process on the machine), read from /proc.

--profile: cProfile the real app's (first) server process during the timed requests and print
the top of it (slows the server down; its figures are then not the benchmark's).
"""

import argparse
import asyncio
import cProfile
import dataclasses
import hashlib
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

# Benchmark the working tree, whatever is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from ledger import Ledger, SettableClock, read_accounts, read_consumption  # noqa: E402
from saldo.access_log import RouteAccessLogger  # noqa: E402
from saldo.logs import configure_logging as saldo_logging  # noqa: E402
from made_up import (  # noqa: E402 - bench/ is the script's folder
    CpuMeter,
    bench_database,
    belgian_amount,
    is_postgres,
    load_average,
    make_ean,
    postgres_server_pid,
    postgres_sessions,
    print_profile,
    process_cpu_seconds,
    require,
    server_cpu_seconds,
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
# Issue 17's targets: on SQLite, against the bare handler of the same run; on PostgreSQL,
# against the same benchmark on SQLite in the same run.
TARGET_P99_MS = 50.0
TARGET_RATIO = 0.35
TARGET_POSTGRES_RATE = 0.5  # of SQLite's requests/s, at least
TARGET_POSTGRES_P99 = 2.0  # times SQLite's p99, at most
ERROR_MARK = '"level": "ERROR"'  # in saldo's JSON log lines
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


async def create_ledger(database_url: str, folder: Path, eans: list[str], *,
                        with_mobile: int = 0) -> int:
    """The accounts, and a day of consumption for most; with `with_mobile`, the first that many
    accounts have a mobile number. Returns how many consumption days were posted."""
    ledger = await Ledger.open(database_url, clock=SettableClock(NOW))
    try:
        write_accounts_csv(folder / "accounts.csv", eans, ACTIVATED_ON, with_mobile=with_mobile)
        parsed = read_accounts(folder / "accounts.csv")
        report = await ledger.import_accounts(parsed.rows)
        require(report.new == len(eans) and not parsed.errors and not report.errors,
                f"account setup: {report.new} of {len(eans)} created, "
                f"errors {(parsed.errors + report.errors)[:3]}")
        days = write_consumption_csv(folder / "consumption.csv", eans)
        parsed = read_consumption(folder / "consumption.csv")
        report = await ledger.post_consumption(parsed.rows)
        require(report.new == days and not parsed.errors and not report.errors,
                f"consumption setup: {report.new} of {days} posted, "
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
    """As `saldo serve` does (saldo/cli.py: JSON lines through the personal-data net), into a
    file instead of stderr."""
    saldo_logging("INFO", stream=log_file.open("a", encoding="utf-8"))


def real_app(database_url: str) -> web.Application:
    from saldo.app import create_app
    from saldo.settings import Settings
    settings = dataclasses.replace(Settings(), database_url=database_url,
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
        app = real_app(arg) if kind == "real" else bare_app(arg)
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
    """`kind` "real" (the saldo app; `arg` its DATABASE_URL) or "bare" (`arg` the TwiML)."""

    def __init__(self, kind: str, arg: str, folder: Path, profile: bool = False, number: int = 1):
        ctx = mp.get_context("spawn")
        self.stop, self.profiling = ctx.Event(), ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        self.name = f"{kind}-{number}"
        self.log_file = folder / f"{self.name}.log"
        self.profile_file = str(folder / f"{self.name}.prof") if profile else None
        self.process = ctx.Process(
            target=serve, args=(kind, arg, str(self.log_file), self.profile_file, send,
                                self.stop, self.profiling), daemon=True)
        self.process.start()
        if not receive.poll(120):
            self.print_log_tail()
            raise SystemExit(f"FAILED: the {self.name} server did not start")
        self.port = receive.recv()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.url = self.base_url + PATH

    def print_log_tail(self, lines: int = 60) -> None:
        """Its log from the first error on, else its end (saldo's logs carry no personal data),
        since the temporary directory it is in goes at the end of the run."""
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        log_lines = text.splitlines()
        first_error = next((i for i, text_line in enumerate(log_lines) if ERROR_MARK in text_line),
                           None)
        shown = (log_lines[first_error:first_error + lines] if first_error is not None
                 else log_lines[-lines:])
        errors = sum(ERROR_MARK in text_line for text_line in log_lines)
        where = "from its first error" if first_error is not None else "its end"
        print(f"---- the {self.name} server's log, {where} ({errors} errors) ----",
              file=sys.stderr)
        print("\n".join(shown), file=sys.stderr)

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


async def load(urls: list[str], requests: list[Request], concurrency: int
               ) -> tuple[Figures, str]:
    """Request i goes to urls[i % len(urls)] (round-robin, as a load balancer would). Every
    answer must be 200 with a <Say> and, for the balance line, be a balance (its menu follows),
    not an apology or a "code unknown"; returns the figures and one answer's body."""
    latencies = [0.0] * len(requests)
    sample: list[str] = []
    position = iter(range(len(requests)))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for i in position:
                request, url = requests[i], urls[i % len(urls)]
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


@dataclass
class Measured:
    figures: Figures
    sample_answer: str
    cpu: CpuMeter  # during the timed requests
    opened_connections: int | None  # to PostgreSQL, during the timed requests
    profile_file: str | None  # the first server's, with --profile


def run_load(servers: list[Server], warmup: list[Request], timed: list[Request],
             concurrency: int, servers_label: str, database_url: str | None = None) -> Measured:
    """The warm-up, then the timed requests, with the CPU each group of processes used."""
    urls = [server.url for server in servers]
    asyncio.run(load(urls, warmup, concurrency))
    pids = [server.process.pid for server in servers]
    groups = {servers_label: lambda: sum(process_cpu_seconds(pid) for pid in pids),
              "load generator": lambda: process_cpu_seconds(os.getpid())}
    if (database_pid := postgres_server_pid(database_url)) is not None:
        groups["PostgreSQL"] = lambda: server_cpu_seconds(database_pid)
    cpu = CpuMeter(groups)
    sessions_before = postgres_sessions(database_url) if is_postgres(database_url) else None
    for server in servers:
        server.profiling.set()
    cpu.start()
    figures, sample = asyncio.run(load(urls, timed, concurrency))
    cpu.stop()
    opened = None
    if sessions_before is not None:
        time.sleep(1.5)  # the backends report their counts within a second
        opened = postgres_sessions(database_url) - sessions_before - 1  # the first reading's
    return Measured(figures, sample, cpu, opened, servers[0].profile_file)


def measure(kind: str, arg: str, count: int, folder: Path, warmup: list[Request],
            timed: list[Request], concurrency: int, database_url: str | None = None,
            profile: bool = False) -> Measured:
    """Starts `count` servers of one kind (the first one profiled if asked), loads them, stops
    them."""
    servers: list[Server] = []
    try:
        for number in range(1, count + 1):
            servers.append(Server(kind, arg, folder, profile=profile and number == 1,
                                  number=number))
        label = "balance-line servers" if kind == "real" else "bare servers"
        return run_load(servers, warmup, timed, concurrency, label, database_url)
    except SystemExit:  # a wrong answer: what the servers logged says why
        for server in servers:
            server.print_log_tail()
        raise
    finally:
        for server in servers:
            server.close()


# ---- the run ------------------------------------------------------------------------------------

def line(label: str, f: Figures) -> str:
    return (f"{label}: {f.count} requests in {f.seconds:.2f} s, {f.rate:,.0f} req/s, "
            f"p50 {f.percentile_ms(50):.1f} ms, p99 {f.percentile_ms(99):.1f} ms")


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", metavar="URL",
                        help="a PostgreSQL server (postgresql://USER@HOST:PORT/DATABASE): the "
                             "ledger is a new database there, dropped at the end "
                             "(default: a SQLite file in a temporary folder)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200_000, help="accounts in the ledger")
    parser.add_argument("--requests", type=int, default=20_000, help="timed requests per server")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed requests first")
    parser.add_argument("--concurrency", type=int, default=64, help="connections and workers")
    add_database_arguments(parser)
    parser.add_argument("--servers", type=int, default=1,
                        help="server processes, the requests spread round-robin over them")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the real app's (first) server during the timed requests")
    args = parser.parse_args()
    require(args.accounts > 0 and args.requests > 0 and args.warmup >= 0
            and args.concurrency > 0 and args.servers > 0, "the counts must be positive")
    eans = [make_ean(i) for i in range(1, args.accounts + 1)]
    with bench_database(args.database_url) as (database_url, folder):
        t0 = time.perf_counter()
        days = asyncio.run(create_ledger(database_url, folder, eans))
        print(f"setup (not timed): {args.accounts:,} accounts, {days:,} with a day of consumption, "
              f"in {time.perf_counter() - t0:.0f} s")
        warmup = make_requests(eans, args.warmup, seed=1)
        timed = make_requests(eans, args.requests, seed=2)
        spread = (f"spread round-robin over {args.servers} server processes"
                  if args.servers > 1 else "per server")
        print(f"load: POST {PATH}, {args.concurrency} connections, {args.warmup:,} warm-up then "
              f"{args.requests:,} timed requests {spread}, signed beforehand; servers log as "
              f"`saldo serve` does (access log on)")

        real = measure("real", database_url, args.servers, folder, warmup, timed,
                       args.concurrency, database_url=database_url, profile=args.profile)
        beside = None
        if is_postgres(database_url):  # the same benchmark on SQLite, in the same run
            with bench_database(None, quiet=True) as (sqlite_url, sqlite_folder):
                asyncio.run(create_ledger(sqlite_url, sqlite_folder, eans))
                beside = measure("real", sqlite_url, args.servers, sqlite_folder, warmup, timed,
                                 args.concurrency)
        bare = measure("bare", real.sample_answer or BARE_TWIML_FALLBACK, args.servers, folder,
                       warmup, timed, args.concurrency)

        ratio = real.figures.rate / bare.figures.rate
        p99 = real.figures.percentile_ms(99)
        processes = f" ({args.servers} processes)" if args.servers > 1 else ""
        print(line(f"balance line{processes}", real.figures))
        if beside is not None:
            print(line(f"balance line on SQLite{processes}", beside.figures))
        print(line(f"bare aiohttp handler{processes}", bare.figures))
        print(f"ratio: {ratio:.2f} (target >= {TARGET_RATIO}): {met(ratio >= TARGET_RATIO)}")
        print(f"p99 target {TARGET_P99_MS:.0f} ms: {met(p99 < TARGET_P99_MS)}")
        if beside is not None:
            rate = real.figures.rate / beside.figures.rate
            slower = p99 / beside.figures.percentile_ms(99)
            print(f"PostgreSQL / SQLite, same run: {rate:.2f} of its requests/s (target >= "
                  f"{TARGET_POSTGRES_RATE}): {met(rate >= TARGET_POSTGRES_RATE)}; p99 {slower:.2f} "
                  f"times its p99 (target <= {TARGET_POSTGRES_P99}): "
                  f"{met(slower <= TARGET_POSTGRES_P99)}")
        print(f"cpu during the balance line's timed requests: {real.cpu.summary()}")
        print(f"cpu during the bare handler's timed requests: {bare.cpu.summary()}")
        if real.opened_connections is not None:
            print(f"PostgreSQL connections opened during the balance line's timed requests: "
                  f"{real.opened_connections:,}")
        print(f"machine at the end: {load_average()}")
        if args.profile:
            print("(--profile: the balance line's figures above include the profiler's cost)")
            print_profile(real.profile_file, "profile of the real app's (first) server process "
                          "during the timed requests (event-loop thread)")


if __name__ == "__main__":
    main()
