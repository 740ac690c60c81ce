"""A CPAS under its mandate: one resident's file, the office top-up; another CPAS's resident is
answered as an unknown one, and the attempt is audited."""

from datetime import date, timedelta

import pytest

from ledger import AccountInput, ConsumptionInput, InvalidInput, UnknownAccount
from tests.conftest import make_ean
from tests.integration.test_ledger import ACTIVATED

OURS, THEIRS = make_ean(1), make_ean(2)
KINDS = ["consumption", "repayment", "start_credit"]


@pytest.fixture
async def desk(ledger, clock):
    await ledger.import_accounts([
        AccountInput(OURS, "electricity", "fr", name="Résidente Fictive", cpas="CPAS-NAMUR",
                     mobile="+32470000001", activated_at=ACTIVATED),
        AccountInput(THEIRS, "gas", "nl", cpas="OCMW-GENT", activated_at=ACTIVATED)])
    await ledger.post_consumption([ConsumptionInput(OURS, date(2026, 10, 1) + timedelta(days=i),
                                                    250) for i in range(5)])
    return ledger.cpas


async def test_a_residents_file(desk, ledger):
    file = await desk.resident("CPAS-NAMUR", OURS[5:], actor="staff:a.dupont")
    assert file.name == "Résidente Fictive"
    assert file.view.balance_cents == 2000 - 5 * 250 - 5 * 100
    assert [(d.kind, d.outstanding_cents, d.daily_cents) for d in file.debts] == [
        ("start_credit", 1500, 100)]
    by_day = {d.day: d for d in file.history}
    # From the activation day (1 October) to today (24 November): nothing before it to show.
    assert len(file.history) == 55
    assert file.history[0].day == date(2026, 10, 1) and file.history[-1].day == date(2026, 11, 24)
    assert by_day[date(2026, 10, 3)].consumption_cents == 250
    assert date(2026, 9, 30) not in by_day
    assert file.history[-1].balance_cents == file.view.balance_cents
    assert file.postings[0].at >= file.postings[-1].at  # newest first
    assert sorted({p.kind for p in file.postings}) == KINDS
    trail = await ledger.audit_trail()
    assert trail[0]["actor"] == "staff:a.dupont" and trail[0]["ean"] == OURS


async def test_another_cpass_resident_is_answered_as_unknown_and_the_attempt_audited(
        desk, ledger):
    with pytest.raises(UnknownAccount):
        await desk.resident("CPAS-NAMUR", THEIRS, actor="staff:a.dupont")
    with pytest.raises(UnknownAccount):
        await desk.resident("CPAS-NAMUR", make_ean(9), actor="staff:a.dupont")
    with pytest.raises(UnknownAccount):
        await desk.top_up("CPAS-NAMUR", THEIRS, 2000, "R-1", actor="staff:a.dupont")
    outcomes = [(r["action"], r["outcome"], r["ean"]) for r in await ledger.audit_trail()][:3]
    assert outcomes == [("cpas-topup", "foreign", THEIRS), ("cpas-resident", "unknown", make_ean(9)),
                        ("cpas-resident", "foreign", THEIRS)]
    assert (await ledger.balance_view(THEIRS, actor="test")).balance_cents == 2000  # untouched


async def test_an_office_top_up_shows_at_once_and_its_events_follow(desk, ledger):
    result = await desk.top_up("CPAS-NAMUR", OURS, 2500, "RECU-0042", actor="staff:a.dupont")
    file = await desk.resident("CPAS-NAMUR", OURS, actor="staff:a.dupont")
    assert file.view.balance_cents == result.balance_cents == 250 + 2500
    assert file.view.last_topup.channel == "cpas"
    assert file.postings[0].amount_cents == 2500 and file.postings[0].reference.endswith("RECU-0042")
    assert "TopUpReceived" in [e.name for _, e in await ledger.events_after(0)]


async def test_two_offices_may_both_have_a_receipt_0001(desk, ledger):
    await ledger.import_accounts([AccountInput(make_ean(3), "gas", "fr", cpas="CPAS-LIEGE",
                                               activated_at=ACTIVATED)])
    first = await desk.top_up("CPAS-NAMUR", OURS, 1000, "0001", actor="staff:a")
    second = await desk.top_up("CPAS-LIEGE", make_ean(3), 1000, "0001", actor="staff:b")
    assert not first.replayed and not second.replayed
    file = await desk.resident("CPAS-NAMUR", OURS, actor="staff:a")
    assert file.postings[0].receipt == "0001"
    with pytest.raises(InvalidInput, match="not the meter"):
        await desk.top_up("CPAS-NAMUR", OURS, 1000, OURS[5:], actor="staff:a")


async def test_a_resident_activated_ten_days_ago_has_ten_days_and_today(desk, ledger, clock):
    activated = clock.now() - timedelta(days=10)  # Saturday 14 November, 10:00
    await ledger.import_accounts([AccountInput(make_ean(5), "gas", "fr", cpas="CPAS-NAMUR",
                                               activated_at=activated)])
    await ledger.post_consumption([ConsumptionInput(make_ean(5), date(2026, 11, 16), 400)])
    file = await desk.resident("CPAS-NAMUR", make_ean(5), actor="staff:a.dupont")
    assert [d.day for d in file.history] == [date(2026, 11, 14) + timedelta(days=i)
                                             for i in range(11)]
    assert file.history[0].balance_cents == 2000  # the start credit, on its own day
    assert [d.consumption_cents for d in file.history if d.consumption_cents] == [400]
    assert file.history[-1].balance_cents == file.view.balance_cents == 2000 - 400 - 100


async def test_a_resident_activated_long_ago_has_the_last_60_days(desk, ledger, clock):
    await ledger.import_accounts([AccountInput(
        make_ean(6), "gas", "fr", cpas="CPAS-NAMUR",
        activated_at=clock.now() - timedelta(days=200))])
    file = await desk.resident("CPAS-NAMUR", make_ean(6), actor="staff:a.dupont")
    assert len(file.history) == 60 and file.history[-1].day == date(2026, 11, 24)


async def test_a_refused_office_top_up_says_why_as_a_code_with_its_values(desk):
    with pytest.raises(InvalidInput) as refused:
        await desk.top_up("CPAS-NAMUR", OURS, 499, "RECU-1", actor="staff:a.dupont")
    assert (refused.value.code, refused.value.params) == (
        "amount.out_of_range", {"low_cents": 500, "high_cents": 25000})
    with pytest.raises(InvalidInput) as refused:
        await desk.top_up("CPAS-NAMUR", OURS, 1000, "  ", actor="staff:a.dupont")
    assert refused.value.code == "reference.missing"
