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
    Clock,
    Ledger,
    LedgerError,
    SystemClock,
    format_cents,
    parse_cents,
)
from ledger.db import sqlite_path
from ledger.domain import DailyList
from ledger.ean import SHORT_LENGTH, digits_of, is_digits, is_valid_full
from ledger.errors import UnknownAccount
from portal.access import Access

from . import worker
from .access_log import RouteAccessLogger
from .app import LINE_MOUNT, create_app, locales_dir, open_ledger, portal_url
from .arguments import parser
from .describe import describe
from .imports import export_survey, run_import
from .logs import configure_logging
from .sending import open_dispatcher
from .settings import Settings, SettingsError

log = logging.getLogger("saldo")


class UsageError(Exception):
    pass


_NEGATIVE_COMMA_AMOUNT = re.compile(r"^-\d+,\d{1,2}$")


def main(argv: Sequence[str] | None = None) -> int:
    # argparse takes '-1,20' for an option; '-1.20' it knows as a negative number.
    argv = [a.replace(",", ".") if _NEGATIVE_COMMA_AMOUNT.match(a) else a
            for a in (sys.argv[1:] if argv is None else argv)]
    args = parser().parse_args(argv)
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
    if args.command in _MAY_CREATE or (args.command == "import"
                                       and args.kind in ("accounts", "appointments")):
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
        async with open_dispatcher(settings, ledger, clock, locales_dir(settings),
                                   portal_url=portal_url(settings)) as dispatcher:
            if once:
                await worker.run_once(ledger, dispatcher, settings.morning_list_at)
                return 0
            stop = asyncio.Event()
            worker.stop_on_signals(stop)
            log.info("worker started: tick every %.0f s, messages every %.0f s",
                     settings.tick_seconds, worker.SEND_EVERY_SECONDS)
            await worker.run_forever(ledger, dispatcher, settings.tick_seconds, stop,
                                     settings.morning_list_at)
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
        return await run_import(ledger, args.kind, args.file, settings.import_niceness)
    if args.command == "survey":
        return await export_survey(ledger, args.output, actor=f"cli:{_operator()}")
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
            args.cpas, mobile=args.mobile, email=args.email, language=args.language,
            daily_list=args.daily_list)
        channels = [name for name, value in (("SMS", contact.mobile),
                                             ("e-mail", contact.email)) if value]
        morning = ("no morning list (it goes by e-mail)" if not contact.email else
                   "the morning list every working day" if contact.daily_list == DailyList.ALWAYS else
                   "the morning list on working days with someone to call")
        print(f"{contact.cpas}: serious events of its residents go by "
              f"{' and '.join(channels)}; {morning}" if channels else
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
    access = await Access.open(ledger.store)
    if args.action == "add":
        added = await access.add_staff(args.username, args.cpas, _read_password(),
                                       args.language)
        await ledger.audit(actor=who, action="staff-add", ean=None, outcome=added.username,
                           detail=added.cpas)
        print(f"{added.username} may now log in for {added.cpas}")
    else:
        await access.disable_staff(args.username)
        await ledger.audit(actor=who, action="staff-disable", ean=None, outcome=args.username)
        print(f"{args.username} is disabled; its sessions have ended")
    return 0


async def _api_client(ledger: Ledger, args: argparse.Namespace) -> int:
    who = f"cli:{_operator()}"
    access = await Access.open(ledger.store)
    if args.action == "add":
        client, token = await access.add_client(args.label, cpas=args.cpas,
                                                channel=args.channel)
        await ledger.audit(actor=who, action="api-client-add", ean=None,
                           outcome=f"client {client.id}", detail=client.cpas or client.channel)
        print(f"API client {client.id} ({client.kind} {client.cpas or client.channel}); its "
              f"token, shown only now:\n{token}")
    else:
        await access.revoke_client(args.number)
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
            return input("keys (then Enter; # ends a code; Enter alone = silence; "
                         "words where a code is asked are said)> ").strip()
        except EOFError:
            return ""

    def transfer(number: str) -> str:
        # The terminal reaches nobody: the transfer is shown, and how it ended is asked for.
        print(f"  [transferred to {number}; a person would answer here]")
        try:
            ended = input("how the transfer ends (Enter = completed; busy, no-answer, failed)> ")
        except EOFError:
            ended = ""
        return ended.strip() or "completed"

    phone = Phone(base, auth_token=settings.twilio_auth_token,
                  public_base_url=settings.public_base_url or base, keypad=keypad, hear=hear,
                  transfer=transfer)
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


if __name__ == "__main__":
    sys.exit(main())
