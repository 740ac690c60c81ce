"""CPAS staff and API clients: argon2 passwords, lockout, sessions that end, tokens kept hashed."""

import asyncio
import sqlite3
from datetime import timedelta

import pytest

from ledger import InvalidInput
from portal.access import Access, LoginRefused

PASSWORD = "correct horse battery"


async def test_a_staff_member_logs_in_and_out(access):
    added = await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD, "fr")
    staff, token = await access.log_in("A.Dupont", PASSWORD)
    assert staff == added and staff.cpas == "CPAS-NAMUR"
    assert await access.session(token) == staff
    await access.log_out(token)
    assert await access.session(token) is None


@pytest.mark.sqlite_only
async def test_secrets_are_stored_only_as_hashes(ledger, access, tmp_path):
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    _, session = await access.log_in("a.dupont", PASSWORD)
    _, bearer = await access.add_client("caisse", cpas="CPAS-NAMUR")
    dump = "\n".join(sqlite3.connect(tmp_path / "ledger.db").iterdump())
    for secret in (PASSWORD, session, bearer):
        assert secret not in dump
    assert "$argon2id$" in dump


@pytest.mark.parametrize("username, password, field", [
    ("A", PASSWORD, "username"), ("a b", PASSWORD, "username"), ("a.dupont", "short", "password")])
async def test_bad_staff_details_are_refused(access, username, password, field):
    with pytest.raises(InvalidInput) as refused:
        await access.add_staff(username, "CPAS-NAMUR", password)
    assert refused.value.field == field


async def test_five_wrong_passwords_lock_the_account_for_a_while(access, clock):
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    for _ in range(4):
        with pytest.raises(LoginRefused, match="wrong"):
            await access.log_in("a.dupont", "not the password")
    with pytest.raises(LoginRefused, match="locked"):
        await access.log_in("a.dupont", "not the password")
    with pytest.raises(LoginRefused, match="locked"):
        await access.log_in("a.dupont", PASSWORD)  # even the right one, for now
    clock.advance(timedelta(minutes=15, seconds=1))
    staff, _ = await access.log_in("a.dupont", PASSWORD)
    assert staff.username == "a.dupont"


async def test_an_unknown_name_is_refused_and_said_so_only_to_the_audit(access):
    with pytest.raises(LoginRefused) as refused:
        await access.log_in("nobody", PASSWORD)
    assert refused.value.why == "unknown"


async def test_wrong_passwords_sent_all_at_once_still_lock_the_account(access):
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    attempts = await asyncio.gather(*(access.log_in("a.dupont", f"guess {i:03d} xxxx")
                                      for i in range(40)), return_exceptions=True)
    assert all(isinstance(a, LoginRefused) for a in attempts)
    assert sum(a.why == "wrong" for a in attempts) <= 4  # the fifth check locks
    with pytest.raises(LoginRefused, match="locked"):
        await access.log_in("a.dupont", PASSWORD)


async def test_the_right_password_after_four_wrong_ones_logs_in(access):
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    for _ in range(4):
        with pytest.raises(LoginRefused, match="wrong"):
            await access.log_in("a.dupont", "not the password")
    staff, _ = await access.log_in("a.dupont", PASSWORD)
    assert staff.username == "a.dupont"


async def test_a_new_log_in_ends_the_session_it_replaces(access):
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    _, first = await access.log_in("a.dupont", PASSWORD)
    _, second = await access.log_in("a.dupont", PASSWORD, replacing=first)
    assert await access.session(first) is None
    assert await access.session(second) is not None


async def test_sessions_end_when_idle_or_too_old_or_when_disabled(access, clock):
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    _, token = await access.log_in("a.dupont", PASSWORD)
    clock.advance(timedelta(minutes=29))
    assert await access.session(token) is not None  # and kept alive
    clock.advance(timedelta(minutes=31))
    assert await access.session(token) is None
    _, token = await access.log_in("a.dupont", PASSWORD)
    for _ in range(21):  # busy all day, never idle
        clock.advance(timedelta(minutes=29))
        await access.session(token)
    assert await access.session(token) is None  # ten hours at most
    _, token = await access.log_in("a.dupont", PASSWORD)
    await access.disable_staff("a.dupont")
    assert await access.session(token) is None
    with pytest.raises(LoginRefused, match="disabled"):
        await access.log_in("a.dupont", PASSWORD)


async def test_api_clients_are_a_cpas_or_a_payment_channel(access):
    cpas, cpas_token = await access.add_client("logiciel social", cpas="CPAS-NAMUR")
    channel, channel_token = await access.add_client("bornes", channel="terminal")
    assert await access.client(cpas_token) == cpas
    assert (await access.client(channel_token)).channel == "terminal"
    await access.revoke_client(channel.id)
    assert await access.client(channel_token) is None
    assert await access.client("saldo_made_up") is None
    with pytest.raises(InvalidInput):
        await access.add_client("both", cpas="CPAS-NAMUR", channel="terminal")
    with pytest.raises(InvalidInput):
        await access.add_client("agent", channel="agent")
    with pytest.raises(InvalidInput):
        await access.add_client("no code", cpas="  ")


async def test_a_cpas_lists_its_residents_only_and_the_look_is_audited(ledger):
    from ledger import AccountInput
    from tests.conftest import make_ean
    from tests.integration.test_ledger import ACTIVATED, post_days
    await ledger.import_accounts([
        AccountInput(make_ean(1), "electricity", "fr", name="Résidente Fictive", cpas="CPAS-NAMUR",
                     activated_at=ACTIVATED),
        AccountInput(make_ean(2), "gas", "fr", cpas="CPAS-LIEGE", activated_at=ACTIVATED),
        AccountInput(make_ean(3), "gas", "nl", name="Tweede Bewoner", cpas="CPAS-NAMUR",
                     activated_at=ACTIVATED)])
    await post_days(ledger, [300] * 9, make_ean(3))
    residents = (await ledger.residents("CPAS-NAMUR", actor="staff:a.dupont")).residents
    assert sorted((r.name, r.view.ean) for r in residents) == [
        ("Résidente Fictive", make_ean(1)), ("Tweede Bewoner", make_ean(3))]
    second = next(r.view for r in residents if r.view.ean == make_ean(3))
    alone = await ledger.balance_view(make_ean(3), actor="test")
    assert second == alone  # the same view, days left from the same last seven days
    listed = [r for r in await ledger.audit_trail() if r["action"] == "cpas-residents"]
    assert sorted((r["actor"], r["ean"], r["outcome"], r["detail"]) for r in listed) == [
        ("staff:a.dupont", make_ean(1), "listed", "CPAS-NAMUR"),
        ("staff:a.dupont", make_ean(3), "listed", "CPAS-NAMUR")]


async def test_log_ins_are_throttled_per_client_address_on_every_instance(ledger, access, clock,
                                                                            database_url):
    """One address trying many names meets a limit of its own, kept in the database: another
    instance of the server (a second Ledger on the same database) counts the same attempts."""
    from ledger import Ledger, NonDisconnectionPeriod
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    other = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    other_access = await Access.open(other.store)
    try:
        for door in (access, other_access):
            door.max_failures_per_client = 4
        for number, door in enumerate([access, other_access] * 2):
            with pytest.raises(LoginRefused, match="unknown"):  # a new name each time
                await door.log_in(f"nobody{number}", PASSWORD, client="addr-1")
        for door in (access, other_access):
            with pytest.raises(LoginRefused, match="throttled"):  # even the right password
                await door.log_in("a.dupont", PASSWORD, client="addr-1")
        await other_access.log_in("a.dupont", PASSWORD, client="addr-2")  # another address
        clock.advance(timedelta(minutes=16))
        await access.log_in("a.dupont", PASSWORD, client="addr-1")  # the window is over
    finally:
        await other.close()


async def test_a_session_ends_its_attempt_so_an_office_behind_one_address_logs_in(ledger, access):
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    access.max_failures_per_client = 2
    for _ in range(5):
        await access.log_in("a.dupont", PASSWORD, client="office")
    with pytest.raises(LoginRefused, match="wrong"):
        await access.log_in("a.dupont", "wrong password!", client="office")
    await access.log_in("a.dupont", PASSWORD, client="office")
    trail = [r for r in await ledger.audit_trail(100) if r["action"] == "log-in-attempt"]
    assert {r["actor"] for r in trail} == {"web:client:office"} and len(trail) == 13


async def test_its_tables_live_beside_the_ledgers_made_once_by_whoever_opens_it_first(
        ledger, access, database_url, clock):
    """The ledger does not know them (its migrations make none of them); each process that
    opens Access finds them there, with what was written before."""
    from sqlalchemy import inspect

    from ledger import Ledger, NonDisconnectionPeriod
    from ledger.schema import metadata
    from portal.access import tables
    assert not set(tables.tables) & set(metadata.tables)
    await access.add_staff("a.dupont", "CPAS-NAMUR", PASSWORD)
    other = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        again = await Access.open(other.store)
        staff, _ = await again.log_in("a.dupont", PASSWORD)
        assert staff.cpas == "CPAS-NAMUR"
        async with other.store.reading() as conn:
            found = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert set(tables.tables) <= found
    finally:
        await other.close()
