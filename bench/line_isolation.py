"""The balance line alone, then while the rest of the server works — side by side, one run.

    python bench/line_isolation.py [--accounts N] [--requests N] [--concurrency N]
                                   [--staff N] [--database-url URL]

The line: --requests (default 3,000) signed POST /voice/ean look-ups (as bench/ivr_webhooks.py
sends them) at --concurrency (default 4) connections — a busy evening on the free line, not a
flood — against one server process of the real app. Measured twice in the same run:

1. alone;
2. while, on the same server and database, --staff (default 4) CPAS workers page through the
   CPAS's --accounts (default 20,000) residents by the API (`GET /api/v1/residents`, every page
   in turn, then again), a payment channel posts top-ups (`POST /api/v1/topups`) one after the
   other, and `saldo import consumption` posts a day for every account in its own process.

Printed: each phase's p50 and p99, and the loaded p99 over the alone p99 (target: 1.5 at most:
nothing else the server does may hold a caller's answer back), with how much of the other work
got done meanwhile. The machine's load average is printed too: on a shared 2-core machine the
import's own process takes a core.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from ledger import Ledger, SettableClock, read_accounts  # noqa: E402
from ivr_webhooks import (  # noqa: E402 - bench/ is the script's folder
    CONSUMPTION_DAY,
    NOW,
    Figures,
    Server,
    create_ledger,
    line,
    load,
    make_requests,
    met,
)
from made_up import (  # noqa: E402
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
    for i, ean in enumerate(eans):
        lines.append(f"{ean};electricity;{'fr' if i % 2 else 'nl'};"
                     f"{(CONSUMPTION_DAY - timedelta(days=6)).isoformat()};{CPAS}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_next_day(path: Path, eans: list[str]) -> None:
    day = CONSUMPTION_DAY - timedelta(days=1)  # a day before: already ended at NOW
    lines = ["ean;day;amount"] + [f"{ean};{day.isoformat()};{belgian_amount(300 + i % 700)}"
                                  for i, ean in enumerate(eans)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def setup(database_url: str, folder: Path, eans: list[str]) -> tuple[str, str]:
    """The accounts (all the CPAS's), a day of consumption; an API token for the CPAS and one
    for a payment channel."""
    await create_ledger(database_url, folder, eans)
    ledger = await Ledger.open(database_url, clock=SettableClock(NOW))
    try:
        write_cpas_accounts(folder / "cpas.csv", eans)
        parsed = read_accounts(folder / "cpas.csv")
        report = await ledger.import_accounts(parsed.rows)
        require(report.updated == len(eans), f"mandates: {report.updated} of {len(eans)}")
        _, cpas_token = await ledger.access.add_client("bench CPAS", cpas=CPAS)
        _, channel_token = await ledger.access.add_client("bench kiosk", channel="terminal")
        return cpas_token, channel_token
    finally:
        await ledger.close()


class Background:
    """The other work, until stopped: counts what it got done."""

    def __init__(self, base_url: str, cpas_token: str, channel_token: str, eans: list[str],
                 staff: int):
        self.base_url, self.eans, self.staff = base_url, eans, staff
        self.cpas = {"Authorization": f"Bearer {cpas_token}"}
        self.channel = {"Authorization": f"Bearer {channel_token}"}
        self.pages = self.top_ups = 0
        self.stopping = asyncio.Event()

    async def page_through(self, session: aiohttp.ClientSession, offset: int) -> None:
        page = 1 + offset
        while not self.stopping.is_set():
            async with session.get(self.base_url + RESIDENTS_PAGE, params={"page": page},
                                   headers=self.cpas) as response:
                require(response.status == 200, f"residents page {page}: {response.status}")
                data = await response.json()
            self.pages += 1
            more = data.get("next") if isinstance(data, dict) else None
            page = page + 1 if more else 1

    async def pay(self, session: aiohttp.ClientSession) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            body = {"ean": self.eans[n % len(self.eans)], "amount_cents": 1000,
                    "reference": f"KIOSK-{n}"}
            async with session.post(self.base_url + "/api/v1/topups", json=body,
                                    headers=self.channel) as response:
                require(response.status in (200, 201), f"top-up: {response.status}")
            self.top_ups += 1

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(self.pay(session),
                                 *(self.page_through(session, i * 10) for i in range(self.staff)))


async def loaded(server: Server, requests, concurrency: int, background: Background,
                 database_url: str, consumption: Path) -> tuple[Figures, float, int]:
    """The line's requests while the background work and an import run."""
    env = {**os.environ, "DATABASE_URL": database_url}
    started = time.perf_counter()
    importing = subprocess.Popen([sys.executable, "-m", "saldo", "import", "consumption",
                                  str(consumption)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
    others = asyncio.create_task(background.run())
    await asyncio.sleep(0.5)  # the others under way first
    figures, _ = await load([server.url], requests, concurrency)
    background.stopping.set()
    await others
    code = importing.wait()
    require(code == 0, f"the import failed: {importing.stderr.read().decode()[-500:]}")
    return figures, time.perf_counter() - started, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000, help="residents of the one CPAS")
    parser.add_argument("--requests", type=int, default=3_000, help="line requests per phase")
    parser.add_argument("--concurrency", type=int, default=4, help="line connections")
    parser.add_argument("--staff", type=int, default=4, help="CPAS workers paging at once")
    parser.add_argument("--database-url", metavar="URL",
                        help="a PostgreSQL server; the ledger is a new database there")
    args = parser.parse_args()
    require(min(args.accounts, args.requests, args.concurrency, args.staff) > 0,
            "the counts must be positive")
    eans = [make_ean(i) for i in range(1, args.accounts + 1)]
    with bench_database(args.database_url) as (database_url, folder):
        t0 = time.perf_counter()
        cpas_token, channel_token = asyncio.run(setup(database_url, folder, eans))
        write_next_day(folder / "next_day.csv", eans)
        print(f"setup (not timed): {args.accounts:,} accounts under one CPAS, in "
              f"{time.perf_counter() - t0:.0f} s")
        warmup = make_requests(eans, 300, seed=1)
        alone_requests = make_requests(eans, args.requests, seed=2)
        loaded_requests = make_requests(eans, args.requests, seed=3)
        server = Server("real", database_url, folder)
        try:
            asyncio.run(load([server.url], warmup, args.concurrency))
            alone, _ = asyncio.run(load([server.url], alone_requests, args.concurrency))
            background = Background(server.base_url, cpas_token, channel_token, eans, args.staff)
            busy, seconds, _ = asyncio.run(loaded(server, loaded_requests, args.concurrency,
                                                  background, database_url,
                                                  folder / "next_day.csv"))
        except SystemExit:
            server.print_log_tail()
            raise
        finally:
            server.close()
        print(line("balance line alone", alone))
        print(line("balance line while the others work", busy))
        print(f"meanwhile: {background.pages:,} residents pages, {background.top_ups:,} API "
              f"top-ups, an import of {args.accounts:,} consumption days, in {seconds:.1f} s")
        ratio = busy.percentile_ms(99) / alone.percentile_ms(99)
        print(f"p99 ratio, busy / alone: {ratio:.2f} (target <= {TARGET_P99_RATIO}): "
              f"{met(ratio <= TARGET_P99_RATIO)}")
        print(f"load average after the run: {load_average()}")


if __name__ == "__main__":
    main()
