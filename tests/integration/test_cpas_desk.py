"""A CPAS under its mandate: one resident's file, the office top-up; another CPAS's resident is
answered as an unknown one, and the attempt is audited."""

import unicodedata
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import or_, select

from ledger import BRUSSELS, AccountInput, ConsumptionInput, InvalidInput, UnknownAccount
from ledger.clock import to_text
from ledger.cpas import POSTINGS_SHOWN
from ledger.schema import accounts, postings
from tests.conftest import TUESDAY_10, make_ean
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
    with pytest.raises(InvalidInput, match="not a meter"):
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
    # Each day posted the morning after: 140 days before the chart's 60 begin, 50 within them.
    now, first_day = clock.now(), (clock.now() - timedelta(days=200)).date()
    for i in range(190):
        if i == 100:
            await ledger.top_up(make_ean(6), 5000, "online", "EARLY-1")
        clock.set(datetime.combine(first_day + timedelta(days=i + 1), datetime.min.time(),
                                   tzinfo=BRUSSELS) + timedelta(hours=7))
        await ledger.post_consumption([ConsumptionInput(make_ean(6), first_day + timedelta(days=i),
                                                        30)])
    clock.set(now)
    await ledger.top_up(make_ean(6), 2000, "online", "LATE-1")
    file = await desk.resident("CPAS-NAMUR", make_ean(6), actor="staff:a.dupont")
    assert len(file.history) == 60 and file.history[-1].day == date(2026, 11, 24)
    assert file.history[-1].balance_cents == file.view.balance_cents
    # A day's end balance is the one before less what was posted that morning: 30 € of
    # consumption and, while the start credit is repaid, 1 € (all repaid long before the chart).
    ends = [d.balance_cents for d in file.history]
    posted = [d for d in file.history[1:] if d.day <= first_day + timedelta(days=190)]
    assert all(ends[i] - ends[i + 1] == 30 for i in range(len(posted) - 1))
    # Each day's end balance is that of every posting made by then, the 140 days before too.
    account_book = f"balance:{await _account_id(ledger, make_ean(6))}"
    async with ledger.engine.connect() as conn:
        rows = (await conn.execute(select(postings.c.at, postings.c.to_book,
                                          postings.c.amount_cents)
                                   .where(or_(postings.c.to_book == account_book,
                                              postings.c.from_book == account_book)))).all()
    for day in file.history[::10]:
        end = to_text(datetime.combine(day.day + timedelta(days=1), datetime.min.time(),
                                       tzinfo=BRUSSELS))
        assert day.balance_cents == sum(amount if to_book == account_book else -amount
                                        for at, to_book, amount in rows if at < end)
    assert len(file.postings) == POSTINGS_SHOWN
    assert file.postings[0].reference.endswith("LATE-1")  # newest first


async def _account_id(ledger, ean: str) -> int:
    async with ledger.engine.connect() as conn:
        return (await conn.execute(select(accounts.c.id).where(accounts.c.ean == ean))).scalar_one()


async def test_a_refused_office_top_up_says_why_as_a_code_with_its_values(desk):
    with pytest.raises(InvalidInput) as refused:
        await desk.top_up("CPAS-NAMUR", OURS, 499, "RECU-1", actor="staff:a.dupont")
    assert (refused.value.code, refused.value.params) == (
        "amount.out_of_range", {"low_cents": 500, "high_cents": 25000})
    with pytest.raises(InvalidInput) as refused:
        await desk.top_up("CPAS-NAMUR", OURS, 1000, "  ", actor="staff:a.dupont")
    assert refused.value.code == "reference.missing"


# ---- the residents list, paged by the database ----------------------------------------------

TUESDAY_20 = datetime(2026, 11, 24, 20, 0, tzinfo=BRUSSELS)  # inside the NDP
NAMES = ["Zoé Normale", "zoe Autre", "Émile Été", "Anna Laag", None, "", "Ödön Łukasz",
         "Marc Coupé", "Jürgen Müller", "Ana Straße", "Nguyễn Thị Ánh", "Ольга Ёлкина"]


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def arranged(residents, sort: str, query: str = ""):
    """The order the pages had when they sorted in Python (the reference for the SQL)."""
    attention = ("disconnected", "power_limited", "disconnection_pending", "emergency", "low")

    def matches(r):
        digits = query.replace(" ", "").replace(".", "")
        if not query:
            return True
        if digits.isdigit():
            return digits in r.view.ean[5:]
        return _folded(query) in _folded(r.name or "")
    chosen = [r for r in residents if matches(r)]
    if sort == "name":
        return sorted(chosen, key=lambda r: (_folded(r.name or "~"), r.view.ean))
    if sort == "balance":
        return sorted(chosen, key=lambda r: (r.view.balance_cents, r.view.ean))
    if sort == "days":
        return sorted(chosen, key=lambda r: (r.view.estimated_days_left is None,
                                             r.view.estimated_days_left or 0, r.view.ean))
    return sorted(chosen, key=lambda r: (
        attention.index(r.view.state) if r.view.state in attention else 5,
        r.view.balance_cents, _folded(r.name or "")))


@pytest.fixture
async def many(ledger, clock):
    """41 residents in every state (a cut announced in the evening, one whose announced cut is
    already due), names with accents, none or empty; another CPAS's."""
    clock.set(datetime(2026, 11, 23, 20, 0, tzinfo=BRUSSELS))  # Monday evening: in the NDP
    rows = [AccountInput(make_ean(100 + i), "electricity" if i % 3 else "gas", "fr",
                         name=NAMES[i % len(NAMES)], cpas="CPAS-NAMUR", activated_at=ACTIVATED,
                         power_limiter=i % 3 == 1) for i in range(41)]
    await ledger.import_accounts(rows + [AccountInput(make_ean(99), "gas", "fr", name="Zoé Ailleurs",
                                                      cpas="CPAS-LIEGE", activated_at=ACTIVATED)])
    days = [ConsumptionInput(make_ean(100 + i), date(2026, 11, 10) + timedelta(days=d),
                             (i * 37) % 900 if d % (1 + i % 4) else 0)
            for i in range(30) for d in range(1 + i % 9)]
    await ledger.post_consumption(days)  # some cut announced tonight (in the NDP)
    clock.set(TUESDAY_10)  # the period ended at 08:00: those cuts are due, the tick not run
    await ledger.post_consumption([ConsumptionInput(make_ean(130 + i), date(2026, 11, 23),
                                                    900 * i) for i in range(6)])
    return rows


async def everyone(ledger, sort: str, query: str = "", size: int = 7):
    """Every page, one after the other."""
    shown, offset = [], 0
    while True:
        page = await ledger.residents("CPAS-NAMUR", actor="test", sort=sort, query=query,
                                      offset=offset, limit=size)
        shown += page.residents
        offset += size
        if offset >= page.total:
            return shown, page


@pytest.mark.parametrize("sort", ["attention", "name", "balance", "days"])
async def test_the_pages_of_residents_keep_the_order_that_python_gave(ledger, many, sort):
    whole = (await ledger.residents("CPAS-NAMUR", actor="test", sort=sort, limit=200)).residents
    assert len(whole) == 41
    expected = arranged(whole, sort)
    assert [r.view.ean for r in whole] == [r.view.ean for r in expected]
    paged, page = await everyone(ledger, sort)
    assert [r.view.ean for r in paged] == [r.view.ean for r in expected]
    states = Counter(r.view.state.value for r in whole)
    assert page.counts == {state: states.get(state, 0) for state in page.counts}
    assert {"disconnected", "power_limited", "disconnection_pending", "emergency",
            "low", "normal"} <= set(page.counts) and len(states) >= 4


@pytest.mark.parametrize("query", ["zoe", "ZOÉ", "ete", "lukasz", "strasse", "nguyen thi",
                                   "ОЛЬГА", "елкина", "0000001",
                                   "0 0000 0001 1", "%", "_", "nobody"])
async def test_the_search_is_the_databases_with_case_and_accents_aside(ledger, many, query):
    whole = (await ledger.residents("CPAS-NAMUR", actor="test", limit=200)).residents
    found, page = await everyone(ledger, "attention", query)
    assert [r.view.ean for r in found] == [r.view.ean for r in arranged(whole, "attention", query)]
    assert page.total == len(found)
    assert sum(page.counts.values()) == 41  # the counts are of the whole list


async def test_a_page_is_audited_for_its_residents_only(ledger, many):
    page = await ledger.residents("CPAS-NAMUR", actor="staff:a", offset=7, limit=7)
    listed = [r for r in await ledger.audit_trail(500) if r["action"] == "cpas-residents"]
    assert sorted(r["ean"] for r in listed) == sorted(r.view.ean for r in page.residents)
    assert len(listed) == 7 and page.total == 41


@pytest.mark.parametrize("values", [{"sort": "fun"}, {"limit": 0}, {"limit": 201},
                                    {"offset": -1}])
async def test_a_bad_page_is_refused_naming_the_field(ledger, values):
    with pytest.raises(InvalidInput) as refused:
        await ledger.residents("CPAS-NAMUR", actor="test", **values)
    assert refused.value.field == next(iter(values))


async def test_a_database_from_before_name_keys_is_upgraded_and_found_by_name(database_url,
                                                                               clock):
    from sqlalchemy import text

    from ledger import Ledger

    first = await Ledger.open(database_url, clock=clock)
    await first.import_accounts([AccountInput(make_ean(7), "gas", "fr", name="Nguyễn Thị Ánh",
                                              cpas="CPAS-NAMUR", activated_at=ACTIVATED),
                                 AccountInput(make_ean(8), "gas", "fr", cpas="CPAS-NAMUR",
                                              activated_at=ACTIVATED)])
    async with first.engine.begin() as conn:  # the accounts as schema 5 had them
        for statement in BACK_TO_SCHEMA_6:
            await conn.execute(text(statement))
        await conn.execute(text("ALTER TABLE accounts DROP COLUMN name_key"))
        await conn.execute(text("UPDATE meta SET value = '5' WHERE key = 'schema_version'"))
    await first.close()
    second = await Ledger.open(database_url, clock=clock)
    try:
        page = await second.residents("CPAS-NAMUR", actor="test", query="nguyen")
        assert [r.view.ean for r in page.residents] == [make_ean(7)]
        assert await second.upgrade() == 0  # done once, at the opening
    finally:
        await second.close()


BACK_TO_SCHEMA_6 = ["DROP INDEX accounts_care", "ALTER TABLE accounts DROP COLUMN care_order",
                    "ALTER TABLE accounts DROP COLUMN going_without",
                    "ALTER TABLE cpas_contacts DROP COLUMN daily_list",
                    "ALTER TABLE accounts DROP COLUMN name_order",
                    "ALTER TABLE accounts DROP COLUMN attention"]


async def test_a_database_from_before_the_attention_index_is_upgraded_in_the_same_order(
        database_url, ledger, many, clock):
    from sqlalchemy import text

    from ledger import Ledger

    before = [r.view.ean for r in (await ledger.residents("CPAS-NAMUR", actor="test",
                                                          limit=200)).residents]
    async with ledger.engine.begin() as conn:  # the accounts as schema 6 had them
        for statement in BACK_TO_SCHEMA_6:
            await conn.execute(text(statement))
        await conn.execute(text("UPDATE meta SET value = '6' WHERE key = 'schema_version'"))
    upgraded = await Ledger.open(database_url, clock=clock)
    try:
        page = await upgraded.residents("CPAS-NAMUR", actor="test", limit=200)
        assert [r.view.ean for r in page.residents] == before
        assert [r.view.ean for r in (await everyone(upgraded, "attention"))[0]] == before
        assert await upgraded.upgrade() == 0
    finally:
        await upgraded.close()
