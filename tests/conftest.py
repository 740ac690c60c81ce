import logging
import os
import re
from datetime import datetime
from pathlib import Path

import pytest

from ledger import BRUSSELS, Ledger, NonDisconnectionPeriod, SettableClock
from ledger.ean import with_check_digit
from portal.access import Access
from saldo.demo import CUSTOMERS as DEMO_CUSTOMERS
from saldo.logs import personal_data_in, redact

PREFIX = "54144"
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=BRUSSELS)


def make_ean(number: int) -> str:
    """A made-up access point with a valid check digit."""
    body = f"{PREFIX}{number:012d}"
    return with_check_digit(body)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(TUESDAY_10)


@pytest.fixture
async def database_url(tmp_path):
    """A SQLite file of the test's own; a new PostgreSQL database with SALDO_TEST_POSTGRES."""
    from tests.databases import fresh_database  # here: test_logs.py reuses this file elsewhere
    async with fresh_database(tmp_path) as url:
        yield url


def pytest_collection_modifyitems(config, items):
    """Tests that open the SQLite file itself run in the SQLite run only."""
    if not os.environ.get("SALDO_TEST_POSTGRES"):  # tests/databases.py's switch
        return
    skip = pytest.mark.skip(reason="opens the SQLite file itself; run without SALDO_TEST_POSTGRES")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture
async def ledger(database_url, clock):
    opened = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    yield opened
    await opened.close()


@pytest.fixture
async def access(ledger):
    """Who may use the pages and the API, in the test's ledger's database."""
    return await Access.open(ledger.store)


# --- Logs carry no personal data (README). Every record of our loggers during the whole run, at
# DEBUG, is checked for shapes of EANs, 13-digit codes, phone numbers and e-mails, and for the
# names the tests use; one found fails the run, with a masked report. In tests, no redacting
# filter is installed (`configure_logging` leaves pytest's handlers be): the raw text is checked.
# tests/unit/test_logs.py runs this block in a session of its own to see it fail.

CHECKED_LOGGERS = ("saldo", "aiohttp.access", "aiohttp.server", "aiohttp.web")
_LOG_WATCH = pytest.StashKey["LogWatch"]()


def names_in_test_data() -> set[str]:
    """The demo's customers, and the names the tests write: name="Zoé Normale", ;Jan Proef;."""
    literal = re.compile(r"""(?:name=["']|;)([^\W\d_][^;"'\n]*)(?=["';])""")
    names = {customer.name for customer in DEMO_CUSTOMERS}
    for path in Path(__file__).parent.rglob("*.py"):
        for text in literal.findall(path.read_text(encoding="utf-8")):
            if len(text.split()) >= 2 and all(word[0].isupper() for word in text.split()):
                names.add(text)
    return names


class LogWatch(logging.Handler):
    def __init__(self, names: set[str]) -> None:
        super().__init__(logging.DEBUG)
        self.names, self.checked, self.found = names, 0, []
        self.levels = {name: logging.getLogger(name).level for name in CHECKED_LOGGERS}

    def mask(self, text: str) -> str:
        for name in self.names:
            text = text.replace(name, "[name]")
        return redact(text)

    def emit(self, record: logging.LogRecord) -> None:
        if not any(record.name == name or record.name.startswith(f"{name}.")
                   for name in CHECKED_LOGGERS):
            return
        self.checked += 1
        message = record.getMessage()
        exception = record.exc_text or (
            record.exc_info and logging.Formatter().formatException(record.exc_info)) or ""
        text = "\n".join((message, exception, record.stack_info or ""))
        kinds = personal_data_in(text) + (["name"] if any(n in text for n in self.names) else [])
        if not kinds:
            return
        in_exception = [line.strip() for line in f"{exception}\n{record.stack_info or ''}"
                        .splitlines() if self.mask(line) != line]
        self.found.append(
            f"{os.environ.get('PYTEST_CURRENT_TEST', '(outside a test)')}\n"
            f"    {record.name} {record.levelname} at {record.pathname}:{record.lineno}: "
            f"{', '.join(kinds)}\n"
            f"    template: {self.mask(str(record.msg))!r}\n"
            f"    message:  {self.mask(message)!r}"
            + "".join(f"\n    exception: {self.mask(line)!r}" for line in in_exception[-3:]))


def pytest_sessionstart(session: pytest.Session) -> None:
    watch = session.config.stash[_LOG_WATCH] = LogWatch(names_in_test_data())
    for name in CHECKED_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(watch)


def pytest_sessionfinish(session: pytest.Session) -> None:
    watch = session.config.stash.get(_LOG_WATCH, None)
    if watch is None:
        return
    logging.getLogger().removeHandler(watch)
    for name, level in watch.levels.items():
        logging.getLogger(name).setLevel(level)
    if watch.found and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    watch = config.stash.get(_LOG_WATCH, None)
    if watch is None:
        return
    if watch.found:
        terminalreporter.section("personal data in the logs", sep="=", red=True, bold=True)
        for finding in watch.found:
            terminalreporter.line(finding)
        terminalreporter.line(f"{len(watch.found)} of {watch.checked} log records carry personal "
                              "data (masked above): the run fails", red=True, bold=True)
    elif config.option.verbose > 0:
        terminalreporter.line(f"log check: {watch.checked} records of "
                              f"{', '.join(CHECKED_LOGGERS)}, no personal data")
