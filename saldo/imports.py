"""`saldo import`: a file streamed into the ledger at a lower CPU priority, and its report —
each refused line on standard error with its line and field, then the counts."""

import csv
import os
import sys
from pathlib import Path

from ledger import (
    BRUSSELS,
    FileRefused,
    ImportReport,
    Ledger,
    RowError,
    read_appointments,
    stream_accounts,
    stream_consumption,
)


def give_way(niceness: int) -> None:
    """At least this niceness for this thread and the threads it starts from now on (never
    raised back: not cumulative). On Linux the nice value is a thread's: the ledger's writer
    threads, started when it opened, keep theirs, so a batch that holds the write lock is not
    starved by the server that waits for it."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > current:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)


async def run_import(ledger: Ledger, kind: str, path: Path, niceness: int) -> int:
    give_way(niceness)
    # The file is streamed into the ledger, which reads it to its end before writing anything:
    # a line that cannot be read, wherever it is, still refuses the whole file.
    try:
        if kind == "accounts":
            parsed = stream_accounts(path)
            report = await ledger.import_accounts(parsed.rows)
        elif kind == "appointments":
            parsed = read_appointments(path)
            report = await ledger.journey.import_appointments(parsed.rows)
        else:
            parsed = stream_consumption(path)
            report = await ledger.post_consumption(parsed.rows)
    except FileRefused as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    errors = sorted(parsed.errors + report.errors, key=lambda e: e.line or 0)
    print_report(path, kind, report, errors)
    return 1 if errors else 0


def print_report(path: Path, kind: str, report: ImportReport, errors: list[RowError]) -> None:
    for error in errors:
        print(f"{path}:{error.line}: {error.field}: {error.message}", file=sys.stderr)
    parts = [f"{report.new} new"]
    if kind == "consumption":
        parts.append(f"{report.corrected} corrected")
    else:
        parts.append(f"{report.updated} updated")
    parts.append(f"{report.unchanged} unchanged")
    if report.superseded:
        parts.append(f"{report.superseded} replaced by a later line")
    parts.append(f"{len(errors)} refused")
    print(f"{path}: {kind}: " + ", ".join(parts))


SURVEY_COLUMNS = ("meter", "asked_on", "score", "answered_on")


async def export_survey(ledger: Ledger, output: Path | None, *, actor: str) -> int:
    """The survey's answers as CSV, with no personal data: the code's last four digits, the
    days (Brussels) it was asked and answered, the score (empty: not answered)."""
    rows = await ledger.journey.survey_answers()
    stream = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer = csv.writer(stream)
        writer.writerow(SURVEY_COLUMNS)
        for last_digits, asked_at, score, answered_at in rows:
            writer.writerow((f"...{last_digits}", _day(asked_at),
                             "" if score is None else score,
                             _day(answered_at) if answered_at else ""))
    finally:
        if output:
            stream.close()
    await ledger.audit(actor=actor, action="survey-export", ean=None,
                       outcome=f"{len(rows)} exported")
    return 0


def _day(moment) -> str:
    return moment.astimezone(BRUSSELS).date().isoformat()
