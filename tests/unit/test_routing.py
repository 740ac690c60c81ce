"""Who is told what and when: preferences, the CPAS, quiet hours, stale events; back-off."""

import asyncio
import random
from datetime import UTC, datetime, time, timedelta

import pytest

from ledger import BRUSSELS, Contacts, CpasContact
from ledger.events import DisconnectionPending, LowCredit, ReconnectionAllowed, TopUpReceived
from messaging.pacing import Backoff, SendRate
from messaging.routing import QuietHours, Router, channels_for, overtaken

MOBILE, EMAIL = "+32470000001", "client@example.be"
CPAS = CpasContact("CPAS-LIEGE", "+32470999999", "social@cpas.example.be", "fr")


def contacts(notify="sms+email", mobile=MOBILE, email=EMAIL, cpas=None) -> Contacts:
    return Contacts(notify, mobile, email, "nl", cpas)


def at(hour: int, minute: int = 0, day: int = 17) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BRUSSELS)


def low_credit(moment: datetime) -> LowCredit:
    return LowCredit(ean="541440000000000017", energy="electricity", language="nl", at=moment,
                     balance_cents=300, threshold_cents=500)


def pending(moment: datetime) -> DisconnectionPending:
    return DisconnectionPending(ean="541440000000000017", energy="gas", language="nl", at=moment,
                                balance_cents=-1600, disconnect_at=moment + timedelta(hours=12),
                                minimum_topup_cents=1650)


@pytest.mark.parametrize("notify, mobile, email, expected", [
    ("sms", MOBILE, EMAIL, [("sms", MOBILE)]),
    ("email", MOBILE, EMAIL, [("email", EMAIL)]),
    ("sms+email", MOBILE, EMAIL, [("sms", MOBILE), ("email", EMAIL)]),
    ("none", MOBILE, EMAIL, []),
    ("email", MOBILE, None, [("sms", MOBILE)]),  # no e-mail: SMS
    ("sms", None, EMAIL, [("email", EMAIL)]),
    ("sms+email", None, EMAIL, [("email", EMAIL)]),
    ("sms", None, None, []),
])
def test_the_preference_picks_the_channels(notify, mobile, email, expected):
    assert channels_for(contacts(notify, mobile, email)) == expected


def test_a_cpas_is_told_only_of_serious_events():
    router = Router()
    serious = list(router.plan(pending(at(10)), contacts(cpas=CPAS), at(10)))
    assert {(m.audience, m.channel, m.address, m.language) for m in serious} == {
        ("customer", "sms", MOBILE, "nl"), ("customer", "email", EMAIL, "nl"),
        ("cpas", "sms", CPAS.mobile, "fr"), ("cpas", "email", CPAS.email, "fr")}
    informative = list(router.plan(low_credit(at(10)), contacts(cpas=CPAS), at(10)))
    assert {m.audience for m in informative} == {"customer"}


@pytest.mark.parametrize("now, expected", [
    (at(20, 59), at(20, 59)),
    (at(21, 0), at(8, 0, day=18)),
    (at(23, 30), at(8, 0, day=18)),
    (at(3, 0), at(8, 0)),
    (at(8, 0), at(8, 0)),
])
def test_low_credit_waits_for_the_end_of_the_quiet_hours(now, expected):
    [message] = Router().plan(low_credit(now), contacts("sms"), now)
    assert message.not_before == expected


def test_serious_and_good_news_go_at_once_at_night():
    router = Router()
    night = at(23, 30)
    assert [m.not_before for m in router.plan(pending(night), contacts("sms"), night)] == [night]
    reconnect = ReconnectionAllowed(ean="541440000000000017", energy="gas", language="nl",
                                    at=night, balance_cents=100)
    assert [m.not_before for m in router.plan(reconnect, contacts("sms"), night)] == [night]
    receipt = TopUpReceived(ean="541440000000000017", energy="gas", language="nl", at=night,
                            balance_cents=1900, amount_cents=2000, channel="online")
    assert [m.not_before for m in router.plan(receipt, contacts("sms"), night)] == [night]


@pytest.mark.parametrize(("earlier", "stale"), [
    ("LowCredit", True), ("EmergencyCreditStarted", True), ("DisconnectionPending", True),
    ("Disconnected", True), ("PowerLimited", True), ("ReconnectionAllowed", True),
    ("TopUpReceived", False), ("PrepaymentActivated", False)])
def test_a_later_event_makes_news_of_the_state_stale_but_not_a_receipt(earlier, stale):
    later = pending(at(9, 0))
    assert overtaken(later, earlier) is stale


def test_quiet_hours_across_the_change_to_winter_time():
    # 25 October 2026: the clocks go back at 03:00. 08:00 that morning is 07:00 UTC.
    quiet = QuietHours()
    night = datetime(2026, 10, 24, 22, 0, tzinfo=BRUSSELS)
    assert quiet.end_after(night).astimezone(UTC) == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_quiet_hours_within_a_day_and_none():
    lunch = QuietHours(time(12, 0), time(14, 0))
    assert lunch.contains(at(13)) and not lunch.contains(at(14))
    assert Router(quiet_hours=None).plan(low_credit(at(23)), contacts("sms"), at(23)).__next__(
        ).not_before == at(23)


def test_an_event_older_than_a_day_is_not_sent():
    assert list(Router().plan(pending(at(10)), contacts(), at(10) + timedelta(days=1, minutes=1))
                ) == []


def test_back_off_doubles_with_jitter_up_to_its_cap():
    backoff = Backoff(first=timedelta(seconds=30), cap=timedelta(hours=1), max_attempts=8)
    rng = random.Random(1)
    for attempts, ceiling in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        delays = {backoff.delay(attempts, rng).total_seconds() for _ in range(50)}
        assert min(delays) >= ceiling / 2 and max(delays) <= ceiling
        assert len(delays) > 1  # jittered
    assert not backoff.gives_up_after(7) and backoff.gives_up_after(8)


async def test_a_send_rate_spaces_the_sends():
    rate = SendRate(per_second=20)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(5):
        await rate.wait()
    assert loop.time() - start >= 4 / 20  # a lower bound only: sleeping is never shorter
