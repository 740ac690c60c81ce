"""What one GET /metrics costs, beside GET /healthz, with the ledger bench/ivr_webhooks.py builds.

    python bench/metrics_scrape.py [--database-url URL] [--accounts N] [--messages N]
                                   [--scrapes N]

Setup (not timed), as bench/ivr_webhooks.py builds it: --accounts (default 200,000) through the
real import path, one day of consumption for most of them; the first --messages of them
(default: all) have a mobile number, and the worker's first step turns their events (activation,
low credit…) into SMS in the outbox — so that the scrape's three reads (messages by state and
channel, accounts, consumption days: saldo/observability.py) count as many rows as production's
would after a while. The messages are planned as at the moment of each event (none is stale).

Timed: one server process of the real app (bench/ivr_webhooks.py's), idle otherwise, from one
client, one request at a time: --scrapes (default 20) GET /metrics, each from the request to the
answer's last byte, after two untimed ones. Baseline, same run, interleaved with them: as many
GET /healthz to the same server (the same aiohttp, no database). Printed: medians, the slowest,
and the ratio of the medians.

Informative, same run: each of the three reads a scrape makes, through the ledger in this
process, timed on its own (median of --scrapes).

On PostgreSQL the series runs twice: right after the import, and after VACUUM ANALYZE (what
autovacuum does on its own some time after a large import: the visibility map, which lets a
COUNT read an index alone, and the planner's statistics).

--database-url postgresql://USER@HOST:PORT/DATABASE: the ledger is a new database on that
server (created for the run, dropped at its end); default: a SQLite file in a temporary folder.
"""

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

# Benchmark the working tree, whatever is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from ivr_webhooks import (  # noqa: E402 - bench/ is the script's folder
    NOW,
    Server,
    add_database_arguments,
    create_ledger,
)
from ledger import Ledger, SettableClock  # noqa: E402
from made_up import (  # noqa: E402
    bench_database,
    is_postgres,
    load_average,
    make_ean,
    postgres_connection,
    require,
)
from messaging.routing import Router  # noqa: E402

UNTIMED_SCRAPES = 2


async def queue_messages(database_url: str) -> int:
    """The worker's first step, until every event is consumed, then its tick's folding of the
    counts' rows of changes (saldo/worker.py, every TICK_SECONDS); returns the messages queued."""
    ledger = await Ledger.open(database_url, clock=SettableClock(NOW))
    router = Router()
    try:
        queued = 0
        while True:
            events, messages = await ledger.outbox.queue(
                lambda event, contacts: router.plan(event, contacts, event.at))
            queued += messages
            if not events:
                await ledger.fold_counts()
                return queued
    finally:
        await ledger.close()


@dataclass(frozen=True)
class Series:
    label: str
    seconds: list[float]

    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    def slowest_ms(self) -> float:
        return max(self.seconds) * 1000

    def line(self) -> str:
        return (f"{self.label}: {len(self.seconds)} requests, median {self.median_ms():.1f} ms, "
                f"slowest {self.slowest_ms():.1f} ms")


def gauge(page: str, name: str) -> float:
    """The value of an unlabelled gauge in Prometheus's text format."""
    for text_line in page.splitlines():
        if text_line.startswith(name + " "):
            return float(text_line.split()[1])
    raise SystemExit(f"FAILED: /metrics has no {name}")


def queued_messages(page: str) -> float:
    return sum(float(text_line.split()[1]) for text_line in page.splitlines()
               if text_line.startswith('saldo_outbox_messages{') and 'state="queued"' in text_line)


async def scrape_series(base_url: str, count: int, expected: dict[str, float]
                        ) -> tuple[Series, Series]:
    """`count` GET /metrics interleaved with `count` GET /healthz, one at a time; every
    /metrics page must show the ledger's counts."""
    metrics, health = [], []
    async with aiohttp.ClientSession() as session:

        async def timed_get(path: str) -> tuple[float, str]:
            start = time.perf_counter()
            async with session.get(base_url + path) as answer:
                body = await answer.text()
            seconds = time.perf_counter() - start
            require(answer.status == 200, f"{path} answered {answer.status}: {body[:200]!r}")
            return seconds, body

        for number in range(UNTIMED_SCRAPES + count):
            seconds, page = await timed_get("/metrics")
            found = {"saldo_ledger_accounts": gauge(page, "saldo_ledger_accounts"),
                     "saldo_ledger_consumption_days": gauge(page, "saldo_ledger_consumption_days"),
                     "queued messages": queued_messages(page)}
            require(found == expected, f"/metrics shows {found}, not {expected}")
            health_seconds, _ = await timed_get("/healthz")
            if number >= UNTIMED_SCRAPES:
                metrics.append(seconds)
                health.append(health_seconds)
    return Series("GET /metrics", metrics), Series("GET /healthz (baseline)", health)


async def time_reads(database_url: str, count: int) -> list[Series]:
    """Each read a scrape makes, on its own, through a ledger in this process."""
    ledger = await Ledger.open(database_url, clock=SettableClock(NOW))
    reads: dict[str, Callable[[], Awaitable[object]]] = {
        "messages by state and channel": ledger.outbox.counts_by_channel,
        "accounts": ledger.count_accounts,
        "consumption days": ledger.count_consumption_days,
    }
    try:
        all_series = []
        for label, read in reads.items():
            await read()  # untimed: the connection, the statement's compilation
            seconds = []
            for _ in range(count):
                start = time.perf_counter()
                await read()
                seconds.append(time.perf_counter() - start)
            all_series.append(Series(label, seconds))
        return all_series
    finally:
        await ledger.close()


async def vacuum_analyze(database_url: str) -> None:
    conn = await postgres_connection(database_url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def measure(label: str, server: Server, database_url: str, count: int,
            expected: dict[str, float]) -> None:
    metrics, health = asyncio.run(scrape_series(server.base_url, count, expected))
    print(f"\n{label}; machine: {load_average()}")
    print(metrics.line())
    print(health.line())
    print(f"ratio of the medians: /metrics takes {metrics.median_ms() / health.median_ms():.0f} "
          f"times as long as /healthz, {metrics.median_ms() - health.median_ms():.1f} ms more")
    reads = asyncio.run(time_reads(database_url, count))
    print("informative, each read of a scrape on its own: " + ", ".join(
        f"{series.label} {series.median_ms():.1f} ms" for series in reads) + " (medians)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200_000, help="accounts in the ledger")
    parser.add_argument("--messages", type=int, default=None,
                        help="accounts with a mobile number, whose events become messages "
                             "(default: every account)")
    parser.add_argument("--scrapes", type=int, default=20, help="timed GET /metrics")
    add_database_arguments(parser)
    args = parser.parse_args()
    with_mobile = args.accounts if args.messages is None else args.messages
    require(args.accounts > 0 and args.scrapes > 0 and 0 <= with_mobile <= args.accounts,
            "the counts must be positive, --messages at most --accounts")
    eans = [make_ean(i) for i in range(1, args.accounts + 1)]
    with bench_database(args.database_url) as (database_url, folder):
        t0 = time.perf_counter()
        days = asyncio.run(create_ledger(database_url, folder, eans, with_mobile=with_mobile))
        queued = asyncio.run(queue_messages(database_url))
        print(f"setup (not timed): {args.accounts:,} accounts, {days:,} consumption days, "
              f"{queued:,} messages queued for {with_mobile:,} accounts with a mobile number, "
              f"in {time.perf_counter() - t0:.0f} s")
        print(f"timed: {args.scrapes} GET /metrics after {UNTIMED_SCRAPES} untimed, each followed "
              f"by a GET /healthz, one request at a time, to one otherwise idle server process")
        expected = {"saldo_ledger_accounts": float(args.accounts),
                    "saldo_ledger_consumption_days": float(days),
                    "queued messages": float(queued)}
        server = Server("real", database_url, folder)
        try:
            measure("right after the import", server, database_url, args.scrapes, expected)
            if is_postgres(database_url):
                asyncio.run(vacuum_analyze(database_url))
                measure("after VACUUM ANALYZE", server, database_url, args.scrapes, expected)
        finally:
            server.close()


if __name__ == "__main__":
    main()
