"""A month of the year simulation (tests/simulation/year.py), on the suite's database: SQLite
here, PostgreSQL in the SALDO_TEST_POSTGRES run.

From 15 October to 14 November 2026: the end of summer time (25 October), All Saints' Day (a
Sunday) and Armistice Day (a Wednesday) inside the NDP calendar; every kind of fault at least
once (the sender killed with SIGKILL mid-batch, Twilio 429/5xx/timeouts/drops, SMTP down and
answering 4xx, the database restarted); every invariant checked every simulated day."""

from datetime import date, datetime

import pytest

from ledger import BRUSSELS, AccountInput, SettableClock
from messaging.sms import TwilioSms
from saldo.app import locales_dir, open_ledger
from saldo.sending import open_dispatcher
from tests.conftest import make_ean
from tests.databases import fresh_database
from tests.mailbox import Mailbox
from tests.simulation.setup import sending_settings, tune
from tests.simulation.year import FAULTS_PER_YEAR, Config, simulate
from tests.twilio_api import TwilioApi

pytestmark = pytest.mark.slow

MONTH = dict(days=31, meters=100, start=date(2026, 10, 15))


@pytest.mark.parametrize("seed", [3, 11])
async def test_a_month_runs_clean(seed, database_url, tmp_path):
    figures = await simulate(Config(seed=seed, database_url=database_url, work_dir=tmp_path,
                                    **MONTH))
    assert not figures.violations, figures.report()
    # It did what it says: every fault, the sender killed holding messages, the calendar's cuts.
    assert all(figures.faults[kind] >= 1 for kind in FAULTS_PER_YEAR), figures.report()
    assert figures.faults["sigkill: killed mid-batch"] >= 1, figures.report()
    assert figures.events["DisconnectionPending"] and figures.events["Disconnected"]
    assert figures.events["CpasDailyList"], figures.report()  # checked: working days, once
    assert sum(figures.checks_passed.values()) > 31 * 10
    assert not figures.checks_failed


async def test_a_message_sent_twice_fails_the_run(tmp_path):
    """The outbox's idempotency broken: an SMS whose first try timed out is not looked up at
    Twilio before it is sent again. The run must fail, naming it."""
    original = TwilioSms.find_sent

    async def never_found(self, to, body, since):
        await original(self, to, body, since)  # the same requests, the answer thrown away
        return None

    TwilioSms.find_sent = never_found
    try:
        figures = await simulate(Config(seed=5, days=4, meters=40, start=date(2026, 10, 24),
                                        work_dir=tmp_path))
    finally:
        TwilioSms.find_sent = original
    assert figures.violations
    assert "no SMS twice" in figures.first_violation, figures.report()


async def test_the_same_seed_does_the_same(tmp_path):
    config = dict(seed=7, days=2, meters=20, start=date(2026, 3, 28))  # summer time begins
    first = await simulate(Config(work_dir=tmp_path / "first", **config))
    second = await simulate(Config(work_dir=tmp_path / "second", **config))
    assert not first.violations and not second.violations
    assert first.digest == second.digest
    assert first.faults == second.faults


async def test_an_informative_message_retried_waits_for_the_end_of_quiet_hours(tmp_path):
    """Found writing the year's quiet-hours invariant (an informative message is never due
    inside them): a welcome or low-credit SMS that Twilio answered 429 at 20:59:50 came back 15
    to 30 s later, inside the quiet hours (21:00-08:00), where such a message waits for the
    morning (README, Notifications). Fixed in messaging/dispatch.py: a retry waits them out."""
    clock = SettableClock(datetime(2026, 11, 24, 20, 59, 50, tzinfo=BRUSSELS))
    async with fresh_database(tmp_path) as url, TwilioApi(clock=clock.now) as api:
        settings = sending_settings(url, api.url, smtp_port=9)
        ledger = await open_ledger(settings, clock)
        try:
            await ledger.import_accounts([AccountInput(make_ean(1), "gas", "fr",
                                                       mobile="+32470000001", notify="sms")])
            async with open_dispatcher(settings, ledger, clock, locales_dir(settings)) as sending:
                api.fail_next(429)
                done = await tune(sending, seed=1).run_once()
                assert (done.queued, done.retried) == (1, 1)
                clock.set(datetime(2026, 11, 24, 21, 1, tzinfo=BRUSSELS))
                await sending.run_once()
                assert len(api.messages) == 0  # not at 21:01
                clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=BRUSSELS))
                await sending.run_once()
                assert len(api.messages) == 1  # at 08:00
        finally:
            await ledger.close()


async def test_a_fallback_of_an_informative_message_waits_for_the_end_of_quiet_hours(tmp_path):
    """A welcome SMS sent at 20:50 and reported failed at 21:30 goes by e-mail — at 21:30,
    inside the quiet hours, where a welcome message waits for the morning."""
    clock = SettableClock(datetime(2026, 11, 24, 20, 50, tzinfo=BRUSSELS))
    mailbox = Mailbox().start()
    try:
        async with fresh_database(tmp_path) as url, TwilioApi(clock=clock.now) as api:
            settings = sending_settings(url, api.url, mailbox.port)
            ledger = await open_ledger(settings, clock)
            try:
                await ledger.import_accounts([AccountInput(
                    make_ean(1), "gas", "fr", mobile="+32470000001",
                    email="client-fictif@example.be", notify="sms")])
                async with open_dispatcher(settings, ledger, clock,
                                           locales_dir(settings)) as sending:
                    assert (await tune(sending, seed=1).run_once()).sent == 1
                    clock.set(datetime(2026, 11, 24, 21, 30, tzinfo=BRUSSELS))
                    assert await ledger.outbox.report(next(iter(api.messages)), "failed")
                    await sending.run_once()
                    assert mailbox.messages == []  # not at 21:30
                    clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=BRUSSELS))
                    await sending.run_once()
                    assert len(mailbox.messages) == 1  # at 08:00
            finally:
                await ledger.close()
    finally:
        mailbox.stop()
