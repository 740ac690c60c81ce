"""The balance line alone, then while the rest of the server works — side by side, one run.

    python bench/line_isolation.py [--accounts N] [--rate R] [--seconds S] [--staff N]
                                   [--topups-per-second R] [--database-url URL]

The line: signed POST /voice/ean look-ups (as bench/ivr_webhooks.py sends them) arriving at a
fixed --rate (default 100 a second, for --seconds, default 30) against one server process of
the real app. Callers do not wait for each other, so the requests are paced, not sent one after
the other's answer: each latency is counted from the moment its request was due, and a server
that falls behind shows it (no coordinated omission). 100 look-ups a second is some 1,500 calls
under way at once, far above the free line's busiest hour. Measured twice in the same run:

1. alone;
2. while, on the same server and database, --staff (default 8) CPAS workers page through the
   CPAS's --accounts (default 20,000) residents by the API (`GET /api/v1/residents`, every
   page in turn, a page every --page-every seconds each, default 2: four pages a second, as
   many offices at their busiest), a payment channel posts --topups-per-second (default 10)
   top-ups (`POST /api/v1/topups`), and `saldo import consumption` posts a day for every
   account in its own process — one import after the other, for the whole phase (new days,
   then corrections of them), so that every look-up of the phase meets one. The staff's and the channel's clients run in a process of their
   own too, as they are other machines: in the line's client's process their work would delay
   its answers in its event loop and count against the server.

Printed: each phase's p50 and p99, and the loaded p99 over the alone p99 (target: 1.5 at most:
nothing else the server does may hold a caller's answer back), with how much of the other work
got done meanwhile and how late it was. The machine's load average is printed too: on a shared
2-core machine the import's own process takes a core.
"""

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from ledger import Ledger, SettableClock, read_accounts  # noqa: E402
from portal.access import Access  # noqa: E402
from ivr_webhooks import (  # noqa: E402 - bench/ is the script's folder
    ACTIVATED_ON,
    BALANCE_MARK,
    CONSUMPTION_DAY,
    NOW,
    Figures,
    Request,
    Server,
    create_ledger,
    line,
    make_requests,
)
from made_up import (  # noqa: E402
    ENERGIES,
    LANGUAGES,
    belgian_amount,
    bench_database,
    load_average,
    make_ean,
    require,
)

CPAS = "CPAS-BENCH"
TARGET_P99_RATIO = 1.5
RESIDENTS_PAGE = "/api/v1/residents"


def write_cpas_accounts(path: Path, eans: list[str]) -> None:
    """Every account under the one CPAS's mandate: its list is as long as it gets."""
    lines = ["ean;energy;language;activated_at;cpas"]
    for i, ean in enumerate(eans):  # as create_ledger made them, the CPAS added
        lines.append(f"{ean};{ENERGIES[i % len(ENERGIES)]};{LANGUAGES[i % len(LANGUAGES)]};"
                     f"{ACTIVATED_ON.isoformat()};{CPAS}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# Imports follow each other for the whole loaded phase: the days between activation and the
# posted one, then the same days corrected (other amounts), then again.
IMPORT_DAYS = [CONSUMPTION_DAY - timedelta(days=n) for n in range(1, 7)]


def write_import(folder: Path, eans: list[str], n: int) -> Path:
    """The n-th import of the loaded phase: a day for every account."""
    day, round_ = IMPORT_DAYS[n % len(IMPORT_DAYS)], n // len(IMPORT_DAYS)
    path = folder / f"import-{n}.csv"
    lines = ["ean;day;amount"] + [
        f"{ean};{day.isoformat()};{belgian_amount(300 + (i + 37 * round_) % 700)}"
        for i, ean in enumerate(eans)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def setup(database_url: str, folder: Path, eans: list[str]) -> tuple[str, str]:
    """The accounts (all the CPAS's), a day of consumption; an API token for the CPAS and one
    for a payment channel."""
    await create_ledger(database_url, folder, eans)
    ledger = await Ledger.open(database_url, clock=SettableClock(NOW))
    try:
        write_cpas_accounts(folder / "cpas.csv", eans)
        parsed = read_accounts(folder / "cpas.csv")
        report = await ledger.import_accounts(parsed.rows)
        require(report.updated == len(eans), f"mandates: {report.updated} of {len(eans)}, "
                f"errors {report.errors[:3]}")
        access = await Access.open(ledger.store)
        _, cpas_token = await access.add_client("bench CPAS", cpas=CPAS)
        _, channel_token = await access.add_client("bench kiosk", channel="terminal")
        return cpas_token, channel_token
    finally:
        await ledger.close()


async def paced(every: float, action, count: int | None = None,
                stopping: asyncio.Event | None = None) -> list[float]:
    """`action(i)` started every `every` seconds whether or not the earlier ones are done, `count`
    times or until `stopping`; returns each one's seconds from when it was due to when it ended."""
    start = time.perf_counter()
    late: dict[int, float] = {}

    async def one(i: int, due: float) -> None:
        await action(i)
        late[i] = time.perf_counter() - due

    tasks = []
    i = 0
    while (count is None or i < count) and not (stopping is not None and stopping.is_set()):
        due = start + i * every
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(i, due)))
        i += 1
    await asyncio.gather(*tasks)
    return [late[n] for n in range(i)]


async def line_load(url: str, requests: list[Request], rate: float) -> Figures:
    """Every answer must be a spoken balance (its menu follows), not an apology."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def ask(i: int) -> None:
            request = requests[i]
            async with session.post(url, data=request.body, headers=request.headers) as resp:
                body = await resp.text()
            if resp.status != 200 or BALANCE_MARK not in body:
                raise SystemExit(f"FAILED: {url} answered {resp.status}: {body[:300]!r}")

        started = time.perf_counter()
        latencies = await paced(1 / rate, ask, len(requests))
        return Figures(len(requests), time.perf_counter() - started, latencies)


class Background:
    """The other work, paced, until stopped: counts what it got done and how late."""

    def __init__(self, base_url: str, cpas_token: str, channel_token: str, eans: list[str],
                 staff: int, page_every: float, topups_per_second: float):
        self.base_url, self.eans, self.staff = base_url, eans, staff
        self.page_every, self.topups_per_second = page_every, topups_per_second
        self.cpas = {"Authorization": f"Bearer {cpas_token}"}
        self.channel = {"Authorization": f"Bearer {channel_token}"}
        self.pages: list[float] = []
        self.top_ups: list[float] = []
        self.stopping = asyncio.Event()

    async def page_through(self, session: aiohttp.ClientSession, first_page: int,
                           start_after: float) -> None:
        # Workers do not click in step: each starts at its own moment within the first period.
        await asyncio.sleep(start_after)
        page = first_page
        while not self.stopping.is_set():
            due = time.perf_counter()
            async with session.get(self.base_url + RESIDENTS_PAGE, params={"page": page},
                                   headers=self.cpas) as response:
                require(response.status == 200, f"residents page {page}: {response.status}")
                data = await response.json()
            self.pages.append(time.perf_counter() - due)
            page = page + 1 if data.get("next") else 1
            await asyncio.sleep(max(0.0, due + self.page_every - time.perf_counter()))

    async def pay(self, session: aiohttp.ClientSession) -> None:
        async def top_up(n: int) -> None:
            body = {"ean": self.eans[n % len(self.eans)], "amount_cents": 1000,
                    "reference": f"KIOSK-{n}"}
            async with session.post(self.base_url + "/api/v1/topups", json=body,
                                    headers=self.channel) as response:
                require(response.status in (200, 201), f"top-up: {response.status}")

        self.top_ups = await paced(1 / self.topups_per_second, top_up, stopping=self.stopping)

    async def run(self, without: set[str]) -> None:
        async with aiohttp.ClientSession() as session:
            work = [] if "topups" in without else [self.pay(session)]
            if "pages" not in without:
                work += [self.page_through(session, 1 + i * 37, i * self.page_every / self.staff)
                         for i in range(self.staff)]
            await asyncio.gather(*work)


def background_process(settings: dict, without: set[str], ready, stop, send) -> None:
    """The other work in a process of its own, as CPAS offices and payment channels are other
    machines: their clients' work must not delay the line's client in its event loop."""
    background = Background(**settings)

    async def main() -> None:
        work = asyncio.create_task(background.run(without))
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        background.stopping.set()
        await work

    asyncio.run(main())
    send.send((background.pages, background.top_ups))


async def import_until(stopping: asyncio.Event, imports: list[Path], env: dict
                       ) -> tuple[int, float]:
    """`saldo import consumption` of one file after the other until `stopping` (then the one
    under way ends): how many, and the seconds they took."""
    count, started = 0, time.perf_counter()
    while not stopping.is_set():
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "saldo", "import", "consumption",
            str(imports[count % len(imports)]), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, errors = await process.communicate()
        require(process.returncode == 0, f"the import failed: {errors.decode()[-500:]}")
        count += 1
    return count, time.perf_counter() - started


async def loaded(server: Server, requests: list[Request], rate: float, background: dict,
                 database_url: str, imports: list[Path], without: set[str]
                 ) -> tuple[Figures, float, list[float], list[float], tuple[int, float] | None]:
    """The line's requests while the background work and imports run: the line's figures, the
    seconds it all took, the pages' and top-ups' latencies, the imports' count and seconds."""
    started = time.perf_counter()
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    others = ctx.Process(target=background_process,
                         args=(background, without, ready, stop, send), daemon=True)
    others.start()
    loop = asyncio.get_running_loop()
    require(await loop.run_in_executor(None, ready.wait, 60), "the other work did not start")
    stopping = asyncio.Event()
    importing = (None if "import" in without else asyncio.create_task(import_until(
        stopping, imports, {**os.environ, "DATABASE_URL": database_url})))
    await asyncio.sleep(0.5)  # the others under way first
    figures = await line_load(server.url, requests, rate)
    stop.set()
    stopping.set()
    pages, top_ups = await loop.run_in_executor(None, receive.recv)
    others.join(60)
    require(others.exitcode == 0, f"the other work failed ({others.exitcode})")
    imported = await importing if importing else None
    return figures, time.perf_counter() - started, pages, top_ups, imported


def quantile_ms(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000, help="residents of the one CPAS")
    parser.add_argument("--rate", type=float, default=100, help="line look-ups a second")
    parser.add_argument("--seconds", type=float, default=30, help="each phase's length")
    parser.add_argument("--staff", type=int, default=8, help="CPAS workers paging at once")
    parser.add_argument("--page-every", type=float, default=2,
                        help="seconds between one worker's pages")
    parser.add_argument("--topups-per-second", type=float, default=10)
    parser.add_argument("--database-url", metavar="URL",
                        help="a PostgreSQL server; the ledger is a new database there")
    parser.add_argument("--without", default="", metavar="WORK,…",
                        help="leave out some of the other work (pages, topups, import), to find "
                             "which one holds the line back")
    args = parser.parse_args()
    without = {work for work in args.without.split(",") if work}
    require(without <= {"pages", "topups", "import"}, "--without: pages, topups, import")
    require(min(args.accounts, args.rate, args.seconds, args.staff, args.page_every,
                args.topups_per_second) > 0, "the counts must be positive")
    eans = [make_ean(i) for i in range(1, args.accounts + 1)]
    count = int(args.rate * args.seconds)
    with bench_database(args.database_url) as (database_url, folder):
        t0 = time.perf_counter()
        cpas_token, channel_token = asyncio.run(setup(database_url, folder, eans))
        imports = [write_import(folder, eans, n) for n in range(2 * len(IMPORT_DAYS))]
        print(f"setup (not timed): {args.accounts:,} accounts under one CPAS, in "
              f"{time.perf_counter() - t0:.0f} s")
        warmup = make_requests(eans, 300, seed=1)
        alone_requests = make_requests(eans, count, seed=2)
        loaded_requests = make_requests(eans, count, seed=3)
        server = Server("real", database_url, folder)
        try:
            asyncio.run(line_load(server.url, warmup, args.rate))
            alone = asyncio.run(line_load(server.url, alone_requests, args.rate))
            background = dict(base_url=server.base_url, cpas_token=cpas_token,
                              channel_token=channel_token, eans=eans, staff=args.staff,
                              page_every=args.page_every,
                              topups_per_second=args.topups_per_second)
            busy, seconds, pages, top_ups, imported = asyncio.run(loaded(
                server, loaded_requests, args.rate, background, database_url,
                imports, without))
        except SystemExit:
            server.print_log_tail()
            raise
        finally:
            server.close()
        print(f"the line at {args.rate:g} look-ups a second, each latency from when it was due"
              + (f"; without: {', '.join(sorted(without))}" if without else ""))
        print(line("balance line alone", alone))
        print(line("balance line while the others work", busy))
        print(f"meanwhile, in {seconds:.1f} s: {len(pages):,} residents pages "
              f"(p50 {quantile_ms(pages, 0.5):.0f} ms, p99 {quantile_ms(pages, 0.99):.0f} ms), "
              f"{len(top_ups):,} API top-ups (p99 {quantile_ms(top_ups, 0.99):.0f} ms)"
              + ("" if imported is None else
                 f", {imported[0]} imports of {args.accounts:,} consumption days one after the "
                 f"other, each in its own process ({imported[1] / imported[0]:.1f} s each)"))
        ratio = busy.percentile_ms(99) / alone.percentile_ms(99)
        print(f"p99 ratio, busy / alone: {ratio:.2f} (target <= {TARGET_P99_RATIO}): "
              f"{'met' if ratio <= TARGET_P99_RATIO else 'not met'}")
        print(f"load average after the run: {load_average()}")


if __name__ == "__main__":
    main()
