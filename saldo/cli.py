"""`saldo`: the command line. Bad input gets a message naming file, line and field — never a
traceback — and exit code 1."""

import argparse
import asyncio
import errno
import getpass
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy.exc
from aiohttp import web

from ledger import (
    BRUSSELS,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    TOPUP_CHANNELS,
    BalanceView,
    Clock,
    FileRefused,
    ImportReport,
    LedgerError,
    Ledger,
    RowError,
    State,
    SystemClock,
    format_cents,
    parse_cents,
    stream_accounts,
    stream_consumption,
)

from ledger.db import sqlite_path
from ledger.ean import SHORT_LENGTH, digits_of, is_digits, is_valid_full
from ledger.errors import UnknownAccount

from . import worker
from .access_log import RouteAccessLogger
from .app import LINE_MOUNT, create_app, locales_dir, open_ledger
from .logs import configure_logging
from .sending import open_dispatcher
from .settings import Settings, SettingsError

log = logging.getLogger("saldo")


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="saldo", description=(
        "Balance line, notifications and prepayment ledger for smart meters. "
        "Settings come from the environment (see README)."))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imports = commands.add_parser("import", help="import a CSV file of accounts or consumption")
    imports.add_argument("kind", choices=("accounts", "consumption"))
    imports.add_argument("file", type=Path)

    topup = commands.add_parser("topup", help="record a top-up")
    topup.add_argument("ean", help="the 18 digits or the last 13")
    topup.add_argument("amount", help="in euros: 20, 20,00 or 20.00")
    topup.add_argument("--channel", required=True, choices=TOPUP_CHANNELS)
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
    cpas.add_argument("--language", choices=LANGUAGES, default=DEFAULT_LANGUAGE)

    staff = commands.add_parser("staff", help="CPAS staff accounts for the web pages")
    staff_actions = staff.add_subparsers(dest="action", required=True, metavar="ACTION")
    staff_add = staff_actions.add_parser(
        "add", help="a new account; the password is read from the terminal (or standard input)")
    staff_add.add_argument("username")
    staff_add.add_argument("--cpas", required=True, help="the CPAS code, as in the accounts file")
    staff_add.add_argument("--language", choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    staff_disable = staff_actions.add_parser("disable", help="no more log-ins; sessions end")
    staff_disable.add_argument("username")

    client = commands.add_parser("api-client", help="bearer tokens for /api/v1")
    client_actions = client.add_subparsers(dest="action", required=True, metavar="ACTION")
    client_add = client_actions.add_parser("add", help="prints the token, once")
    client_add.add_argument("label", help="who the client is")
    whose = client_add.add_mutually_exclusive_group(required=True)
    whose.add_argument("--cpas", help="a CPAS's software: its residents, office top-ups")
    whose.add_argument("--channel", choices=("terminal", "online", "transfer"),
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

    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=("upgrade",))
    return parser


_NEGATIVE_COMMA_AMOUNT = re.compile(r"^-\d+,\d{1,2}$")


def main(argv: Sequence[str] | None = None) -> int:
    # argparse takes '-1,20' for an option; '-1.20' it knows as a negative number.
    argv = [a.replace(",", ".") if _NEGATIVE_COMMA_AMOUNT.match(a) else a
            for a in (sys.argv[1:] if argv is None else argv)]
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"saldo: setting refused: {error}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level, json_lines=settings.log_format == "json")
    try:
        return _dispatch(args, settings)
    except (LedgerError, UsageError) as error:
        print(f"saldo: {error}", file=sys.stderr)
        return 1
    except SettingsError as error:
        print(f"saldo: setting refused: {error}", file=sys.stderr)
        return 1
    except sqlalchemy.exc.OperationalError as error:
        print(f"saldo: the database at DATABASE_URL cannot be used: {error.orig}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `saldo … | head`: the reader has gone, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps Python's exit flush quiet
        return 1
    except Exception as error:  # the last line of defence: a message, the details in the log
        if (problem := _connection_problem(error)) is not None:
            print(f"saldo: the database at DATABASE_URL cannot be used: {problem}", file=sys.stderr)
            return 1
        log.debug("unexpected error", exc_info=True)
        print(f"saldo: internal error ({type(error).__name__}); run with LOG_LEVEL=DEBUG for details",
              file=sys.stderr)
        return 2


def _connection_problem(error: Exception) -> str | None:
    """Why the PostgreSQL server could not be reached or let us in; None for any other error.
    (asyncpg's errors on connecting are not SQLAlchemy's OperationalError, as SQLite's are.)"""
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.statement is None:
        return str(error.orig)  # no statement: raised connecting (unknown database, log-in)
    if isinstance(error, OSError) and _raised_in(error, "asyncpg"):
        return str(error)  # connection refused, unknown host, timed out
    return None


def _raised_in(error: BaseException, package: str) -> bool:
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_globals.get("__name__", "").startswith(f"{package}."):
            return True
        frame = frame.tb_next
    return False


# On SIGTERM, how long the requests in flight may take to finish: within the 30 s platforms
# give before SIGKILL (a webhook takes milliseconds; this is for the unexpected).
SHUTDOWN_SECONDS = 20.0


def _fallback_twiml(settings: Settings) -> str:
    from ivr.flow import Voice, line_unavailable
    from ivr.prompts import load_prompts

    voices = {language: Voice(name, code) for language, name, code in settings.voices}
    return line_unavailable(load_prompts(locales_dir(settings)), voices)


_ADDRESS_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)


@contextmanager
def _listening(settings: Settings) -> Iterator[None]:
    """A port taken (or not ours to take) is said with its address, not as an internal error."""
    try:
        yield
    except OSError as error:
        if error.errno not in _ADDRESS_ERRORS:
            raise
        reason = os.strerror(error.errno).lower()
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {reason} "
                         "(set HOST or PORT)") from None


# Commands that may start a new SQLite file; the others need the ledger to exist already.
_MAY_CREATE = {"db", "staff", "api-client", "cpas-contact"}


def _check_database_exists(args: argparse.Namespace, settings: Settings) -> None:
    path = sqlite_path(settings.database_url)
    if path is None or path.exists() or str(path) == ":memory:" or not path.parent.is_dir():
        return  # (a missing folder is named by Ledger.open)
    if args.command in _MAY_CREATE or (args.command == "import" and args.kind == "accounts"):
        return
    raise UsageError(f"the database file {path} does not exist (DATABASE_URL; working folder "
                     f"{Path.cwd()}); `saldo db upgrade` creates an empty ledger, "
                     "`saldo import accounts` its first accounts")


async def _unknown_meter(ledger: Ledger, ean_text: str) -> str:
    """What to say of a code no account has: mistyped when its check digit does not match."""
    digits = ean_text if is_digits(ean_text) else digits_of(ean_text)
    if is_digits(digits) and len(digits) == SHORT_LENGTH:
        prefix = await ledger.ean_prefix()
        if prefix and not is_valid_full(prefix + digits):
            return "ean: the check digit does not match: the code seems mistyped"
    return "ean: no prepayment account has this EAN"


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    clock: Clock = SystemClock()
    if args.command == "serve":
        with _listening(settings):
            web.run_app(create_app(settings, clock=clock), host=settings.host, port=settings.port,
                        access_log_class=RouteAccessLogger, shutdown_timeout=SHUTDOWN_SECONDS,
                        print=lambda text: log.info("%s", text.strip()))
        return 0
    if args.command == "fallback-twiml":
        print(_fallback_twiml(settings))
        return 0
    if args.command == "worker":
        return asyncio.run(_worker(settings, clock, once=args.once))
    if args.command == "call":
        return asyncio.run(_call(args, settings))
    if args.command == "demo":
        from .demo import run_demo
        with _listening(settings):
            return run_demo(settings, serve=not args.no_serve)
    _check_database_exists(args, settings)
    return asyncio.run(_with_ledger(args, settings, clock))


async def _worker(settings: Settings, clock: Clock, *, once: bool) -> int:
    missing = settings.missing_for_sending()  # before anything is opened
    if missing:
        raise SettingsError("the worker sends SMS and e-mail; set " + ", ".join(missing))
    ledger = await open_ledger(settings, clock, background=True)
    try:
        async with open_dispatcher(settings, ledger, clock, locales_dir(settings)) as dispatcher:
            if once:
                await worker.run_once(ledger, dispatcher)
                return 0
            stop = asyncio.Event()
            worker.stop_on_signals(stop)
            log.info("worker started: tick every %.0f s, messages every %.0f s",
                     settings.tick_seconds, worker.SEND_EVERY_SECONDS)
            await worker.run_forever(ledger, dispatcher, settings.tick_seconds, stop)
            log.info("worker stopped")
            return 0
    finally:
        await ledger.close()


async def _with_ledger(args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    ledger = await open_ledger(settings, clock, background=args.command == "import")
    try:
        return await _on_ledger(ledger, args, settings)
    except UnknownAccount:
        raise UsageError(await _unknown_meter(ledger, getattr(args, "ean", ""))) from None
    finally:
        await ledger.close()


async def _on_ledger(ledger: Ledger, args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        print("schema is current")
        return 0
    if args.command == "import":
        return await _import(ledger, args.kind, args.file, settings.import_niceness)
    if args.command == "topup":
        amount = parse_cents(args.amount)
        result = await ledger.top_up(args.ean, amount, args.channel, args.reference, args.reason,
                                     actor=f"cli:{_operator()}")
        word = "already recorded" if result.replayed else "recorded"
        print(f"top-up {word}; balance {format_cents(result.balance_cents)}")
        return 0
    if args.command == "plan":
        added = await ledger.add_payment_plan(args.ean, parse_cents(args.amount),
                                              parse_cents(args.daily, "daily"), args.reference)
        print("payment plan added" if added else "payment plan already recorded")
        return 0
    if args.command == "staff":
        return await _staff(ledger, args)
    if args.command == "api-client":
        return await _api_client(ledger, args)
    if args.command == "cpas-contact":
        contact = await ledger.outbox.register_cpas_contact(
            args.cpas, mobile=args.mobile, email=args.email, language=args.language)
        channels = [name for name, value in (("SMS", contact.mobile),
                                             ("e-mail", contact.email)) if value]
        print(f"{contact.cpas}: serious events of its residents go by "
              f"{' and '.join(channels)}" if channels else
              f"{contact.cpas}: no longer told of its residents' events")
        await ledger.audit(actor=f"cli:{_operator()}", action="cpas-contact", ean=None,
                           outcome="registered", detail=contact.cpas)
        return 0
    if args.command == "balance":
        view = await ledger.balance_view(args.ean, actor=f"cli:{_operator()}")
        if args.json:
            print(json.dumps(view.to_json(), ensure_ascii=False))
        else:
            print(describe(view))
        return 0
    raise UsageError(f"unknown command {args.command}")


def _read_password() -> str:
    if not sys.stdin.isatty():  # scripts: the first line of standard input
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


async def _staff(ledger: Ledger, args: argparse.Namespace) -> int:
    who = f"cli:{_operator()}"
    if args.action == "add":
        added = await ledger.access.add_staff(args.username, args.cpas, _read_password(),
                                              args.language)
        await ledger.audit(actor=who, action="staff-add", ean=None, outcome=added.username,
                           detail=added.cpas)
        print(f"{added.username} may now log in for {added.cpas}")
    else:
        await ledger.access.disable_staff(args.username)
        await ledger.audit(actor=who, action="staff-disable", ean=None, outcome=args.username)
        print(f"{args.username} is disabled; its sessions have ended")
    return 0


async def _api_client(ledger: Ledger, args: argparse.Namespace) -> int:
    who = f"cli:{_operator()}"
    if args.action == "add":
        client, token = await ledger.access.add_client(args.label, cpas=args.cpas,
                                                       channel=args.channel)
        await ledger.audit(actor=who, action="api-client-add", ean=None,
                           outcome=f"client {client.id}", detail=client.cpas or client.channel)
        print(f"API client {client.id} ({client.kind} {client.cpas or client.channel}); its "
              f"token, shown only now:\n{token}")
    else:
        await ledger.access.revoke_client(args.number)
        await ledger.audit(actor=who, action="api-client-revoke", ean=None,
                           outcome=f"client {args.number}")
        print(f"API client {args.number} is revoked")
    return 0


async def _call(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.phone import Phone, PhoneError

    if not settings.twilio_auth_token:
        raise UsageError("set TWILIO_AUTH_TOKEN (and PUBLIC_BASE_URL) as the server has them")
    base = args.url or f"http://localhost:{settings.port}"
    espeak = shutil.which("espeak-ng") if args.speak else None

    def hear(text: str, language: str, voice: str) -> None:
        print(f"  [{language}] {text}")
        if espeak:
            subprocess.run([espeak, "-v", language.split("-")[0], text], check=False)

    def keypad(prompt: str) -> str:
        try:
            return input("keys (then Enter; # ends a code; Enter alone = silence)> ").strip()
        except EOFError:
            return ""

    phone = Phone(base, auth_token=settings.twilio_auth_token,
                  public_base_url=settings.public_base_url or base, keypad=keypad, hear=hear)
    try:
        await phone.call(LINE_MOUNT)
    except PhoneError as error:
        raise UsageError(f"the call failed: {error}") from None
    except OSError as error:
        raise UsageError(f"cannot reach {base}: {error.strerror or error}") from None
    print("(call ended)")
    return 0


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _give_way(niceness: int) -> None:
    """At least this niceness for this thread and the threads it starts from now on (never
    raised back: not cumulative). On Linux the nice value is a thread's: the ledger's writer
    threads, started when it opened, keep theirs, so a batch that holds the write lock is not
    starved by the server that waits for it."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > current:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)


async def _import(ledger: Ledger, kind: str, path: Path, niceness: int) -> int:
    _give_way(niceness)
    # The file is streamed into the ledger, which reads it to its end before writing anything:
    # a line that cannot be read, wherever it is, still refuses the whole file.
    try:
        if kind == "accounts":
            parsed = stream_accounts(path)
            report = await ledger.import_accounts(parsed.rows)
        else:
            parsed = stream_consumption(path)
            report = await ledger.post_consumption(parsed.rows)
    except FileRefused as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    errors = sorted(parsed.errors + report.errors, key=lambda e: e.line or 0)
    _print_report(path, kind, report, errors)
    return 1 if errors else 0


def _print_report(path: Path, kind: str, report: ImportReport, errors: list[RowError]) -> None:
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


_STATE_WORDS = {
    State.NORMAL: "normal",
    State.LOW: "low credit: the emergency credit starts when the balance runs out",
    State.EMERGENCY: "emergency credit in use",
    State.DISCONNECTION_PENDING: "will be disconnected when the non-disconnection period ends",
    State.DISCONNECTED: "disconnected",
    State.POWER_LIMITED: "power-limited",
}


def describe(view: BalanceView) -> str:
    """The operator's plain-text summary (customer-facing words live in locales/)."""
    when = view.as_of.astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M")
    lines = [
        f"EAN          {view.ean} ({view.energy}, {view.language})",
        f"balance      {format_cents(view.balance_cents)} as of {when} (Brussels)",
        f"state        {view.state.value}: {_STATE_WORDS[view.state]}",
    ]
    if view.state is State.EMERGENCY:
        lines.append(f"usable       {format_cents(view.usable_before_disconnection_cents)} "
                     "before disconnection")
    if view.disconnect_at:
        lines.append(f"cut off at   {view.disconnect_at.astimezone(BRUSSELS):%d/%m/%Y %H:%M}")
    if view.minimum_topup_cents is not None:
        lines.append(f"to restore   top up at least {format_cents(view.minimum_topup_cents)}")
    if view.debt_cents:
        lines.append(f"debt         {format_cents(view.debt_cents)}, repaid "
                     f"{format_cents(view.debt_daily_cents)} a day")
    if view.last_topup:
        t = view.last_topup
        lines.append(f"last top-up  {format_cents(t.amount_cents)} ({t.channel}) on "
                     f"{t.at.astimezone(BRUSSELS):%d/%m/%Y %H:%M}")
    if view.estimated_days_left is not None:
        lines.append(f"days left    about {view.estimated_days_left} (average of the last 7 days)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
