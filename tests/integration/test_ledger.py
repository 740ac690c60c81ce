"""The ledger's operations against a real SQLite file, with seed 003's figures."""

from datetime import date, datetime, timedelta

import pytest

from ledger import (
    BRUSSELS,
    AccountInput,
    ConsumptionInput,
    InvalidInput,
    Ledger,
    ReferenceConflict,
    State,
    UnknownAccount,
)
from ledger.ean import validate_full
from tests.conftest import make_ean

EAN = make_ean(1)
ACTIVATED = datetime(2026, 10, 1, 9, 0, tzinfo=BRUSSELS)


async def activate(ledger: Ledger, ean: str = EAN, **details) -> None:
    details.setdefault("activated_at", ACTIVATED)
    report = await ledger.import_accounts([AccountInput(ean=ean, energy="electricity",
                                                        language="fr", **details)])
    assert report.errors == []


async def post_days(ledger: Ledger, amounts: list[int], ean: str = EAN,
                    first: date = date(2026, 10, 1)) -> None:
    report = await ledger.post_consumption(
        ConsumptionInput(ean=ean, day=first + timedelta(days=i), amount_cents=a)
        for i, a in enumerate(amounts))
    assert report.errors == []


async def view(ledger: Ledger, ean: str = EAN):
    return await ledger.balance_view(ean, actor="test")


async def event_names(ledger: Ledger) -> list[str]:
    return [event.name for _, event in await ledger.events_after(0)]


async def test_activation_gives_20_euros_and_a_20_euro_debt(ledger):
    await activate(ledger)
    v = await view(ledger)
    assert (v.balance_cents, v.debt_cents, v.debt_daily_cents) == (2000, 2000, 100)
    assert v.state is State.NORMAL
    assert await event_names(ledger) == ["PrepaymentActivated"]


async def test_a_budget_meter_balance_of_12_becomes_20_with_8_of_debt(ledger):
    await activate(ledger, transferred_cents=1200)
    v = await view(ledger)
    assert (v.balance_cents, v.debt_cents) == (2000, 800)


async def test_a_budget_meter_balance_above_20_is_kept_without_debt(ledger):
    await activate(ledger, transferred_cents=3150)
    v = await view(ledger)
    assert (v.balance_cents, v.debt_cents, v.debt_daily_cents) == (3150, 0, 0)


async def test_the_start_credit_is_repaid_in_20_posted_days(ledger):
    await activate(ledger, transferred_cents=10_000)  # no start debt: a clean case
    await ledger.top_up(EAN, 100, "agent", "adj-1", reason="make the count easy")
    await activate(ledger, make_ean(2))
    await post_days(ledger, [0] * 19, make_ean(2))
    v = await view(ledger, make_ean(2))
    assert (v.debt_cents, v.balance_cents) == (100, 100)
    await post_days(ledger, [0], make_ean(2), first=date(2026, 10, 20))
    v = await view(ledger, make_ean(2))
    assert (v.debt_cents, v.debt_daily_cents, v.balance_cents) == (0, 0, 0)
    await post_days(ledger, [0], make_ean(2), first=date(2026, 10, 21))
    assert (await view(ledger, make_ean(2))).balance_cents == 0  # nothing more is taken


async def test_consumption_and_repayment_leave_the_balance(ledger):
    await activate(ledger)
    await post_days(ledger, [350, 420])
    v = await view(ledger)
    assert v.balance_cents == 2000 - 350 - 420 - 200
    assert v.debt_cents == 1800


async def test_a_day_posted_twice_is_posted_once(ledger):
    await activate(ledger)
    await post_days(ledger, [350])
    report = await ledger.post_consumption([ConsumptionInput(EAN, date(2026, 10, 1), 350)])
    assert (report.new, report.unchanged) == (0, 1)
    assert (await view(ledger)).balance_cents == 2000 - 350 - 100


async def test_another_amount_for_a_posted_day_is_a_correction(ledger):
    await activate(ledger)
    await post_days(ledger, [350])
    report = await ledger.post_consumption([ConsumptionInput(EAN, date(2026, 10, 1), 500)])
    assert report.corrected == 1
    v = await view(ledger)
    assert v.balance_cents == 2000 - 500 - 100  # the repayment is not taken twice
    assert v.debt_cents == 1900
    # Corrected back to the first amount: a new revision, still one day.
    await ledger.post_consumption([ConsumptionInput(EAN, date(2026, 10, 1), 350)])
    assert (await view(ledger)).balance_cents == 2000 - 350 - 100
    books = await ledger.trial_balance()
    assert books["energy_sold"] == 350


async def test_a_later_line_for_the_same_day_wins_and_the_file_replays_as_a_no_op(ledger):
    await activate(ledger)
    rows = [ConsumptionInput(EAN, date(2026, 10, 1), 350), ConsumptionInput(EAN, date(2026, 10, 1), 400)]
    report = await ledger.post_consumption(rows)
    assert (report.new, report.corrected, report.superseded) == (1, 0, 1)
    assert (await view(ledger)).balance_cents == 2000 - 400 - 100
    report = await ledger.post_consumption(rows)
    assert (report.new, report.corrected, report.unchanged) == (0, 0, 1)
    assert (await view(ledger)).balance_cents == 2000 - 400 - 100


async def test_consumption_rows_that_break_a_rule_are_reported_and_the_rest_posted(ledger, clock):
    await activate(ledger)
    report = await ledger.post_consumption([
        ConsumptionInput(EAN, date(2026, 10, 1), 300, line=2),
        ConsumptionInput(make_ean(99), date(2026, 10, 1), 300, line=3),
        ConsumptionInput(EAN, clock.now().date() + timedelta(days=1), 300, line=4),
        ConsumptionInput(EAN, date(2026, 9, 1), 300, line=5),
        ConsumptionInput(EAN, date(2026, 10, 2), -5, line=6),
    ])
    assert report.new == 1
    assert [(e.line, e.field) for e in report.errors] == [(3, "ean"), (4, "day"), (5, "day"),
                                                          (6, "amount")]


async def test_the_last_13_digits_find_the_account(ledger):
    await activate(ledger)
    assert (await view(ledger, EAN[-13:])).ean == EAN
    with pytest.raises(UnknownAccount):
        await view(ledger, make_ean(2)[-13:])


async def test_top_ups_at_a_terminal_take_5_to_250_euros(ledger):
    await activate(ledger)
    for cents in (499, 25001, 0, -500):
        with pytest.raises(InvalidInput, match="5,00 € and 250,00 €"):
            await ledger.top_up(EAN, cents, "terminal", f"T{cents}")
    result = await ledger.top_up(EAN, 500, "terminal", "T1")
    assert result.balance_cents == 2500
    assert (await ledger.top_up(EAN, 25000, "online", "O1")).balance_cents == 27500
    last = (await view(ledger)).last_topup
    assert (last.amount_cents, last.channel) == (25000, "online")


async def test_an_agent_adjusts_any_amount_with_a_reason(ledger):
    await activate(ledger)
    with pytest.raises(InvalidInput, match="reason"):
        await ledger.top_up(EAN, 120, "agent", "A1")
    assert (await ledger.top_up(EAN, -120, "agent", "A1", reason="meter read twice")).balance_cents == 1880
    assert (await ledger.top_up(EAN, 3, "agent", "A2", reason="postal transfer")).balance_cents == 1883


async def test_a_top_up_reference_is_its_idempotency_key(ledger):
    await activate(ledger)
    first = await ledger.top_up(EAN, 2000, "terminal", "ATOS-1", actor="terminal:42")
    again = await ledger.top_up(EAN, 2000, "terminal", "ATOS-1", actor="terminal:42")
    assert (first.replayed, again.replayed) == (False, True)
    trail = await ledger.audit_trail()
    assert [(a["actor"], a["action"], a["ean"], a["outcome"]) for a in trail[:2]] == [
        ("terminal:42", "topup", EAN, "replayed"), ("terminal:42", "topup", EAN, "recorded")]
    assert (await view(ledger)).balance_cents == 4000
    assert (await event_names(ledger)).count("TopUpReceived") == 1


async def test_a_reference_reused_for_another_payment_is_refused_and_changes_nothing(ledger):
    await activate(ledger)
    await activate(ledger, make_ean(2))
    await ledger.top_up(EAN, 2000, "terminal", "ATOS-1")
    with pytest.raises(ReferenceConflict):
        await ledger.top_up(EAN, 2500, "terminal", "ATOS-1")
    with pytest.raises(ReferenceConflict):
        await ledger.top_up(make_ean(2), 2000, "terminal", "ATOS-1")
    assert (await view(ledger)).balance_cents == 4000
    assert (await view(ledger, make_ean(2))).balance_cents == 2000


async def test_a_refused_top_up_is_audited_with_why(ledger):
    await activate(ledger)
    await ledger.top_up(EAN, 2000, "terminal", "ATOS-1", actor="terminal:42")
    attempts = [(EAN, 2500, "ATOS-1", ReferenceConflict), (EAN, 300, "ATOS-2", InvalidInput),
                (make_ean(9), 2000, "ATOS-3", UnknownAccount), ("12", 2000, "ATOS-4", InvalidInput)]
    for ean, amount, reference, refusal in attempts:
        with pytest.raises(refusal):
            await ledger.top_up(ean, amount, "terminal", reference, actor="terminal:42")
    trail = await ledger.audit_trail()
    assert [(a["actor"], a["ean"], a["outcome"], a["detail"]) for a in trail[3::-1]] == [
        ("terminal:42", EAN, "conflict", "ATOS-1"), ("terminal:42", EAN, "refused:amount", "ATOS-2"),
        ("terminal:42", make_ean(9), "unknown", "ATOS-3"), ("terminal:42", None, "refused:ean", "ATOS-4")]
    assert (await view(ledger)).balance_cents == 4000


async def test_a_payment_plan_is_repaid_each_posted_day_beside_the_start_credit(ledger):
    await activate(ledger)
    assert await ledger.add_payment_plan(EAN, 1500, 500, "prior-2020")
    assert not await ledger.add_payment_plan(EAN, 1500, 500, "prior-2020")
    with pytest.raises(ReferenceConflict):
        await ledger.add_payment_plan(EAN, 1500, 300, "prior-2020")
    v = await view(ledger)
    assert (v.debt_cents, v.debt_daily_cents, v.balance_cents) == (3500, 600, 2000)
    await post_days(ledger, [0, 0, 0, 0])
    v = await view(ledger)
    assert (v.debt_cents, v.debt_daily_cents) == (3500 - 1500 - 400, 100)
    assert v.balance_cents == 2000 - 1500 - 400


async def test_minus_15_92_on_a_saturday_waits_for_monday_eight(ledger, clock):
    await activate(ledger)
    clock.current = datetime(2026, 11, 21, 12, 0, tzinfo=BRUSSELS)  # Saturday
    await post_days(ledger, [3492], first=date(2026, 11, 20))
    v = await view(ledger)
    assert (v.balance_cents, v.state) == (-1592, State.DISCONNECTION_PENDING)
    assert v.disconnect_at == datetime(2026, 11, 23, 8, 0, tzinfo=BRUSSELS)
    # What avoids the cut: back above −15 € takes 0,93 €, and a terminal takes 5 € at least.
    # (Once cut, 16,42 € would be needed, to reach 0,50 €.)
    assert v.minimum_topup_cents == 500
    clock.current = datetime(2026, 11, 23, 7, 59, tzinfo=BRUSSELS)
    assert await ledger.tick() == 0
    clock.current = datetime(2026, 11, 23, 8, 0, tzinfo=BRUSSELS)
    assert await ledger.tick() == 1
    assert await ledger.tick() == 0
    assert (await view(ledger)).state is State.DISCONNECTED
    names = await event_names(ledger)
    assert names[-2:] == ["DisconnectionPending", "Disconnected"]
    _, disconnected = (await ledger.events_after(0))[-1]
    assert disconnected.at == datetime(2026, 11, 23, 8, 0, tzinfo=BRUSSELS)


async def test_minus_16_20_on_a_tuesday_at_ten_is_disconnected_until_0_50(ledger):
    await activate(ledger)
    await post_days(ledger, [3520], first=date(2026, 11, 23))
    v = await view(ledger)
    assert (v.balance_cents, v.state, v.minimum_topup_cents) == (-1620, State.DISCONNECTED, 1670)
    await ledger.top_up(EAN, 1000, "cpas", "CPAS-1")   # −6,20 €: still disconnected
    assert (await view(ledger)).state is State.DISCONNECTED
    await ledger.top_up(EAN, 670, "terminal", "T-2")   # 0,50 €
    v = await view(ledger)
    assert (v.balance_cents, v.state) == (50, State.LOW)
    events = [event for _, event in await ledger.events_after(0)][-2:]
    assert [(e.name, e.outcome, e.minimum_topup_cents) for e in events] == [
        ("TopUpReceived", "still_off", 670), ("TopUpReceived", "reconnection", 0)]


async def test_the_balance_view_in_json(ledger):
    await activate(ledger)
    await post_days(ledger, [1200, 2000], first=date(2026, 11, 22))
    data = (await view(ledger)).to_json()
    assert data["ean"] == EAN
    assert data["balance_cents"] == -1400 and data["state"] == "emergency"
    assert data["emergency_credit_left_cents"] == 100
    assert data["usable_before_disconnection_cents"] == 100
    assert data["minimum_topup_cents"] is None
    assert data["as_of"] == "2026-11-24T10:00:00+01:00"
    assert data["last_topup"] is None
    assert data["estimated_days_left"] == 0
    assert set(data) >= {"energy", "language", "threshold_cents", "debt_cents", "debt_daily_cents"}


async def test_every_look_at_a_balance_is_audited(ledger):
    await activate(ledger)
    await ledger.balance_view(EAN[-13:], actor="cli:alice")
    with pytest.raises(UnknownAccount):
        await ledger.balance_view(make_ean(7), actor="cli:bob")
    with pytest.raises(InvalidInput):
        await ledger.balance_view("12", actor="cli:carol")
    trail = await ledger.audit_trail()
    assert [(a["actor"], a["ean"], a["outcome"]) for a in trail] == [
        ("cli:carol", None, "invalid"), ("cli:bob", make_ean(7), "unknown"), ("cli:alice", EAN, "found")]


async def test_importing_the_same_accounts_again_changes_nothing_and_details_update(ledger):
    await activate(ledger, mobile="+32470000001")
    report = await ledger.import_accounts([AccountInput(EAN, "electricity", "fr",
                                                        mobile="+32470000001",
                                                        activated_at=ACTIVATED)])
    assert (report.new, report.unchanged) == (0, 1)
    report = await ledger.import_accounts([AccountInput(EAN, "electricity", "nl",
                                                        mobile="+32470000002")])
    assert report.updated == 1
    assert (await view(ledger)).language == "nl"
    assert (await view(ledger)).balance_cents == 2000  # not activated twice
    report = await ledger.import_accounts([AccountInput(EAN, "gas", "nl")])
    assert report.errors[0].field == "energy"


async def test_the_schema_is_created_once_and_reopened(database_url, clock):
    first = await Ledger.open(database_url, clock=clock)
    await activate(first)
    assert await first.upgrade() == 0
    await first.close()
    second = await Ledger.open(database_url, clock=clock)
    assert (await view(second)).balance_cents == 2000
    await second.close()


async def test_two_eans_with_the_same_last_13_digits_cannot_both_be_found(ledger):
    other = "54214" + EAN[5:]  # another network, and the same check digit
    assert validate_full(other) == other
    report = await ledger.import_accounts([AccountInput(EAN, "electricity", "fr", line=2),
                                           AccountInput(other, "gas", "fr", line=3)])
    assert report.new == 1
    assert [(e.line, e.field) for e in report.errors] == [(3, "ean")]
    report = await ledger.import_accounts([AccountInput(other, "gas", "fr", line=2)])
    assert [(e.line, e.field) for e in report.errors] == [(2, "ean")]


async def test_a_gas_meter_with_a_power_limiter_is_refused(ledger):
    report = await ledger.import_accounts([AccountInput(
        ean=EAN, energy="gas", language="fr", activated_at=ACTIVATED, power_limiter=True)])
    assert [(e.field, e.message) for e in report.errors] == [
        ("power_limiter", "only an electricity meter has a power limiter")]
    assert report.new == 0


@pytest.mark.sqlite_only
async def test_ready_when_the_database_answers_with_this_codes_schema(ledger, tmp_path):
    assert await ledger.ready() == (True, "ok")
    import sqlite3
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    ready, why = await ledger.ready()
    assert not ready and "schema 1" in why


async def test_the_holiday_calendar_is_loaded_when_the_ledger_opens(tmp_path, monkeypatch):
    """Its first load takes ~100 ms: done at start, in a thread, not in the first request that
    asks whether a cut may happen. The year is Brussels': New Year's night in UTC is already
    the next year there."""
    from ledger import SettableClock, calendar
    monkeypatch.setattr(calendar, "_cache", {})
    new_years_night = datetime(2027, 1, 1, 0, 30, tzinfo=BRUSSELS)  # 23:30 UTC on 31 December
    ledger = await Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}",
                               clock=SettableClock(new_years_night))
    try:
        assert set(calendar._cache) == {("BE", 2027), ("BE", 2028)}
    finally:
        await ledger.close()


async def test_an_accounts_file_that_leaves_the_alert_empty_keeps_what_the_customer_set(ledger):
    """Menu 5 of the line sets the threshold and the channels; the operator's next accounts
    file, silent on them, keeps them — one that gives them wins, and channels the contacts no
    longer allow fall back to what they allow."""
    row = AccountInput(EAN, "electricity", "fr", mobile="+32470000001",
                       email="client@example.be", activated_at=ACTIVATED)
    await ledger.import_accounts([row])
    assert await ledger.set_alerts(EAN, actor="ivr:test", language="fr", request="call:CA1",
                                   threshold_cents=1500, notify="sms") == "changed"
    again = await ledger.import_accounts([row])
    assert again.unchanged == 1
    assert (await ledger.alert_preferences(EAN, actor="test", detail="test"))[:2] == (1500, "sms")
    await ledger.import_accounts([AccountInput(EAN, "electricity", "fr", email="client@example.be",
                                               threshold_cents=1000)])  # no mobile any more
    assert (await ledger.alert_preferences(EAN, actor="test", detail="test"))[:2] == (1000, "email")
