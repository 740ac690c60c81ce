"""`saldo import` streams its file: the memory it takes does not grow with the file's length,
and the whole file still counts — a later line replaces an earlier one wherever the two are, and a
line that cannot be read refuses the file, however far into it."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest

from ledger import BRUSSELS, Ledger, staging
from saldo.cli import main
from tests.conftest import make_ean
from tests.integration import test_cli

environment = test_cli.environment  # the CLI's settings, as the CLI tests set them


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def today() -> date:
    return datetime.now(BRUSSELS).date()  # the CLI's clock is the real one


def accounts_file(path, numbers) -> None:
    activated = (today() - timedelta(days=60)).isoformat()
    with path.open("w", encoding="utf-8") as out:
        out.write("ean;energy;language;activated_at\n")
        out.writelines(f"{make_ean(n)};gas;fr;{activated}\n" for n in numbers)


def consumption_lines(numbers, days: int, cents: int) -> list[str]:
    """A day at a time, every meter: the order an operator's daily files come in."""
    return [f"{make_ean(n)};{(today() - timedelta(days=d)).isoformat()};"
            f"{cents // 100},{cents % 100:02d}\n"
            for d in range(days, 0, -1) for n in numbers]


def consumption_days(database_url) -> int:
    async def count():
        ledger = await Ledger.open(database_url)
        try:
            return await ledger.count_consumption_days()
        finally:
            await ledger.close()
    return asyncio.run(count())


def peak_kib(tmp_path, *argv: str) -> tuple[int, str]:
    """`python -m saldo ARGV` in a child of its own: its peak resident set (KiB) and output."""
    output = tmp_path / "output.txt"
    with output.open("wb") as sink:
        child = subprocess.Popen([sys.executable, "-m", "saldo", *argv], stdout=sink,
                                 stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own figures, no other's
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    text = output.read_text()
    assert child.returncode == 0, text
    return usage.ru_maxrss, text


METER_DAYS = 100_000  # an import holding every row takes some 75 MiB more for the long file
DAYS = 10  # with 0,25 € a day the balances stay above the threshold: no events, in both runs


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss counts KiB on Linux")
def test_peak_memory_does_not_grow_with_the_file(tmp_path, capsys):
    meters = METER_DAYS // DAYS
    first, second = range(1, meters + 1), range(meters + 1, 2 * meters + 1)
    accounts = tmp_path / "accounts.csv"
    accounts_file(accounts, [*first, *second])
    code, out, _ = run(capsys, "import", "accounts", str(accounts))
    assert code == 0 and f"{2 * meters} new" in out

    # Both runs post METER_DAYS new days, on as many meters: the ledger's writes, and the
    # database page cache they fill (up to 64 MiB on SQLite), weigh the same in both. The long
    # file gives each meter-day four times, a pass at a time: only its length differs.
    short = tmp_path / "short.csv"
    short.write_text("ean;day;amount\n" + "".join(consumption_lines(first, DAYS, 25)))
    long = tmp_path / "long.csv"
    with long.open("w") as out_file:
        out_file.write("ean;day;amount\n")
        for cents in (10, 15, 20, 25):  # the last pass's amounts are the ones posted
            out_file.writelines(consumption_lines(second, DAYS, cents))

    short_kib, short_out = peak_kib(tmp_path, "import", "consumption", str(short))
    assert f"{METER_DAYS} new, 0 corrected, 0 unchanged, 0 refused" in short_out
    long_kib, long_out = peak_kib(tmp_path, "import", "consumption", str(long))
    assert (f"{METER_DAYS} new, 0 corrected, 0 unchanged, {3 * METER_DAYS} replaced by a later "
            "line, 0 refused") in long_out
    assert long_kib <= short_kib * 1.1 + 8 * 1024, (
        f"{METER_DAYS:,} lines: {short_kib / 1024:.0f} MiB at the peak; "
        f"{4 * METER_DAYS:,} lines: {long_kib / 1024:.0f} MiB")
    code, out, _ = run(capsys, "balance", make_ean(meters + 1)[-13:], "--json")
    # 20,00 € of start credit, less 1,00 € repaid and 0,25 € consumed each day
    assert json.loads(out)["balance_cents"] == 2000 - DAYS * 125


def test_a_later_line_replaces_an_earlier_one_however_far_apart(tmp_path, capsys,
                                                               database_url, monkeypatch):
    # Small batches and chunks: the file's first and last lines are staged, and the days
    # posted, many batches apart.
    monkeypatch.setattr(staging, "STAGING_BATCH", 7)
    monkeypatch.setattr(staging, "CHUNK", 5)
    accounts = tmp_path / "accounts.csv"
    accounts_file(accounts, range(1, 11))
    assert run(capsys, "import", "accounts", str(accounts))[0] == 0
    day = (today() - timedelta(days=DAYS)).isoformat()
    lines = [f"{make_ean(1)};{day};3,00\n",
             *consumption_lines(range(2, 11), DAYS, 25),
             f"{make_ean(1)[-13:]};{day};0,40\n"]  # the same meter, by its 13 digits
    path = tmp_path / "consumption.csv"
    path.write_text("ean;day;amount\n" + "".join(lines))
    code, out, err = run(capsys, "import", "consumption", str(path))
    assert (code, err) == (0, "")
    assert (f"{9 * DAYS + 1} new, 0 corrected, 0 unchanged, 1 replaced by a later line, "
            "0 refused") in out
    code, out, _ = run(capsys, "balance", make_ean(1)[-13:], "--json")
    assert json.loads(out)["balance_cents"] == 2000 - 100 - 40  # the last line's 0,40 €
    code, out, _ = run(capsys, "import", "consumption", str(path))
    assert code == 0 and f"0 new, 0 corrected, {9 * DAYS + 1} unchanged" in out
    assert consumption_days(database_url) == 9 * DAYS + 1


def test_an_account_listed_twice_far_apart_is_still_seen_twice(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(staging, "STAGING_BATCH", 3)
    monkeypatch.setattr(staging, "CHUNK", 2)
    rows = [f"{make_ean(n)};gas;fr;" for n in range(1, 12)]
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join(["ean;energy;language;name", *rows,
                               f"{make_ean(1)};gas;fr;",  # the same again: unchanged
                               f"{make_ean(2)};gas;nl;"]) + "\n")  # other details: refused
    code, out, err = run(capsys, "import", "accounts", str(path))
    assert code == 1
    assert err.splitlines() == [f"{path}:14: ean: listed twice with other details (line 3)"]
    assert "11 new, 0 updated, 1 unchanged, 1 refused" in out


def test_a_line_that_cannot_be_read_at_the_end_refuses_the_whole_file(tmp_path, capsys,
                                                                      database_url, monkeypatch):
    monkeypatch.setattr(staging, "STAGING_BATCH", 4)
    monkeypatch.setattr(staging, "CHUNK", 2)
    accounts = tmp_path / "accounts.csv"
    accounts_file(accounts, range(1, 4))
    assert run(capsys, "import", "accounts", str(accounts))[0] == 0
    path = tmp_path / "consumption.csv"
    path.write_bytes(("ean;day;amount\n" + "".join(consumption_lines(range(1, 4), 5, 25))).encode()
                     + f"{make_ean(1)};{today() - timedelta(days=6)};1,00 é\n".encode("latin-1"))
    code, out, err = run(capsys, "import", "consumption", str(path))
    assert code == 1 and out == ""
    assert err.startswith(f"{path}: line 17: not UTF-8"), err
    assert consumption_days(database_url) == 0
