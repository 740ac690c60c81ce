"""A corpus of hostile CSV files through `saldo import`: never a traceback, a message naming the
file, the line and the field, the valid rows in, nothing else changed."""

import asyncio
import re

import pytest

from tests.integration import test_cli

from ledger import Ledger
from saldo.cli import main
from tests.conftest import make_ean

HEADER = "ean;energy;language;name;mobile;email;notify;low_credit_threshold;transferred_balance;activated_at;power_limiter;cpas"
GOOD = f"{make_ean(1)};electricity;fr;Camille Essai;0470 00 01 01;;;;;2026-11-01;non;CPAS-NAMUR"
GOOD_2 = f"{make_ean(2)};gas;nl;Jan Proef;;;;;;2026-11-01;;"


environment = test_cli.environment  # the CLI's settings, as the CLI tests set them


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in out + err
    return code, out, err


def counts(database_url):
    async def read():
        ledger = await Ledger.open(database_url)
        try:
            return (await ledger.count_accounts(), await ledger.count_consumption_days(),
                    await ledger.trial_balance())
        finally:
            await ledger.close()
    return asyncio.run(read())


def refusals(err: str, path) -> list[tuple[int, str]]:
    """(line, field) of each `FILE:LINE: field: why`."""
    return [(int(m[1]), m[2]) for m in re.finditer(rf"^{re.escape(str(path))}:(\d+): ([^:]+): ",
                                                  err, re.M)]


def import_bytes(capsys, tmp_path, kind: str, data: bytes, name="file.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return (path, *run(capsys, "import", kind, str(path)))


ACCOUNTS_CORPUS = {
    # name: (bytes, the refusals expected, accounts in)
    "bom and a 40-character CPAS code": (
        ("\ufeff" + "\n".join([HEADER, GOOD, GOOD_2.replace("2026-11-01;;", "2026-11-01;;" + "C" * 40)])
         + "\n").encode(), [(3, "cpas")], 1),
    "a NUL inside a row": (
        "\n".join([HEADER, GOOD, GOOD_2.replace("Jan", "J\x00an")]).encode(), [(3, "(row)")], 1),
    "a 200,000-character name": (
        "\n".join([HEADER, GOOD, GOOD_2.replace("Jan Proef", "x" * 200_000)]).encode(),
        [(3, "(row)")], 1),
    "a 10,000-character line": (
        "\n".join([HEADER, GOOD, ";" * 10_000, GOOD_2]).encode(), [(3, "(row)")], 2),
    "a 300-character name (within a line)": (
        "\n".join([HEADER, GOOD, GOOD_2.replace("Jan Proef", "x" * 300)]).encode(),
        [(3, "name")], 1),
    "arabic and full-width digits": (
        "\n".join([HEADER, GOOD, GOOD_2.replace(";;;;;2026", ";;;٥٠;１２,００;2026")]).encode(),
        [(3, "low_credit_threshold"), (3, "transferred_balance")], 1),
    "every bad field of a row": (
        "\n".join([HEADER, GOOD, f"{make_ean(2)[:-1]}x;gas;nl;Jan;0470;not-an-address;;abc;;"
                   "1999-01-01;maybe;"]).encode(),
        [(3, "activated_at"), (3, "ean"), (3, "email"), (3, "low_credit_threshold"), (3, "mobile"),
         (3, "power_limiter")], 1),
    "a missing value and a row too short": (
        "\n".join([HEADER, GOOD, ";gas;nl;Jan;;;;;;;;", f"{make_ean(3)};gas;nl"]).encode(),
        [(3, "ean"), (4, "(row)")], 1),
    "an unclosed quote": (
        "\n".join([HEADER, GOOD, f'"{make_ean(2)};gas;nl']).encode(), [(3, "(row)")], 1),
}


@pytest.mark.parametrize("name", ACCOUNTS_CORPUS)
def test_hostile_accounts_files(name, tmp_path, capsys, database_url):
    data, expected, accounts = ACCOUNTS_CORPUS[name]
    path, code, out, err = import_bytes(capsys, tmp_path, "accounts", data)
    assert code == 1
    assert sorted(refusals(err, path)) == expected, err
    assert counts(database_url)[0] == accounts
    # running it again changes nothing
    before = counts(database_url)
    run(capsys, "import", "accounts", str(path))
    assert counts(database_url) == before


@pytest.mark.parametrize("data, says", [
    ("\n".join([HEADER, GOOD, "é;gas;nl"]).encode("latin-1"), "line 3: not UTF-8"),
    (b"", "the file is empty"),
    (b"\xff\xfe" + "\n".join([HEADER, GOOD]).encode("utf-16-le"), "line 1: not UTF-8"),
    ("ean;energy\n".encode() + GOOD.encode(), "the column 'language' is missing"),
    ("ean;energy;language;colour\n".encode(), "unknown column 'colour'"),
    (("x" * 10_000 + "\n").encode(), "line 1: a line of"),
])
def test_a_file_that_cannot_be_read_changes_nothing(data, says, tmp_path, capsys, database_url):
    path, code, _, err = import_bytes(capsys, tmp_path, "accounts", data)
    assert code == 1 and says in err and err.startswith(f"{path}: "), err
    assert counts(database_url)[0] == 0


def test_hostile_consumption_files(tmp_path, capsys, database_url):
    run(capsys, "import", "accounts", str(_file(tmp_path, "a.csv", HEADER, GOOD)))
    ean = make_ean(1)
    rows = ["ean;day;amount;quantity;unit",
            f"{ean};2026-11-02;3,20;12.5;kWh",
            f"{ean};2026-11-03;٣,٢٠;;",  # Arabic-Indic digits
            f"{ean};2026-11-04;３,２０;;",  # full-width digits
            f"{ean};２０２６-11-05;3,20;;",
            f"{ean};2026-11-06;3,20;{'9' * 21};{'u' * 9}",
            f"{ean};2026-11-07;5000,00;;",
            f"{ean}\x00;2026-11-08;1,00;;",
            f"{ean};2026-11-09;abc;;",
            f"{ean};2026-11-10;1,00;;"]
    path, code, _, err = import_bytes(capsys, tmp_path, "consumption", "\n".join(rows).encode())
    assert code == 1
    assert sorted(refusals(err, path)) == [(3, "amount"), (4, "amount"), (5, "day"),
                                           (6, "quantity"), (6, "unit"), (7, "amount"),
                                           (8, "(row)"), (9, "amount")], err
    assert counts(database_url)[1] == 2


def _file(tmp_path, name, *lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path
