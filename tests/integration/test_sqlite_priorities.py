"""On SQLite, who runs at what CPU priority (Linux: a nice value is a thread's).

A residents listing sorts a whole CPAS in its driver's thread: that thread gives way, and only
it — never the thread that answers the line. An import lowers its own priority, but the thread
that holds the write lock for its batches keeps the opener's: a lock holder the machine runs
last would hold every writer back, the line's audit records first."""

import subprocess
import sys
import textwrap
import threading
from datetime import datetime
from pathlib import Path

import pytest

from ledger import BRUSSELS, AccountInput
from ledger.db import BACKGROUND_NICENESS
from tests.conftest import make_ean

pytestmark = [pytest.mark.sqlite_only,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux threads")]


def nice_values() -> dict[int, int]:
    """This process's threads: native id → nice value (field 19 of /proc/self/task/N/stat)."""
    values = {}
    for task in Path("/proc/self/task").iterdir():
        stat = (task / "stat").read_text()
        values[int(task.name)] = int(stat[stat.rindex(")") + 2:].split()[16])
    return values


async def test_a_residents_listing_gives_way_and_the_line_does_not(ledger):
    await ledger.import_accounts([
        AccountInput(ean=make_ean(i), energy="electricity", language="fr", cpas="CPAS-TEST",
                     activated_at=datetime(2026, 10, 1, 9, 0, tzinfo=BRUSSELS))
        for i in range(1, 30)])
    before = nice_values()
    page = await ledger.residents("CPAS-TEST", actor="test")
    assert page.total == 29
    after = nice_values()
    given_way = {thread for thread, nice in after.items()
                 if nice == BACKGROUND_NICENESS and before.get(thread) != nice}
    assert len(given_way) == 1  # the listing's connection, in the driver's thread for it
    assert after[threading.get_native_id()] == before[threading.get_native_id()]
    assert all(after[thread] == nice for thread, nice in before.items() if thread in after)
    view = await ledger.balance_view(make_ean(1), actor="test")  # the line's own path
    assert view.balance_cents > 0
    assert nice_values()[threading.get_native_id()] == before[threading.get_native_id()]


IMPORTING_AT_LOWER_PRIORITY = """
import asyncio, os, sys, threading
from datetime import date, datetime
from ledger import BRUSSELS, AccountInput, ConsumptionInput, Ledger
from saldo.imports import give_way

async def main(url, ean):
    ledger = await Ledger.open(url)
    try:
        await ledger.import_accounts([AccountInput(
            ean=ean, energy="gas", language="nl",
            activated_at=datetime(2026, 10, 1, 9, 0, tzinfo=BRUSSELS))])
        give_way(10)  # as `saldo import` does, once the ledger is open
        report = await ledger.post_consumption([ConsumptionInput(
            ean=ean, day=date(2026, 10, 2), amount_cents=250)])
        assert report.new == 1, report
        for thread in threading.enumerate():
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                text = stat.read()
            print(thread.name, text[text.rindex(")") + 2:].split()[16])
    finally:
        await ledger.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_an_import_gives_way_but_not_while_it_holds_the_write_lock(tmp_path):
    script = textwrap.dedent(IMPORTING_AT_LOWER_PRIORITY)
    result = subprocess.run([sys.executable, "-c", script, f"sqlite:///{tmp_path / 'l.db'}",
                             make_ean(7)], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    nice = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())
    assert nice["MainThread"] == "10"
    writers = [name for name in nice if name.startswith("saldo-sqlite-writer")]
    assert len(writers) == 2  # the audit records' and the batches'
    assert {nice[name] for name in writers} == {"0"}
