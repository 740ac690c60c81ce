"""The memory a server process needs to answer the line from a big ledger, beside a bare one.

    python bench/serve_memory.py [--accounts N] [--days D] [--requests N] [--database-url URL]

Setup (not measured): N accounts (default 200,000) and D days of consumption (default 3) for
three in four of them — with the start credit's repayments, some 1,000,000 postings — through
the real import path, in a SQLite file (or a new PostgreSQL database with --database-url).
Measured: one server process of the real app, started as bench/ivr_webhooks.py starts it
(configured and logging as `saldo serve`), its resident memory (VmRSS) once started and after
--requests signed balance look-ups at 64 connections over all the accounts, and its peak
(VmHWM); beside a bare aiohttp handler's process, the same way, in the same run. Target (issue
17): the real app under TARGET_MB.
"""

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from ivr_webhooks import (  # noqa: E402 - bench/ is the script's folder
    CONSUMPTION_DAY,
    NO_CONSUMPTION_EVERY,
    NOW,
    Server,
    add_database_arguments,
    create_ledger,
    line,
    load,
    make_requests,
)
from ledger import ConsumptionInput, Ledger, SettableClock, schema  # noqa: E402
from made_up import bench_database, make_ean, require  # noqa: E402

TARGET_MB = 150


async def add_days(database_url: str, eans: list[str], days: int) -> int:
    """Days of consumption before the one create_ledger posted; returns the postings there are."""
    ledger = await Ledger.open(database_url, clock=SettableClock(NOW), background=True)
    try:
        for back in range(1, days):
            day = CONSUMPTION_DAY - timedelta(days=back)
            rows = [ConsumptionInput(ean=ean, day=day, amount_cents=100 + serial % 700)
                    for serial, ean in enumerate(eans, start=1)
                    if serial % NO_CONSUMPTION_EVERY]
            report = await ledger.post_consumption(rows)
            require(report.new == len(rows) and not report.errors,
                    f"setup: {report.new} of {len(rows)} posted, errors {report.errors[:3]}")
        async with ledger.store.reading() as conn:
            return (await conn.execute(select(func.count()).select_from(schema.postings))
                    ).scalar_one()
    finally:
        await ledger.close()


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the peak) of a process, in MB (Linux's /proc)."""
    fields = {}
    for text_line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = text_line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB
    return fields


def measure(kind: str, arg: str, folder: Path, requests: list, concurrency: int
            ) -> tuple[dict[str, float], dict[str, float], str, str]:
    """(memory once started, memory after the requests, the load's figures line, an answer)."""
    server = Server(kind, arg, folder, number=1)
    try:
        time.sleep(1)  # settled after start
        started = memory_mb(server.process.pid)
        figures, answer = asyncio.run(load([server.url], requests, concurrency))
        after = memory_mb(server.process.pid)
        return started, after, line(kind, figures), answer
    except SystemExit:
        server.print_log_tail()
        raise
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200_000, help="accounts in the ledger")
    parser.add_argument("--days", type=int, default=3, help="days of consumption posted")
    parser.add_argument("--requests", type=int, default=20_000, help="look-ups sent")
    parser.add_argument("--concurrency", type=int, default=64, help="connections at once")
    add_database_arguments(parser)
    args = parser.parse_args()
    require(args.accounts > 0 and args.days > 0 and args.requests > 0 and args.concurrency > 0,
            "the counts must be positive")
    require(sys.platform == "linux", "reads the servers' memory from /proc (Linux)")
    eans = [make_ean(i) for i in range(1, args.accounts + 1)]
    with bench_database(args.database_url) as (database_url, folder):
        t0 = time.perf_counter()
        asyncio.run(create_ledger(database_url, folder, eans))
        postings = asyncio.run(add_days(database_url, eans, args.days))
        print(f"setup (not measured): {args.accounts:,} accounts, {args.days} days of "
              f"consumption for three in four, {postings:,} postings, in "
              f"{time.perf_counter() - t0:.0f} s")
        if not args.database_url:
            size = sum(f.stat().st_size for f in folder.glob("ledger.db*"))
            print(f"the ledger's SQLite files: {size / 2**20:,.0f} MB")
        requests = make_requests(eans, args.requests, seed=3)
        real_started, real_after, real_line, answer = measure(
            "real", database_url, folder, requests, args.concurrency)
        # The bare handler answers what the real one did (the load checks it is a balance).
        bare_started, bare_after, _, _ = measure("bare", answer, folder, requests[:1000],
                                                 args.concurrency)
    print(real_line)
    print(f"balance line server: {real_started['VmRSS']:.0f} MB once started, "
          f"{real_after['VmRSS']:.0f} MB after {args.requests:,} look-ups, "
          f"peak {real_after['VmHWM']:.0f} MB")
    print(f"bare aiohttp handler (baseline, same run): {bare_started['VmRSS']:.0f} MB once "
          f"started, {bare_after['VmRSS']:.0f} MB after 1,000 requests, peak "
          f"{bare_after['VmHWM']:.0f} MB")
    peak = real_after["VmHWM"]
    print(f"the line's server at its peak: {peak:.0f} MB, {peak / bare_after['VmHWM']:.1f}x the "
          f"bare handler's (target under {TARGET_MB} MB): "
          f"{'met' if peak < TARGET_MB else 'not met'}")


if __name__ == "__main__":
    main()
