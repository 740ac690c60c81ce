"""The worker's pass — the tick, then every message due — in a process of its own, at a simulated
moment: `saldo worker --once` with a SettableClock. The simulation kills it with SIGKILL.

    python -m tests.simulation.sender --database-url URL --now 2026-10-26T07:00:00+00:00 \
        --twilio-url http://127.0.0.1:PORT --smtp-port PORT --seed N
"""

import argparse
import asyncio
from datetime import datetime

from ledger import SettableClock
from saldo import worker
from saldo.app import locales_dir, open_ledger
from saldo.logs import configure_logging
from saldo.sending import open_dispatcher

from .setup import sending_settings, tune


async def main(args: argparse.Namespace) -> int:
    configure_logging("INFO", json_lines=False)  # as `saldo worker`: no personal data
    clock = SettableClock(datetime.fromisoformat(args.now))
    settings = sending_settings(args.database_url, args.twilio_url, args.smtp_port)
    ledger = await open_ledger(settings, clock)
    try:
        async with open_dispatcher(settings, ledger, clock, locales_dir(settings)) as dispatcher:
            await worker.run_once(ledger, tune(dispatcher, args.seed))
    finally:
        await ledger.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.simulation.sender")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--twilio-url", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
