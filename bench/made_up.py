"""What the benchmarks share: made-up input (access points, amounts, the accounts file), and
how they print a profile."""

import io
import pstats
from datetime import date
from pathlib import Path

from ledger.ean import with_check_digit

EAN_PREFIX = "54144"
ENERGIES = ("electricity", "gas")
LANGUAGES = ("fr", "nl", "fr", "de", "nl")  # mostly French and Dutch, some German


def require(condition: bool, message: str) -> None:
    # Not `assert`: a benchmark must fail loudly under python -O too.
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def make_ean(serial: int) -> str:
    return with_check_digit(f"{EAN_PREFIX}{serial:012d}")


def belgian_amount(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def write_accounts_csv(path: Path, eans: list[str], activated_on: date) -> None:
    lines = ["ean;energy;language;activated_at"]
    lines += [f"{ean};{ENERGIES[i % len(ENERGIES)]};{LANGUAGES[i % len(LANGUAGES)]};"
              f"{activated_on.isoformat()}" for i, ean in enumerate(eans)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def print_profile(stats_source, heading: str, top: int = 30) -> None:
    """`stats_source`: a cProfile.Profile or the file it was dumped to."""
    print(f"\n{heading}")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(stats_source, stream=out).sort_stats(order).print_stats(top)
        print(f"\n---- top {top} by {order} ----")
        print(out.getvalue().split("\n\n", 1)[-1].strip())
