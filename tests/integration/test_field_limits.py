"""The same limits on SQLite and PostgreSQL: every text field's limit stated once (ledger.limits),
refused with its name and the limit before the database sees it; amounts in ASCII digits only,
within configurable bounds, and every balance the ledger holds can be said."""

from datetime import datetime
from pathlib import Path

import pytest

from ledger import BRUSSELS, AccountInput, ConsumptionInput, InvalidInput, Ledger, NonDisconnectionPeriod
from ledger import schema
from ledger.errors import REFUSALS
from ledger.limits import LARGEST_CENTS, TEXT_LIMITS, check_text
from ledger.money import parse_cents
from portal.access import LABEL_LENGTH, USERNAME_LENGTH
from tests.conftest import make_ean

EAN = make_ean(1)
ACTIVATED = datetime(2026, 10, 1, 9, 0, tzinfo=BRUSSELS)
LOCALES = Path(__file__).resolve().parents[2] / "locales"


async def activate(ledger: Ledger, ean: str = EAN, **details) -> None:
    report = await ledger.import_accounts([AccountInput(ean=ean, energy="electricity",
                                                        language="fr", activated_at=ACTIVATED,
                                                        **details)])
    assert report.errors == []


def test_the_limits_are_the_columns_widths():
    assert TEXT_LIMITS["cpas"] == schema.accounts.c.cpas.type.length
    assert TEXT_LIMITS["mobile"] == schema.accounts.c.mobile.type.length
    assert TEXT_LIMITS["quantity"] == schema.consumption_days.c.quantity.type.length
    assert TEXT_LIMITS["unit"] == schema.consumption_days.c.unit.type.length
    longest_key = f"topup:{'x' * 12}@{'i' * TEXT_LIMITS['issuer']}:{'r' * TEXT_LIMITS['reference']}"
    assert len(longest_key) <= schema.postings.c.reference.type.length
    longest_book = f"debt:plan:{2**31 - 1}:{'r' * TEXT_LIMITS['reference']}"
    assert len(longest_book) <= schema.debts.c.book.type.length
    assert {"text.too_long", "text.nul"} <= set(REFUSALS)


def test_a_text_too_long_or_with_a_nul_names_the_field_and_the_limit():
    with pytest.raises(InvalidInput) as refused:
        check_text("cpas", "C" * 40)
    assert (refused.value.field, refused.value.code) == ("cpas", "text.too_long")
    assert refused.value.params == {"max_length": 32, "length": 40}
    assert "32" in refused.value.message
    with pytest.raises(InvalidInput) as refused:
        check_text("name", "Camille\x00")
    assert (refused.value.field, refused.value.code) == ("name", "text.nul")


@pytest.mark.parametrize("text", ["٥٠", "１２,００", "1٢", "12,٠٠", "²", "5\u200b0"])
def test_an_amount_is_ascii_digits_only(text):
    with pytest.raises(InvalidInput) as refused:
        parse_cents(text)
    assert refused.value.code == "amount.not_a_number"


async def test_a_100_character_reference_is_refused_not_a_server_error(ledger):
    await activate(ledger)
    before = await ledger.trial_balance()
    for reference in ("R" * 100, "R" * (TEXT_LIMITS["reference"] + 1)):
        with pytest.raises(InvalidInput) as refused:
            await ledger.top_up(EAN, 2000, "online", reference, issuer="client-12345678")
        assert (refused.value.field, refused.value.code) == ("reference", "text.too_long")
    with pytest.raises(InvalidInput) as refused:
        await ledger.top_up(EAN, 2000, "online", "R-1\x00")
    assert refused.value.code == "text.nul"
    assert await ledger.trial_balance() == before
    result = await ledger.top_up(EAN, 2000, "terminal", "R" * TEXT_LIMITS["reference"],
                                 issuer="client-" + "9" * (TEXT_LIMITS["issuer"] - 7))
    assert not result.replayed
    with pytest.raises(InvalidInput) as refused:
        await ledger.add_payment_plan(EAN, 1500, 500, "P" * 100)
    assert refused.value.code == "text.too_long"


async def test_an_accounts_import_refuses_the_bad_rows_and_posts_the_others(ledger):
    rows = [AccountInput(ean=make_ean(1), energy="electricity", language="fr", cpas="C" * 40, line=2),
            AccountInput(ean=make_ean(2), energy="electricity", language="fr", cpas="CPAS-NAMUR",
                         line=3),
            AccountInput(ean=make_ean(3), energy="gas", language="nl", name="Jan\x00", line=4),
            AccountInput(ean=make_ean(4), energy="gas", language="nl", name="N" * 201, line=5),
            AccountInput(ean=make_ean(5), energy="gas", language="de",
                         email="a" * 250 + "@example.org", line=6)]
    report = await ledger.import_accounts(rows)
    assert [(e.line, e.field) for e in report.errors] == [(2, "cpas"), (4, "name"), (5, "name"),
                                                          (6, "email")]
    assert "32" in report.errors[0].message
    assert report.new == 1
    assert await ledger.count_accounts() == 1


async def test_consumption_texts_and_a_days_bound(ledger):
    await activate(ledger)
    day = datetime(2026, 10, 2).date()
    report = await ledger.post_consumption([
        ConsumptionInput(EAN, day, 500, quantity="1" * 21, line=2),
        ConsumptionInput(EAN, day, 500, unit="kWh-kWh-kWh", line=3),
        ConsumptionInput(EAN, day, 1000_01, line=4),
    ])
    assert [(e.line, e.field) for e in report.errors] == [(2, "quantity"), (3, "unit"), (4, "amount")]
    assert "DAY_CONSUMPTION_MAX" in report.errors[2].message
    assert await ledger.count_consumption_days() == 0


async def test_an_agents_adjustment_has_a_bound(ledger):
    await activate(ledger)
    with pytest.raises(InvalidInput) as refused:
        await ledger.top_up(EAN, 1_000_000_00, "agent", "ADJ-1", "a typing error")
    assert refused.value.code == "amount.out_of_range"
    assert refused.value.params == {"low_cents": -10_000_00, "high_cents": 10_000_00}
    await ledger.top_up(EAN, -10_000_00, "agent", "ADJ-2", "the bound itself")


async def test_every_balance_the_ledger_holds_can_be_said(database_url, clock):
    from ivr.spoken import amount_words, load_vocabularies

    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod(),
                               adjustment_max_cents=LARGEST_CENTS)
    try:
        await activate(ledger)
        result = await ledger.top_up(EAN, 1_000_000_00, "agent", "ADJ-1", "a big one")
        assert result.balance_cents == 1_000_020_00
        with pytest.raises(InvalidInput):  # beyond what an Integer column holds
            await ledger.top_up(EAN, LARGEST_CENTS, "agent", "ADJ-2", "too big")
        view = await ledger.balance_view(EAN, actor="test")
    finally:
        await ledger.close()
    words = load_vocabularies(LOCALES)
    assert amount_words(view.balance_cents, words["fr"]) == "un million vingt euros"
    assert amount_words(1_000_000_00, words["fr"]) == "un million d'euros"
    assert amount_words(-2_000_000_00, words["nl"]).endswith("twee miljoen euro")
    assert "eine Million" in amount_words(1_000_020_00, words["de"])
    for cents in (LARGEST_CENTS, -LARGEST_CENTS):
        for vocabulary in words.values():
            assert amount_words(cents, vocabulary)
    # What the line says, and the resident page shows as its meaning (a 500 before).
    from ivr.prompts import load_prompts
    from ivr.script import balance_script

    prompts = load_prompts(LOCALES)
    for language in ("fr", "nl", "de"):
        said = " ".join(balance_script(view, words, prompts, language=language))
        assert {"fr": "un million vingt euros", "nl": "één miljoen twintig euro",
                "de": "eine Million zwanzig Euro"}[language] in said, said


def test_the_bounds_are_settings_with_defaults():
    from saldo.settings import Settings, SettingsError

    defaults = Settings.from_env({})
    assert (defaults.day_consumption_max_cents, defaults.adjustment_max_cents) == (1000_00, 10_000_00)
    chosen = Settings.from_env({"DAY_CONSUMPTION_MAX": "250,00", "ADJUSTMENT_MAX": "2000"})
    assert (chosen.day_consumption_max_cents, chosen.adjustment_max_cents) == (250_00, 2000_00)
    for value in ("٥٠", "0", "99999999"):
        with pytest.raises(SettingsError, match="ADJUSTMENT_MAX"):
            Settings.from_env({"ADJUSTMENT_MAX": value})


async def test_a_cpas_contact_has_the_same_limits(ledger):
    with pytest.raises(InvalidInput) as refused:
        await ledger.outbox.register_cpas_contact("C" * 40, mobile=None, email="cpas@example.org",
                                                  language="fr")
    assert (refused.value.field, refused.value.code) == ("cpas", "text.too_long")
    with pytest.raises(InvalidInput) as refused:
        await ledger.outbox.register_cpas_contact("CPAS-NAMUR", mobile=None,
                                                  email="cpas\x00@example.org", language="fr")
    assert refused.value.code == "text.nul"


async def test_staff_and_clients_have_the_same_limits(access):
    """Usernames, CPAS codes, passwords and client labels: refused by name before the database
    sees them (a 40-character CPAS code was an "internal error" on PostgreSQL), nothing added."""
    password = "correct horse battery"
    longest_name = "a" * USERNAME_LENGTH
    for username, cpas, secret, field in (
            (longest_name + "a", "CPAS-NAMUR", password, "username"),
            ("a.dupont", "C" * (TEXT_LIMITS["cpas"] + 1), password, "cpas"),
            ("a.dupont", "CPAS\x00NAMUR", password, "cpas"),
            ("a.dupont", "CPAS-NAMUR", "p" * 1025, "password"),
            ("a.dupont", "CPAS-NAMUR", password + "\x00", "password")):
        with pytest.raises(InvalidInput) as refused:
            await access.add_staff(username, cpas, secret)
        assert refused.value.field == field, (username, cpas)
    for label, cpas, field in (("L" * (LABEL_LENGTH + 1), "CPAS-NAMUR", "label"),
                               ("caisse\x00", "CPAS-NAMUR", "label"),
                               ("caisse", "C" * (TEXT_LIMITS["cpas"] + 1), "cpas")):
        with pytest.raises(InvalidInput) as refused:
            await access.add_client(label, cpas=cpas)
        assert refused.value.field == field
    await access.add_staff("a.dupont", "CPAS-NAMUR", password)  # not taken: none added
    # At the limits, accepted.
    staff = await access.add_staff(longest_name, "C" * TEXT_LIMITS["cpas"], "p" * 1024)
    assert staff.username == longest_name
    client, _ = await access.add_client("L" * LABEL_LENGTH,
                                        cpas="C" * TEXT_LIMITS["cpas"])
    assert client.label == "L" * LABEL_LENGTH


async def test_a_cpas_code_cannot_hold_the_keys_separator(ledger, access):
    """Top-up keys read "topup:channel@issuer:reference": were "A" with receipt "B:C" and "A:B"
    with receipt "C" both allowed, two offices' receipts would make one key (one posted, the
    other taken for its replay)."""
    report = await ledger.import_accounts([AccountInput(
        ean=EAN, energy="electricity", language="fr", activated_at=ACTIVATED, cpas="CPAS:NAMUR")])
    assert [(error.field, error.message) for error in report.errors] == [
        ("cpas", "may not contain ':'")]
    with pytest.raises(InvalidInput) as refused:
        await access.add_client("caisse", cpas="CPAS:NAMUR")
    assert refused.value.field == "cpas"


async def test_a_day_the_balance_cannot_hold_is_refused_and_posts_nothing(database_url, clock):
    """Refused before anything is posted: the balance stays the sum of its postings."""
    from datetime import date

    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod(),
                               adjustment_max_cents=LARGEST_CENTS)
    try:
        await activate(ledger)  # 20,00 € and a start-credit debt repaid 1 € a day
        await ledger.top_up(EAN, -(LARGEST_CENTS - 30_00), "agent", "ADJ-1", "near the floor")
        before = await ledger.trial_balance()
        report = await ledger.post_consumption([ConsumptionInput(EAN, date(2026, 10, 2), 50_00,
                                                                 line=2)])
        assert [(e.line, e.field) for e in report.errors] == [(2, "amount")]
        assert report.new == 0
        assert await ledger.trial_balance() == before
        cached = await ledger.cached_balances()
        assert {book: cents for book, cents in before.items() if book in cached} == {
            book: cents for book, cents in cached.items() if book in before}
        assert await ledger.count_consumption_days() == 0
    finally:
        await ledger.close()
