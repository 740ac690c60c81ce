"""The command line's commands and arguments (argparse)."""

import argparse
from pathlib import Path

from ledger import DEFAULT_LANGUAGE, LANGUAGES, TOPUP_CHANNELS
from ledger.domain import API_PAYMENT_CHANNELS, DAILY_LIST_CHOICES, DailyList


def _texts(choices) -> tuple[str, ...]:
    """The domain's sets as their texts: argparse names a wrong choice's options by repr()."""
    return tuple(str(choice) for choice in choices)


def parser() -> argparse.ArgumentParser:
    """Every command and its arguments; `saldo COMMAND --help` prints them."""
    parser = argparse.ArgumentParser(prog="saldo", description=(
        "Balance line, notifications and prepayment ledger for smart meters. "
        "Settings come from the environment (see README)."))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imports = commands.add_parser(
        "import", help="import a CSV file of accounts, consumption or installation appointments")
    imports.add_argument("kind", choices=("accounts", "consumption", "appointments"))
    imports.add_argument("file", type=Path)

    topup = commands.add_parser("topup", help="record a top-up")
    topup.add_argument("ean", help="the 18 digits or the last 13")
    topup.add_argument("amount", help="in euros: 20, 20,00 or 20.00")
    topup.add_argument("--channel", required=True, choices=_texts(TOPUP_CHANNELS))
    topup.add_argument("--reference", required=True, help="the payment's reference (idempotency key)")
    topup.add_argument("--reason", help="why an agent adjusts the balance (required for --channel agent)")

    plan = commands.add_parser("plan", help="add a payment plan for an earlier debt")
    plan.add_argument("ean")
    plan.add_argument("amount", help="the debt, in euros")
    plan.add_argument("--daily", required=True, help="repaid per posted day, in euros")
    plan.add_argument("--reference", required=True)

    balance = commands.add_parser("balance", help="show the balance view of one account")
    balance.add_argument("ean")
    balance.add_argument("--json", action="store_true", help="one JSON object")

    cpas = commands.add_parser(
        "cpas-contact", help="where a CPAS is told of its residents' serious events")
    cpas.add_argument("cpas", help="the CPAS code, as in the accounts file")
    cpas.add_argument("--mobile", help="a mobile number for SMS")
    cpas.add_argument("--email", help="an e-mail address")
    cpas.add_argument("--language", choices=_texts(LANGUAGES), default=str(DEFAULT_LANGUAGE))
    cpas.add_argument("--daily-list", choices=_texts(DAILY_LIST_CHOICES),
                      default=str(DailyList.NEEDED),
                      help="the morning list by e-mail: on a working day with residents to "
                      "call (needed), or every working day (always)")

    staff = commands.add_parser("staff", help="CPAS staff accounts for the web pages")
    staff_actions = staff.add_subparsers(dest="action", required=True, metavar="ACTION")
    staff_add = staff_actions.add_parser(
        "add", help="a new account; the password is read from the terminal (or standard input)")
    staff_add.add_argument("username")
    staff_add.add_argument("--cpas", required=True, help="the CPAS code, as in the accounts file")
    staff_add.add_argument("--language", choices=_texts(LANGUAGES), default=str(DEFAULT_LANGUAGE))
    staff_disable = staff_actions.add_parser("disable", help="no more log-ins; sessions end")
    staff_disable.add_argument("username")

    client = commands.add_parser("api-client", help="bearer tokens for /api/v1")
    client_actions = client.add_subparsers(dest="action", required=True, metavar="ACTION")
    client_add = client_actions.add_parser("add", help="prints the token, once")
    client_add.add_argument("label", help="who the client is")
    whose = client_add.add_mutually_exclusive_group(required=True)
    whose.add_argument("--cpas", help="a CPAS's software: its residents, office top-ups")
    whose.add_argument("--channel", choices=_texts(API_PAYMENT_CHANNELS),
                       help="a payment channel: top-ups only, on any EAN")
    client_revoke = client_actions.add_parser("revoke")
    client_revoke.add_argument("number", type=int, help="as `add` printed it")

    call = commands.add_parser("call", help="call the balance line from the terminal, as Twilio would")
    call.add_argument("url", nargs="?", help="the server (default http://localhost:PORT)")
    call.add_argument("--speak", action="store_true", help="also speak with espeak-ng")

    commands.add_parser("serve", help="run the web server (PORT)")
    commands.add_parser("fallback-twiml", help="print the TwiML for the number's fallback (a "
                        "TwiML Bin): the apology and the customer service, in each language")
    work = commands.add_parser("worker", help="run the background worker")
    work.add_argument("--once", action="store_true", help="do what is due now, then exit")

    demo = commands.add_parser("demo", help="create a demo ledger of made-up customers and serve it")
    demo.add_argument("--no-serve", action="store_true", help="create the demo data and exit")

    survey = commands.add_parser("survey", help="the satisfaction survey after installation")
    survey_actions = survey.add_subparsers(dest="action", required=True, metavar="ACTION")
    survey_export = survey_actions.add_parser(
        "export", help="the answers as CSV: the code's last 4 digits, the days, the score")
    survey_export.add_argument("--output", type=Path, help="a file (default: standard output)")

    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=("upgrade",))
    return parser
