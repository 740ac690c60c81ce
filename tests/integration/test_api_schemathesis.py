"""schemathesis against /api/v1, from portal/openapi.json: property-based requests (valid and
odd values the document allows) with a CPAS's token and a payment channel's, to the whole app
built by saldo.app.create_app and served in this process (in a thread of its own: schemathesis
calls it synchronously). Every answer: no 5xx, a status, content type, headers and body the
document describes. Kept to a few dozen examples an operation (well under a minute)."""

import asyncio
import threading
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ledger import AccountInput, ConsumptionInput, Ledger, NonDisconnectionPeriod, SettableClock
from portal.access import Access
from portal.api import OPENAPI_FILE
from saldo.app import create_app
from tests.browser import serving
from tests.conftest import TUESDAY_10, make_ean
from tests.databases import fresh_database
from tests.integration.test_ledger import ACTIVATED
from tests.integration.test_portal import portal_settings

SCHEMA = schemathesis.openapi.from_path(OPENAPI_FILE)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = 40


async def _populate(url: str, clock) -> dict[str, str]:
    ledger = await Ledger.open(url, clock=clock, ndp=NonDisconnectionPeriod())
    try:
        await ledger.import_accounts([
            AccountInput(make_ean(n), "electricity" if n % 2 else "gas", "fr",
                         name=f"Résident {n}", cpas="CPAS-NAMUR" if n < 8 else "OCMW-GENT",
                         activated_at=ACTIVATED, power_limiter=n == 3) for n in range(1, 10)])
        await ledger.post_consumption([ConsumptionInput(make_ean(n), date(2026, 10, 1),
                                                        900 * n) for n in range(1, 8)])
        access = await Access.open(ledger.store)
        _, cpas = await access.add_client("namur office", cpas="CPAS-NAMUR")
        _, channel = await access.add_client("kiosks", channel="terminal")
        return {"cpas": cpas, "channel": channel}
    finally:
        await ledger.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a database of its own (SQLite, or PostgreSQL with SALDO_TEST_POSTGRES),
    served by an event loop in a thread of this process for the module's tests."""
    state: dict = {}
    ready = threading.Event()

    async def main():
        clock = SettableClock(TUESDAY_10)
        try:
            async with fresh_database(tmp_path_factory.mktemp("schemathesis")) as url:
                state["tokens"] = await _populate(url, clock)
                async with serving(create_app(portal_settings(url), clock=clock)) as base:
                    state["base"], state["stop"] = base, asyncio.Event()
                    state["loop"] = asyncio.get_running_loop()
                    ready.set()
                    await state["stop"].wait()
        except BaseException as failed:  # said in the test, not lost in the thread
            state["error"] = failed
            ready.set()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    ready.wait(120)
    if "error" in state or "base" not in state:
        raise RuntimeError("the API did not start") from state.get("error")
    yield state
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(60)


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("kind", ["cpas", "channel"])
def test_the_api_answers_as_its_document_says(case, server, kind):
    case.call_and_validate(base_url=server["base"] + "/api/v1",
                           headers={"Authorization": f"Bearer {server['tokens'][kind]}"},
                           checks=CHECKS, timeout=10)


@pytest.mark.parametrize("kind", ["cpas", "channel"])
def test_the_successful_answers_conform_too(server, kind):
    """What random EANs rarely reach: a resident's file, a list, a top-up recorded and then
    replayed — validated against the document by the same checks."""
    headers = {"Authorization": f"Bearer {server['tokens'][kind]}"}
    cases = [SCHEMA["/residents/{ean}"]["GET"].Case(path_parameters={"ean": make_ean(3)}),
             SCHEMA["/residents"]["GET"].Case(query={"sort": "days", "limit": 2, "page": 2})]
    body = {"ean": make_ean(2)[-13:], "amount_cents": 1500, "reference": f"SC-{kind}"}
    cases += [SCHEMA["/topups"]["POST"].Case(body=body, media_type="application/json")] * 2
    statuses = []
    for case in cases:
        response = case.call_and_validate(base_url=server["base"] + "/api/v1", headers=headers,
                                          checks=CHECKS, timeout=10)
        statuses.append(response.status_code)
    assert statuses == ([200, 200, 201, 200] if kind == "cpas" else [403, 403, 201, 200])
