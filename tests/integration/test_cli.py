"""The CLI as an operator uses it: files in, messages and exit codes out, never a traceback."""

import json
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy.engine import make_url

from saldo.cli import main
from tests.conftest import make_ean
from tests.databases import fresh_database, postgres_server

HEADER = "ean;energy;language;name;mobile;email;notify;low_credit_threshold;transferred_balance;activated_at;power_limiter;cpas"


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path, database_url):
    monkeypatch.chdir(tmp_path)
    for name in ("PORT", "EAN_PREFIX", "NDP_EXTRA_HOLIDAYS", "LOG_LEVEL", "DAY_CONSUMPTION_MAX",
                 "ADJUSTMENT_MAX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    # The CLI runs on the real clock: without a non-disconnection period its answers do not
    # depend on the hour the tests run at.
    monkeypatch.setenv("NDP_WEEKENDS", "no")
    monkeypatch.setenv("NDP_HOLIDAYS", "none")
    monkeypatch.setenv("NDP_FROM", "00:00")
    monkeypatch.setenv("NDP_UNTIL", "00:00")
    # An import in this process must not lower the priority of the whole test run.
    monkeypatch.setenv("IMPORT_NICENESS", "0")


def write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def accounts_file(tmp_path, *rows: str, name="accounts.csv", encoding="utf-8"):
    return write(tmp_path, name, "\n".join([HEADER, *rows]) + "\n", encoding)


def test_import_accounts_then_again_changes_nothing(tmp_path, capsys):
    path = accounts_file(
        tmp_path,
        f"{make_ean(1)};electricity;fr;Camille Essai;0470 00 01 01;;;;;2026-11-01;non;CPAS-NAMUR",
        f"{make_ean(2)};electricity;nl;Jan Proef;;jan@example.org;email;7,50;12,00;2026-11-01;ja;",
    )
    code, out, err = run(capsys, "import", "accounts", str(path))
    assert (code, err) == (0, "")
    assert "2 new" in out
    code, out, _ = run(capsys, "import", "accounts", str(path))
    assert code == 0 and "0 new" in out and "2 unchanged" in out
    code, out, _ = run(capsys, "balance", make_ean(2)[-13:], "--json")
    data = json.loads(out)
    assert (data["balance_cents"], data["debt_cents"], data["threshold_cents"]) == (2000, 800, 750)


def test_every_bad_row_is_named_by_file_line_and_field_and_the_rest_is_imported(tmp_path, capsys):
    path = accounts_file(
        tmp_path,
        f"{make_ean(1)};electricity;fr;;;;;;;;;",
        f"{make_ean(2)[:-1]}0;electricity;fr;;;;;;;;;",
        f"{make_ean(3)};water;fr;;;;;;;;;",
        f"{make_ean(4)};gas;en;;;;;;;;;",
        f"{make_ean(5)};gas;de;;081 22 33 44;;;;;;;",
        f"{make_ean(6)};gas;de;;;;sms;;;;;",
        f"{make_ean(7)};gas;de;;;;;cinq;;;;",
        f"{make_ean(8)};gas;de;;;;;;;;peut-être;",
        f"{make_ean(9)};gas;de;;;;;;;2030-01-01;;",
    )
    code, out, err = run(capsys, "import", "accounts", str(path))
    assert code == 1
    lines = err.strip().splitlines()
    assert lines == [
        f"{path}:3: ean: the check digit does not match: the code seems mistyped",
        f"{path}:4: energy: 'water' is not one of electricity, gas",
        f"{path}:5: language: 'en' is not one of fr, nl, de",
        f"{path}:6: mobile: '081 22 33 44' is not a mobile number (SMS cannot reach a landline)",
        f"{path}:7: notify: 'sms' needs a mobile number",
        f"{path}:8: low_credit_threshold: 'cinq' is not an amount in euros (for example 38,80)",
        f"{path}:9: power_limiter: 'peut-être' is not yes or no",
        f"{path}:10: activated_at: lies in the future",
    ]
    assert "1 new" in out and "8 refused" in out
    assert "Traceback" not in err


def test_a_file_with_a_bom_and_commas_is_read(tmp_path, capsys):
    path = write(tmp_path, "bom.csv", f"\ufeffean,energy,language\n{make_ean(1)},gas,de\n")
    code, out, _ = run(capsys, "import", "accounts", str(path))
    assert code == 0 and "1 new" in out


@pytest.mark.parametrize(("content", "message"), [
    ("", "the file is empty"),
    ("ean;energy\n", "the column 'language' is missing"),
    ("ean;energy;language;colour\n", "unknown column 'colour'"),
])
def test_a_file_that_cannot_be_read_is_refused_whole(tmp_path, capsys, content, message):
    path = write(tmp_path, "bad.csv", content)
    code, _, err = run(capsys, "import", "accounts", str(path))
    assert code == 1
    assert err.startswith(f"{path}: ") and message in err


def test_a_file_that_is_not_utf8_is_refused(tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\n{make_ean(1)};gas;fr;Fran\xe7oise;;;;;;;;\n".encode("latin-1"))
    code, _, err = run(capsys, "import", "accounts", str(path))
    assert code == 1 and "not UTF-8" in err
    code, _, err = run(capsys, "import", "accounts", str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv" in err


def test_an_import_gives_way_to_the_line_server(tmp_path):
    """`saldo import` lowers its own CPU priority (IMPORT_NICENESS, default 10): on a 2-core
    machine an import beside the server otherwise takes a core from the balance line."""
    path = accounts_file(tmp_path, f"{make_ean(1)};electricity;fr;Camille Essai;;;;;;2026-11-01;non;")
    script = ("import os, sys; from saldo.cli import main; code = main(sys.argv[1:]); "
              "print(code, os.getpriority(os.PRIO_PROCESS, 0))")
    ours = os.getpriority(os.PRIO_PROCESS, 0)  # a child starts at its parent's; never lowered
    for setting, expected in ((None, f"0 {max(ours, 10)}"), ("3", f"0 {max(ours, 3)}")):
        env = {k: v for k, v in os.environ.items() if k != "IMPORT_NICENESS"}
        if setting:
            env["IMPORT_NICENESS"] = setting
        done = subprocess.run([sys.executable, "-c", script, "import", "accounts", str(path)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.stdout.split("\n")[-2] == expected, (done.stdout, done.stderr)


def test_consumption_import_top_up_and_balance(tmp_path, capsys):
    accounts = accounts_file(tmp_path, f"{make_ean(1)};electricity;fr;;;;;;;2026-11-01;;")
    assert run(capsys, "import", "accounts", str(accounts))[0] == 0
    consumption = write(tmp_path, "day.csv", "ean;day;amount;quantity;unit\n"
                        f"{make_ean(1)[-13:]};2026-11-01;3,50;12.5;kWh\n"
                        f"{make_ean(1)};2026-11-02;35;;\n"
                        f"{make_ean(1)};2026-11-03;abc;;\n"
                        f"{make_ean(1)};03/11/2026;1;;\n"
                        f"{make_ean(2)};2026-11-03;1;;\n")
    code, out, err = run(capsys, "import", "consumption", str(consumption))
    assert code == 1
    assert err.splitlines() == [
        f"{consumption}:4: amount: 'abc' is not an amount in euros (for example 38,80)",
        f"{consumption}:5: day: '03/11/2026' is not a day written YYYY-MM-DD",
        f"{consumption}:6: ean: no prepayment account has this EAN",
    ]
    assert "2 new" in out
    code, out, _ = run(capsys, "balance", make_ean(1))
    assert code == 0
    assert "-20,50 €" in out and "disconnected" in out and "top up at least 21,00 €" in out
    code, out, _ = run(capsys, "topup", make_ean(1)[-13:], "21,00", "--channel", "cpas",
                       "--reference", "CPAS-0001")
    assert (code, out.strip()) == (0, "top-up recorded; balance 0,50 €")
    code, out, _ = run(capsys, "topup", make_ean(1)[-13:], "21,00", "--channel", "cpas",
                       "--reference", "CPAS-0001")
    assert (code, out.strip()) == (0, "top-up already recorded; balance 0,50 €")
    code, _, err = run(capsys, "topup", make_ean(1), "300", "--channel", "terminal",
                       "--reference", "T-1")
    assert code == 1 and "between 5,00 € and 250,00 €" in err
    code, out, err = run(capsys, "plan", make_ean(1), "15", "--daily", "5", "--reference", "P1")
    assert code == 0 and "added" in out


def test_an_unknown_ean_and_a_mistyped_one(tmp_path, capsys):
    assert run(capsys, "db", "upgrade")[0] == 0  # a ledger that exists, with no account
    code, _, err = run(capsys, "balance", make_ean(1))
    assert code == 1 and "no prepayment account" in err
    code, _, err = run(capsys, "balance", "12345")
    assert code == 1 and "18 digits" in err


def test_a_bad_setting_is_named(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")
    code, _, err = run(capsys, "balance", make_ean(1))
    assert code == 1 and err.strip() == "saldo: setting refused: PORT: 'eighty' is not a whole number"
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    code, _, err = run(capsys, "balance", make_ean(1))
    assert code == 1 and "DATABASE_URL" in err


@pytest.fixture
async def second_database_url(tmp_path):
    """Another database beside `database_url`, of the same kind."""
    folder = tmp_path / "second"
    folder.mkdir()
    async with fresh_database(folder) as url:
        yield url


def test_the_demo_is_created_once_and_refuses_real_data(tmp_path, capsys, monkeypatch,
                                                         second_database_url):
    code, out, _ = run(capsys, "demo", "--no-serve")
    assert code == 0 and "created a demo ledger" in out
    for state in ("normal", "low", "emergency", "disconnected", "power_limited"):
        assert state in out
    code, out, _ = run(capsys, "demo", "--no-serve")
    assert code == 0 and "already there" in out
    accounts = accounts_file(tmp_path, f"{make_ean(1)};electricity;fr;;;;;;;;;")
    run(capsys, "import", "accounts", str(accounts))
    # A database with real accounts is never turned into a demo.
    monkeypatch.setenv("DATABASE_URL", second_database_url)
    run(capsys, "import", "accounts", str(accounts))
    code, _, err = run(capsys, "demo", "--no-serve")
    assert code == 1 and "not the demo's" in err


def test_a_row_with_a_missing_value_is_refused_not_shifted(tmp_path, capsys):
    """'3,20' unquoted in a ','-separated file is two values: never post 3,00 € for it."""
    accounts = write(tmp_path, "a.csv", "ean,energy,language,low_credit_threshold,transferred_balance\n"
                     f"{make_ean(1)},electricity,fr,7,50,\n"
                     f"{make_ean(2)},electricity,fr,\"7,50\",\n"
                     ",,,,\n")
    code, out, err = run(capsys, "import", "accounts", str(accounts))
    assert code == 1
    assert err.strip() == (f"{accounts}:2: (row): 6 values for 5 columns "
                           "(a value with a comma needs quotes, or use ';')")
    assert "1 new" in out
    consumption = write(tmp_path, "c.csv", "ean,day,amount,quantity,unit\n"
                        f"{make_ean(2)},2026-11-20,3,20\n")
    code, _, err = run(capsys, "import", "consumption", str(consumption))
    assert code == 1 and "4 values for 5 columns" in err


def test_an_accounts_file_listing_a_meter_twice_replays_as_a_no_op(tmp_path, capsys):
    path = accounts_file(tmp_path, f"{make_ean(1)};electricity;fr;;;;;;;;;",
                         f"{make_ean(1)};electricity;nl;;;;;;;;;")
    for _ in range(2):
        code, out, err = run(capsys, "import", "accounts", str(path))
        assert code == 1 and "listed twice with other details (line 2)" in err
    code, out, _ = run(capsys, "balance", make_ean(1), "--json")
    assert json.loads(out)["language"] == "fr"


def test_activation_figures_cannot_change_on_a_second_import(tmp_path, capsys):
    first = accounts_file(tmp_path, f"{make_ean(1)};gas;fr;;;;;;12;2026-11-01;;")
    second = accounts_file(tmp_path, f"{make_ean(1)};gas;fr;;;;;;30;2026-11-01;;", name="b.csv")
    assert run(capsys, "import", "accounts", str(first))[0] == 0
    code, _, err = run(capsys, "import", "accounts", str(second))
    assert code == 1 and "transferred_balance: the account is activated already" in err


@pytest.mark.parametrize(("value", "message"), [
    ("0001-01-01", "lies before 2000"),
    ("0900-01-01", "lies before 2000"),
    ("20261101", "is not a date"),
])
def test_impossible_activation_dates_are_named(tmp_path, capsys, value, message):
    path = accounts_file(tmp_path, f"{make_ean(1)};gas;fr;;;;;;;{value};;")
    code, _, err = run(capsys, "import", "accounts", str(path))
    assert code == 1 and f"{path}:2: activated_at: " in err and message in err


def test_odd_files_get_a_message_not_a_traceback(tmp_path, capsys):
    huge = write(tmp_path, "huge.csv", f"ean;energy;language\n\"{'x' * 200_000}\";gas;fr\n")
    code, _, err = run(capsys, "import", "accounts", str(huge))
    assert code == 1 and f"{huge}:2: (row): a line of 200010 bytes" in err  # the row, not the file
    twice = write(tmp_path, "twice.csv", "ean;day;amount;amount\n")
    code, _, err = run(capsys, "import", "consumption", str(twice))
    assert code == 1 and "'amount' appears twice" in err
    code, _, err = run(capsys, "balance", "54144000000000002\u00b2")
    assert code == 1 and "18 digits" in err


def test_a_top_up_reference_must_not_be_the_meter_code(tmp_path, capsys):
    run(capsys, "import", "accounts", str(accounts_file(tmp_path, f"{make_ean(1)};gas;fr;;;;;;;;;")))
    code, _, err = run(capsys, "topup", make_ean(1), "20", "--channel", "terminal",
                       "--reference", make_ean(1)[-13:])
    assert code == 1 and "must identify this payment" in err


def test_a_negative_agent_adjustment_with_a_decimal_comma(tmp_path, capsys):
    run(capsys, "import", "accounts", str(accounts_file(tmp_path, f"{make_ean(1)};gas;fr;;;;;;;;;")))
    code, out, _ = run(capsys, "topup", make_ean(1), "-1,20", "--channel", "agent",
                       "--reference", "ADJ-1", "--reason", "double read")
    assert (code, out.strip()) == (0, "top-up recorded; balance 18,80 €")


def test_settings_and_database_problems_are_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NDP_HOLIDAYS", "XX")
    code, _, err = run(capsys, "balance", make_ean(1))
    assert code == 1 and "NDP_HOLIDAYS" in err
    monkeypatch.setenv("NDP_HOLIDAYS", "none")
    # A SQLite file whatever the run: the message names its missing folder.
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent/dir/x.db")
    code, _, err = run(capsys, "balance", make_ean(1))
    assert code == 1 and "DATABASE_URL: the folder /nonexistent/dir does not exist" in err


def test_a_postgresql_database_that_cannot_be_used_is_named(monkeypatch, capsys, database_url):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again: nobody listens there
    urls = [f"postgresql://saldo:made-up-password@127.0.0.1:{port}/saldo"]
    if postgres_server():
        urls.append(make_url(database_url).set(database="saldo_no_such_database")
                    .render_as_string(hide_password=False))
    for url in urls:
        monkeypatch.setenv("DATABASE_URL", url)
        code, _, err = run(capsys, "balance", make_ean(1))
        assert code == 1, err
        assert err.startswith("saldo: the database at DATABASE_URL cannot be used: ")
        assert "made-up-password" not in err


@pytest.mark.skipif(not postgres_server(), reason="a SQLite URL carries no password")
def test_the_demo_names_its_database_without_the_password(monkeypatch, capsys, database_url):
    # The test server lets the role in whatever the password (trust): only the output is checked.
    with_password = make_url(database_url).set(password="made-up-password")
    monkeypatch.setenv("DATABASE_URL", with_password.render_as_string(hide_password=False))
    code, out, _ = run(capsys, "demo", "--no-serve")
    assert code == 0 and "created a demo ledger" in out
    assert "made-up-password" not in out and "***" in out


def test_debug_logs_carry_no_customer_data(tmp_path, capsys, monkeypatch, caplog):
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    path = accounts_file(tmp_path, f"{make_ean(1)};gas;fr;Zoé Imaginaire;0470 00 01 01;zoe@example.org;;;;;;")
    with caplog.at_level("DEBUG"):
        assert run(capsys, "import", "accounts", str(path))[0] == 0
        assert run(capsys, "balance", make_ean(1))[0] == 0
    logged = caplog.text + capsys.readouterr().err
    for secret in ("Imaginaire", "+32470000101", "zoe@example.org", make_ean(1), make_ean(1)[-13:]):
        assert secret not in logged


def test_a_cpas_registers_where_to_be_told_and_a_bad_number_is_refused(capsys):
    code, out, _ = run(capsys, "cpas-contact", "CPAS-NAMUR", "--mobile", "0470 12 34 56",
                       "--email", "social@cpas-namur.example.be")
    assert code == 0
    assert out.strip() == ("CPAS-NAMUR: serious events of its residents go by SMS and e-mail; "
                           "the morning list on working days with someone to call")
    code, out, _ = run(capsys, "cpas-contact", "CPAS-NAMUR", "--email",
                       "social@cpas-namur.example.be", "--daily-list", "always")
    assert code == 0 and out.strip().endswith("; the morning list every working day")
    code, out, _ = run(capsys, "cpas-contact", "CPAS-NAMUR", "--mobile", "0470 12 34 56")
    assert code == 0 and out.strip().endswith("by SMS; no morning list (it goes by e-mail)")
    with pytest.raises(SystemExit):
        run(capsys, "cpas-contact", "CPAS-NAMUR", "--email", "a@b.be", "--daily-list", "weekly")
    assert "invalid choice: 'weekly' (choose from 'needed', 'always')" in capsys.readouterr().err
    code, _, err = run(capsys, "cpas-contact", "CPAS-NAMUR", "--mobile", "081 24 86 11")
    assert code == 1 and "not a mobile number" in err
    code, out, _ = run(capsys, "cpas-contact", "CPAS-NAMUR")
    assert code == 0 and "no longer told" in out


def test_staff_and_api_clients_from_the_command_line(capsys, monkeypatch):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, out, _ = run(capsys, "staff", "add", "a.dupont", "--cpas", "CPAS-NAMUR")
    assert (code, out.strip()) == (0, "a.dupont may now log in for CPAS-NAMUR")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "staff", "add", "b.martin", "--cpas", "CPAS-NAMUR")
    assert code == 1 and "password: at least 12 characters" in err
    code, out, _ = run(capsys, "staff", "disable", "a.dupont")
    assert code == 0 and "disabled" in out
    code, out, _ = run(capsys, "api-client", "add", "bornes", "--channel", "terminal")
    assert code == 0 and out.splitlines()[-1].startswith("saldo_")
    code, out, _ = run(capsys, "api-client", "revoke", "1")
    assert code == 0 and "revoked" in out
    code, _, err = run(capsys, "api-client", "revoke", "1")
    assert code == 1 and "no live API client" in err


def test_the_fallback_twiml_is_printed_for_a_twiml_bin(capsys, monkeypatch):
    monkeypatch.setenv("VOICE_DE", "Polly.Marlene")
    code, out, _ = run(capsys, "fallback-twiml")
    assert code == 0
    document = ET.fromstring(out)
    assert {say.get("voice") for say in document.iter("Say")} == {
        "Polly.Isabelle-Neural", "Polly.Lisa-Neural", "Polly.Marlene"}
    assert all(apology in out for apology in ("désolés", "Het spijt ons", "Es tut uns leid"))
    assert document[-1].tag == "Hangup"


# --- issue 13: the CLI answers clearly -------------------------------------------------------

def test_serve_on_a_taken_port_names_the_address(monkeypatch, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("HOST", "127.0.0.1")
        monkeypatch.setenv("PORT", str(port))
        code, _, err = run(capsys, "serve")
    assert code == 1
    assert f"127.0.0.1:{port}" in err and "in use" in err and "internal error" not in err


@pytest.mark.sqlite_only
@pytest.mark.parametrize("argv", [("balance", make_ean(1)),
                                  ("topup", make_ean(1), "20", "--channel", "cpas",
                                   "--reference", "R-1"),
                                  ("import", "consumption", "missing.csv")])
def test_a_database_file_that_does_not_exist_is_not_created(argv, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///nothing-here.db")
    code, _, err = run(capsys, *argv)
    assert code == 1 and "nothing-here.db does not exist" in err, err
    assert not (tmp_path / "nothing-here.db").exists()


def test_a_topup_with_a_wrong_check_digit_says_mistyped(tmp_path, capsys):
    run(capsys, "import", "accounts", str(accounts_file(
        tmp_path, f"{make_ean(1)};electricity;fr;;;;;;;2026-11-01;;")))
    last_13 = make_ean(1)[-13:]
    wrong = last_13[:-1] + str((int(last_13[-1]) + 1) % 10)
    for code_text in (wrong, make_ean(1)[:-1] + wrong[-1]):
        code, _, err = run(capsys, "topup", code_text, "20", "--channel", "cpas",
                           "--reference", "R-1")
        assert code == 1 and "mistyped" in err, err
    code, _, err = run(capsys, "topup", make_ean(2)[-13:], "20", "--channel", "cpas",
                       "--reference", "R-2")
    assert code == 1 and "no prepayment account has this EAN" in err
