"""Run as a service: on one database, two `saldo serve` and two `saldo worker` processes; a day's
consumption import for a few thousand accounts and top-ups through both servers' API while the
workers send; one worker killed with SIGKILL while it holds claims. Every message goes out once —
an e-mail may go twice only if it was claimed again after the kill (README, Notifications: SMTP
cannot be asked whether it arrived) — none is lost, and every account's books match what this
test computes on its own.

Runs on the `database_url` fixture: one SQLite file in the SQLite run, PostgreSQL in the other."""

import asyncio
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import aiohttp
import pytest
from sqlalchemy import func, select
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from ledger import BRUSSELS, AccountInput, Contacts, Ledger, schema
from ledger.db import reading
from ledger.books import ENERGY_SOLD, balance_book, topup_book
from messaging.render import MessageTemplates
from messaging.routing import CPAS_LIST_EVENTS, SERIOUS_EVENTS, channels_for
from tests.conftest import make_ean
from tests.mailbox import Mailbox
from tests.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioApi, free_port

pytestmark = pytest.mark.slow

ACCOUNTS = 3000
TOPUPS = 400  # distinct payments, on accounts drawn at random
REPLAYED = 20  # of them, each sent to both servers at once
LINE_CALLS = 20  # balance-line look-ups, alternately on each server
DELIVERY_REPORTS = 40  # Twilio's "delivered", alternately to each server
LEASE_SECONDS = 5  # stored to the second: a claim is taken over after 4 to 5 s
START_CREDIT, DAILY_REPAYMENT = 2000, 100  # seed 003: 20 € on activation, repaid 1 € a day
PUBLIC_BASE_URL = "https://saldo.example.be"
MAIL_DOMAIN = "ores.example"
CPAS, CPAS_MOBILE, CPAS_EMAIL = "CPAS-NAMUR", "+32470999999", "cpas.namur@example.be"
NOTIFY = ("sms", "email", "sms+email", "sms", "none")
MADE_UP = (dict(name="Lise Fictive"), dict(name="Jan Verzonnen"), dict(name="Anna Erfunden"))
# The day's consumption in cents by account (i % 8), from 20 € less the 1 € repayment: stays
# normal, goes low, into emergency credit, or through it (disconnection pending or cut off).
CONSUMPTION = ((200, 1399), (200, 1399), (1400, 1899), (1400, 1899), (1900, 3399),
               (1900, 3399), (3400, 4500), (1400, 1899))
SENT_STATES = {"sent", "delivered"}
# A message withdrawn before it was sent, a later event of its account having made it stale.
DONE_STATES = SENT_STATES | {"superseded"}
LOCALES = Path(__file__).resolve().parents[2] / "locales"


class Message(NamedTuple):
    """An outbox row."""

    id: int
    event_id: int
    audience: str
    channel: str
    address: str
    language: str
    state: str
    attempts: int
    provider_id: str


@dataclass
class Run:
    """What the test did, to compare with what the processes did."""

    amounts: dict[str, int] = field(default_factory=dict)  # the day's consumption, by EAN
    topups: dict[str, list[int]] = field(default_factory=dict)  # by EAN, each payment once
    answers: list[tuple[str, int]] = field(default_factory=list)  # (reference, HTTP status)
    timings: dict[str, float] = field(default_factory=dict)  # seconds since the start
    figures: dict[str, int] = field(default_factory=dict)


# ---- the processes ---------------------------------------------------------------------------

def instance_env(database_url: str, **settings: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith((
        "DATABASE_", "PORT", "HOST", "NDP_", "TWILIO_", "SMTP_", "MAIL_", "PUBLIC_", "QUIET_",
        "SEND_", "SMS_", "MAILS_", "LOG_", "PORTAL_", "EAN_"))}
    return {**kept, "DATABASE_URL": database_url, "HOST": "127.0.0.1", "LOG_FORMAT": "text",
            "TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "TWILIO_FROM": "+32460200000",
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "MAIL_FROM": f"saldo@{MAIL_DOMAIN}",
            "PORTAL_SECRET": "made-up-portal-secret-for-several-instances",
            "QUIET_HOURS": "none", "SMS_PER_SECOND": "1000", "MAILS_PER_SECOND": "1000",
            "SEND_LEASE_SECONDS": str(LEASE_SECONDS), **settings}


class Processes:
    """`saldo …` subprocesses, their standard error in files (a full pipe would stop them)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, name: str, env: dict[str, str], *args: str
                    ) -> asyncio.subprocess.Process:
        with (self.folder / f"{name}.out").open("wb") as out, \
                (self.folder / f"{name}.err").open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "saldo", *args, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=err)
        self.started[name] = process
        return process

    async def run(self, name: str, env: dict[str, str], *args: str, timeout: float = 120) -> str:
        """Runs a command to its end; returns its standard output, fails on a non-zero exit."""
        process = await self.start(name, env, *args)
        code = await asyncio.wait_for(process.wait(), timeout)
        assert code == 0, f"saldo {' '.join(args)}: exit {code}\n{self.stderr(name)}"
        return (self.folder / f"{name}.out").read_text(encoding="utf-8")

    def stderr(self, name: str) -> str:
        return (self.folder / f"{name}.err").read_text(encoding="utf-8", errors="replace")

    async def stop(self, name: str) -> int:
        process = self.started[name]
        process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(process.wait(), 60)

    async def close(self) -> None:
        """Whatever still runs (a failed test) is killed; every process is waited for."""
        for process in self.started.values():
            if process.returncode is None:
                process.kill()
            await process.wait()


async def wait_until(condition, what: str, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


async def cancelled(*tasks: asyncio.Future) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def ready(http: aiohttp.ClientSession, port: int, server: asyncio.subprocess.Process
                ) -> bool:
    assert server.returncode is None, "a server exited early"
    try:
        async with http.get(f"http://127.0.0.1:{port}/readyz") as answer:
            return answer.status == 200
    except aiohttp.ClientError:
        return False


# ---- the ledger's side -----------------------------------------------------------------------

def accounts(rng: random.Random) -> tuple[list[AccountInput], dict[str, int]]:
    """Made-up customers activated three days ago (their welcome is history: nobody is told),
    and the day's consumption of each."""
    activated = (datetime.now(BRUSSELS) - timedelta(days=3)).replace(hour=0, minute=0, second=0,
                                                                     microsecond=0)
    rows, amounts = [], {}
    for i in range(1, ACCOUNTS + 1):
        notify = NOTIFY[i % len(NOTIFY)]
        electricity = i % 4 != 0
        rows.append(AccountInput(
            make_ean(i), "electricity" if electricity else "gas", ("fr", "nl", "de")[i % 3],
            mobile=f"+3247{i:07d}", email=f"client.{i}@example.be", notify=notify,
            activated_at=activated, power_limiter=electricity and i % 9 == 0,
            cpas=CPAS if i % 10 == 0 else None, **MADE_UP[i % len(MADE_UP)]))
        amounts[make_ean(i)] = rng.randint(*CONSUMPTION[i % len(CONSUMPTION)])
    return rows, amounts


def consumption_file(path: Path, amounts: dict[str, int]) -> Path:
    """The operator's file for yesterday, as Belgian spreadsheets write it."""
    yesterday = (datetime.now(BRUSSELS) - timedelta(days=1)).date().isoformat()
    lines = ["ean;day;amount"] + [f"{ean};{yesterday};{cents // 100},{cents % 100:02d}"
                                  for ean, cents in amounts.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def table(ledger: Ledger, *columns, where=None) -> list[tuple]:
    statement = select(*columns)
    if where is not None:
        statement = statement.where(where)
    async with reading(ledger.engine) as conn:
        return [tuple(row) for row in await conn.execute(statement)]


async def drained(ledger: Ledger) -> bool:
    """Every event has become its messages, and every message is out. The cursor is read first:
    read after the counts, it could include the events of messages queued in between."""
    cursor = int(await ledger.get_meta(schema.OUTBOX_CURSOR) or 0)
    if set(await ledger.outbox.counts()) - DONE_STATES:
        return False
    return not await ledger.events_after(cursor, limit=1)


# ---- the clients -----------------------------------------------------------------------------

async def top_ups(http: aiohttp.ClientSession, ports: list[int], token: str, rng: random.Random,
                  run: Run) -> None:
    """Payments at the kiosks, through both servers, a few at a time; some references sent to
    both servers at once (a terminal trying again elsewhere)."""
    at_once = asyncio.Semaphore(8)

    async def pay(port: int, body: dict) -> None:
        async with at_once, http.post(f"http://127.0.0.1:{port}/api/v1/topups", json=body,
                                      headers={"Authorization": f"Bearer {token}"}) as answer:
            run.answers.append((body["reference"], answer.status))
            assert answer.status in (200, 201), await answer.text()

    payments = []
    for n in range(TOPUPS):
        ean = make_ean(rng.randint(1, ACCOUNTS))
        body = {"ean": ean, "amount_cents": rng.randint(500, 10000), "reference": f"KIOSK-{n:05d}"}
        run.topups.setdefault(ean, []).append(body["amount_cents"])
        targets = ports if n < REPLAYED else [ports[n % 2]]
        payments += [pay(port, body) for port in targets]
    rng.shuffle(payments)
    await asyncio.gather(*payments)


async def line_calls(http: aiohttp.ClientSession, ports: list[int], token: str) -> None:
    """The balance line, as Twilio calls it: the code step, signed, alternately on each server."""
    validator = RequestValidator(token)
    for n in range(LINE_CALLS):
        path = "/voice/ean?lang=fr"
        form = {"CallSid": f"CA{n:032x}", "AccountSid": DEFAULT_ACCOUNT_SID,
                "From": f"+3249{n:07d}", "To": "+3280092424", "Direction": "inbound",
                "CallStatus": "in-progress", "Digits": make_ean(1 + n * 97)[-13:]}
        signature = validator.compute_signature(PUBLIC_BASE_URL + path, form)
        async with http.post(f"http://127.0.0.1:{ports[n % 2]}{path}", data=form,
                             headers={SIGNATURE_HEADER: signature}) as answer:
            text = await answer.text()
            assert answer.status == 200 and "<Say" in text, text


async def found_lookups(http: aiohttp.ClientSession, port: int) -> float:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
        text = await answer.text()
    match = re.search(r'^saldo_line_lookups_total\{outcome="found"\} (\S+)$', text, re.M)
    return float(match[1]) if match else 0.0


# ---- the test --------------------------------------------------------------------------------

async def test_two_servers_and_two_workers_one_killed_send_each_message_once(
        database_url, tmp_path):
    began = time.monotonic()
    rng = random.Random(20261124)
    run = Run()
    rows, run.amounts = accounts(rng)
    ledger = await Ledger.open(database_url)
    mailbox = Mailbox().start()
    processes = Processes(tmp_path)
    async with AsyncExitStack() as stack:
        stack.callback(mailbox.stop)
        stack.push_async_callback(ledger.close)
        stack.push_async_callback(processes.close)
        twilio = await stack.enter_async_context(TwilioApi())
        http = await stack.enter_async_context(aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60)))

        report = await ledger.import_accounts(rows)
        assert (report.new, report.errors) == (ACCOUNTS, [])
        await ledger.outbox.register_cpas_contact(CPAS, mobile=CPAS_MOBILE, email=CPAS_EMAIL,
                                                  language="fr")
        env = instance_env(database_url, SMTP_URL=f"smtp://127.0.0.1:{mailbox.port}")
        printed = await processes.run("api-client", env, "api-client", "add", "kiosk network",
                                      "--channel", "terminal")
        token = printed.strip().splitlines()[-1]

        # Worker A reaches Twilio by another host name: its requests can be told apart.
        hosts = {"worker-a": f"localhost:{twilio.port}", "worker-b": f"127.0.0.1:{twilio.port}"}
        for name, host in hosts.items():
            await processes.start(name, {**env, "TWILIO_API_URL": f"http://{host}"}, "worker")
        ports = [free_port(), free_port()]
        for n, port in enumerate(ports):
            await processes.start(f"serve-{n}", {**env, "PORT": str(port)}, "serve")
        for n, port in enumerate(ports):
            server = processes.started[f"serve-{n}"]
            await wait_until(lambda: ready(http, port, server), "a server is ready", 60, 0.2)
        run.timings["started"] = time.monotonic() - began

        # The day's import, while payments come in through both servers and people call.
        importing = asyncio.create_task(processes.run(
            "import", env, "import", "consumption",
            str(consumption_file(tmp_path / "consumption.csv", run.amounts))))
        clients = asyncio.gather(top_ups(http, ports, token, rng, run),
                                 line_calls(http, ports, DEFAULT_AUTH_TOKEN))
        stack.push_async_callback(cancelled, importing, clients)  # when the test fails

        def posts_of(worker: str, since: int = 0):
            return [r for r in twilio.requests[since:] if r.method == "POST"
                    and r.headers.get("Host") == hosts[worker] and r.path.endswith("Messages.json")]

        async def mid_run() -> bool:
            if not importing.done() or len(posts_of("worker-a")) < 20:
                return False
            counts = await ledger.outbox.counts()
            return counts.get("queued", 0) + counts.get("sending", 0) >= 0.25 * sum(counts.values())

        await wait_until(mid_run, "worker A sent some messages, many remain", 60)
        # Twilio's answers now come late: the kill lands while an SMS is at Twilio, unrecorded.
        mark = len(twilio.requests)
        twilio.delay_next(0.5, times=300, method="POST")

        async def in_flight() -> bool:
            return any(r.status is None for r in posts_of("worker-a", mark))

        await wait_until(in_flight, "worker A has an SMS in flight", 30, 0.005)
        processes.started["worker-a"].kill()
        await processes.started["worker-a"].wait()
        at_twilio_before_kill = set(twilio.messages)
        sending_at_kill = {id_ for (id_,) in await table(
            ledger, schema.outbox.c.id, where=schema.outbox.c.state == "sending")}
        run.timings["killed"] = time.monotonic() - began

        await clients
        await importing
        await wait_until(lambda: drained(ledger), "the outbox drained", 120, 0.25)
        run.timings["drained"] = time.monotonic() - began

        # Delivery reports, alternately through each server.
        sms_sids = [sid for (sid,) in await table(ledger, schema.outbox.c.provider_id,
                                                   where=schema.outbox.c.channel == "sms") if sid]  # not the superseded, never sent
        for n, sid in enumerate(sms_sids[:DELIVERY_REPORTS]):
            twilio.callback_base_url = f"http://127.0.0.1:{ports[n % 2]}"
            assert await twilio.send_status(sid, "delivered") == 204
        assert [await found_lookups(http, port) for port in ports] == [LINE_CALLS / 2] * 2

        for name in ("worker-b", "serve-0", "serve-1"):
            code = await processes.stop(name)
            assert code == 0, processes.stderr(name)
        assert processes.started["worker-a"].returncode == -signal.SIGKILL
        for name in ("worker-a", "worker-b", "serve-0", "serve-1", "import"):
            assert "Traceback" not in processes.stderr(name), processes.stderr(name)

        await check_messages(ledger, twilio, mailbox, sending_at_kill, at_twilio_before_kill, run)
        await check_books(ledger, run)
    run.timings["total"] = time.monotonic() - began
    print("several instances:", ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items()),
          run.figures)


async def check_messages(ledger: Ledger, twilio: TwilioApi, mailbox: Mailbox,
                         sending_at_kill: set[int], at_twilio_before_kill: set[str], run: Run
                         ) -> None:
    """Counts rather than whole collections in the assertions: a failure stays readable."""
    o = schema.outbox
    messages = [Message(*row) for row in await table(
        ledger, o.c.id, o.c.event_id, o.c.audience, o.c.channel, o.c.address, o.c.language,
        o.c.state, o.c.attempts, o.c.provider_id)]
    assert {m.state for m in messages} <= DONE_STATES
    withdrawn = [m for m in messages if m.state == "superseded"]
    assert all(m.provider_id is None for m in withdrawn)  # never sent
    assert sum(m.state == "delivered" for m in messages) == DELIVERY_REPORTS

    # Each event became the messages its routing asks for, none more, none fewer.
    a = schema.accounts
    contacts = {id_: Contacts(notify, mobile, email, language, None) for id_, notify, mobile,
                email, language in await table(ledger, a.c.id, a.c.notify, a.c.mobile,
                                               a.c.email, a.c.language)}
    residents = {id_ for (id_,) in await table(ledger, a.c.id, where=a.c.cpas == CPAS)}
    e = schema.events
    owner = dict(await table(ledger, e.c.id, e.c.account_id))
    events = dict(await ledger.events_after(0, limit=10 * ACCOUNTS))
    # Two workers, one morning list a day at most.
    assert sum(event.name in CPAS_LIST_EVENTS for event in events.values()) <= 1
    expected = set()
    for event_id, event in events.items():
        if event.name == "PrepaymentActivated":
            continue  # three days old: history
        if event.name in CPAS_LIST_EVENTS:  # the workers run on the real clock: a working
            expected.add((event_id, "cpas", "email", CPAS_EMAIL))  # morning has its list
            continue
        account_id = owner[event_id]
        expected |= {(event_id, "customer", channel, address)
                     for channel, address in channels_for(contacts[account_id])}
        if account_id in residents and event.name in SERIOUS_EVENTS:
            expected |= {(event_id, "cpas", "sms", CPAS_MOBILE),
                         (event_id, "cpas", "email", CPAS_EMAIL)}
    queued = {(m.event_id, m.audience, m.channel, m.address) for m in messages}
    assert (len(expected - queued), len(queued - expected)) == (0, 0)  # (lost, extra)
    assert len(messages) == len(queued)

    # The killed worker's claims, and only they, were claimed again.
    claimed_again = {m.id for m in messages if m.attempts > 1}
    assert claimed_again, "the kill landed while worker A held no claim"
    assert len(claimed_again - sending_at_kill) == 0

    # Each SMS reached Twilio exactly once: its text, to its number.
    templates = MessageTemplates.load(LOCALES)
    sms = [m for m in messages if m.channel == "sms" and m.state != "superseded"]
    assert len({m.provider_id for m in sms}) == len(sms)
    posted, created = len(twilio.posts), len(twilio.messages)
    assert (posted, created) == (len(sms), len(sms))
    texts = Counter((m["to"], m["body"]) for m in twilio.messages.values())
    assert max(texts.values()) == 1

    def sms_text(m: Message) -> str:
        return templates.sms(events[m.event_id], audience=m.audience, language=m.language)

    at_twilio = twilio.messages
    wrong = [m.id for m in sms if (at_twilio[m.provider_id]["to"],
                                   at_twilio[m.provider_id]["body"]) != (m.address, sms_text(m))]
    assert len(wrong) == 0
    found_at_twilio = [m.id for m in sms
                       if m.id in claimed_again and m.provider_id in at_twilio_before_kill]
    assert found_at_twilio, "no SMS of the killed worker was found at Twilio"

    # Each e-mail arrived once, or twice if claimed again after the kill (the README's window).
    emails = {f"<saldo-message-{m.id}@{MAIL_DOMAIN}>": m for m in messages
              if m.channel == "email" and m.state != "superseded"}
    assert all(m.provider_id == message_id for message_id, m in emails.items())
    arrived = Counter(mail["Message-ID"] for mail in mailbox.messages)
    assert (len(set(emails) - set(arrived)), len(set(arrived) - set(emails))) == (0, 0)

    def subject(m: Message) -> str:
        return templates.email(events[m.event_id], audience=m.audience,
                               language=m.language).subject

    # Exactly as written: a long subject arrives folded, and unfolds to the same text.
    wrong = [mail["Message-ID"] for mail in mailbox.messages
             if (mail["To"], mail["Subject"]) != (
                 emails[mail["Message-ID"]].address, subject(emails[mail["Message-ID"]]))]
    assert len(wrong) == 0
    twice = {emails[message_id].id for message_id, n in arrived.items() if n > 1}
    assert max(arrived.values()) <= 2
    assert len(twice - claimed_again) == 0
    run.figures.update(messages=len(messages), sms=len(sms), emails=len(emails),
                       claimed_again=len(claimed_again), found_at_twilio=len(found_at_twilio),
                       emails_twice=len(twice))


async def check_books(ledger: Ledger, run: Run) -> None:
    books = await ledger.trial_balance()
    assert sum(books.values()) == 0
    cached = await ledger.cached_balances()
    assert len([book for book, cents in cached.items() if books.get(book, 0) != cents]) == 0
    ids = dict(await table(ledger, schema.accounts.c.ean, schema.accounts.c.id))
    wrong = [ean for ean, amount in run.amounts.items() if books[balance_book(ids[ean])] !=
             START_CREDIT - DAILY_REPAYMENT - amount + sum(run.topups.get(ean, []))]
    assert len(wrong) == 0
    assert books[ENERGY_SOLD] == sum(run.amounts.values())
    paid = [amount for amounts in run.topups.values() for amount in amounts]
    assert books[topup_book("terminal")] == -sum(paid)
    p = schema.postings
    [(recorded,)] = await table(ledger, func.count(), where=p.c.kind == "topup")
    assert recorded == len(paid) == TOPUPS
    # A reference sent to both servers at once: recorded by one, a replay for the other.
    statuses: dict[str, list[int]] = {}
    for reference, status in run.answers:
        statuses.setdefault(reference, []).append(status)
    assert Counter(tuple(sorted(s)) for s in statuses.values()) == {
        (201,): TOPUPS - REPLAYED, (200, 201): REPLAYED}
