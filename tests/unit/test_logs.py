"""Logs: JSON lines, the redacting net, and the whole-run check of tests/conftest.py."""

import io
import json
import logging
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ledger import InvalidInput
from saldo.logs import (
    JsonLinesFormatter,
    RedactPersonalData,
    _masked,
    _masked_by_every_shape,
    configure_logging,
    redact,
)
from saldo.settings import Settings, SettingsError
from tests.conftest import make_ean

pytest_plugins = ["pytester"]

EAN = make_ean(17)


def record(msg: str, *args, exc_info=None, name: str = "saldo.test") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args or None, exc_info)


def raised(error: Exception):
    try:
        raise error
    except Exception:
        return sys.exc_info()


@pytest.mark.parametrize(("text", "shown"), [
    (f"meter {EAN} cut off", f"meter [EAN …{EAN[-4:]}] cut off"),
    (f"code {EAN[-13:]} typed", f"code [13 digits …{EAN[-4:]}] typed"),
    ("caller +32470000001 locked out", "caller [phone] locked out"),
    ("caller +32 470 12 34 56 locked out", "caller [phone] locked out"),
    ("to 0032470123456", "to [13 digits …3456]"),  # masked all the same
    # An e-mail address that holds something shaped like a Twilio id: masked whole.
    ("from jean.dupont+AC0123456789abcdef0123456789abcdef@example.be", "from [e-mail]"),
    # Beside a Twilio id, not inside it: still masked.
    (f"SMf26e80faa3f1234567898189ee73a1ab from +32470000001 for {EAN[-13:]}",
     f"SMf26e80faa3f1234567898189ee73a1ab from [phone] for [13 digits …{EAN[-4:]}]"),
    ("mobile 0470 12 34 56, or 0470/12.34.56, or 0470123456",
     "mobile [phone], or [phone], or [phone]"),
    ("mail to zoé.imaginaire+saldo@example.be bounced", "mail to [e-mail] bounced"),
])
def test_what_is_shaped_like_personal_data_is_masked(text, shown):
    assert redact(text) == shown


@pytest.mark.parametrize("text", [
    "GET /api/v1/residents/{ean} 200 3.1 ms",
    "2026-11-24T10:00:00+01:00: 1 meter(s) cut off, balance -15,00 €, +7,01 €",
    "call CA00000000000000000000000000000001 ended after 12345 ms",
    # A message's id from Twilio, with 13 decimal digits in a row among its hex ones.
    "incoming SMS SMf26e80faa3f1234567898189ee73a1ab: start, answered",
    "message 1 sent (attempt 3 of 8)",
])
def test_ordinary_log_text_is_left_alone(text):
    assert redact(text) == text


@given(st.text(alphabet=st.sampled_from("0123456789 ./-+@abcEANSM_é\n"), max_size=60))
@example("the shortest number in international form: +1 234-5678")
@example("0032.4.7.0.1.2.3")
def test_a_line_let_through_after_one_search_is_one_no_shape_would_change(text):
    """The net's first search lets most lines through at once (saldo/logs.py): it never lets
    through a line any shape would have masked."""
    assert _masked(text) == _masked_by_every_shape(text)


def test_the_filter_masks_the_final_message_and_the_exception():
    given = record("look-up by %s for %s failed", "+32470000001", EAN,
                   exc_info=raised(InvalidInput("mobile", "'0470 99 88 77' is not valid")))
    assert RedactPersonalData().filter(given) is True
    assert given.getMessage() == f"look-up by [phone] for [EAN …{EAN[-4:]}] failed"
    assert "[phone]" in given.exc_text and "99 88 77" not in given.exc_text
    assert "Traceback" in given.exc_text


def test_arguments_that_do_not_fit_the_message_are_masked_too():
    given = record("%d calls", "+32470000001")
    RedactPersonalData().filter(given)
    assert "+32470000001" not in given.getMessage() and "[phone]" in given.getMessage()


def test_a_json_line_has_the_time_in_utc_the_level_the_logger_the_message_and_the_exception():
    given = record("%s meter(s) cut off", 2, exc_info=raised(RuntimeError("boom")))
    given.created = datetime.fromisoformat("2026-11-24T10:00:00.250+01:00").timestamp()
    line = JsonLinesFormatter().format(given)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["time"] == "2026-11-24T09:00:00.250Z"
    assert parsed["level"] == "WARNING" and parsed["logger"] == "saldo.test"
    assert parsed["message"] == "2 meter(s) cut off"
    assert parsed["exception"].startswith("Traceback") and "RuntimeError: boom" in parsed["exception"]
    assert "exception" not in json.loads(JsonLinesFormatter().format(record("fine")))


@contextmanager
def bare_root():
    """The root logger as in a fresh process (no handlers, not even pytest's), then as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in ("sqlalchemy", "twilio")}
    root.handlers.clear()
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, chatty_level in chatty.items():
            logging.getLogger(name).setLevel(chatty_level)


def test_configured_logging_writes_redacted_json_lines():
    out = io.StringIO()
    log = logging.getLogger("tests.logs")  # not a logger the whole-run check watches
    with bare_root():
        configure_logging("INFO", stream=out)
        log.debug("not at INFO")
        log.info("SMS to %s queued", "+32470000001")
        try:
            raise InvalidInput("email", "'zoe@example.org' is not an e-mail address")
        except InvalidInput:
            log.exception("import failed")
        assert logging.getLogger("sqlalchemy").level == logging.WARNING
        assert logging.getLogger("twilio").level == logging.WARNING
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["SMS to [phone] queued", "import failed"]
    assert "[e-mail]" in lines[1]["exception"] and "zoe@" not in out.getvalue()


def test_configured_logging_as_text_for_a_person_at_a_terminal():
    out = io.StringIO()
    with bare_root():
        configure_logging("DEBUG", json_lines=False, stream=out)
        logging.getLogger("tests.logs").debug("caller %s", "+32470000001")
    assert out.getvalue().rstrip().endswith("DEBUG tests.logs: caller [phone]")


def test_logging_configured_already_is_left_alone():
    kept = logging.NullHandler()
    with bare_root() as root:
        root.addHandler(kept)
        configure_logging("DEBUG", stream=io.StringIO())
        assert root.handlers == [kept]


@pytest.mark.parametrize(("value", "chosen"), [(None, "json"), ("", "json"), ("text", "text"),
                                                (" JSON ", "json")])
def test_the_log_format_is_json_unless_text_is_asked(value, chosen):
    env = {} if value is None else {"LOG_FORMAT": value}
    assert Settings.from_env(env).log_format == chosen


def test_another_log_format_is_refused_by_name():
    with pytest.raises(SettingsError, match="LOG_FORMAT: 'logfmt' is not json"):
        Settings.from_env({"LOG_FORMAT": "logfmt"})


# --- The whole-run check must be able to fail: tests/conftest.py, as it is, in a run of its own.

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def run_with_our_conftest(pytester: pytest.Pytester, test_source: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nasyncio_mode = auto\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_source)
    # In a process of its own: a leak logged here would be this run's.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


def test_a_run_whose_logs_carry_a_phone_number_fails(pytester):
    result = run_with_our_conftest(pytester, """
        import logging

        def test_logs_a_caller():
            logging.getLogger("saldo.ivr").info("caller %s locked out", "+32470000001")
    """)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = result.stdout.str()
    assert "personal data in the logs" in report
    assert "test_a_run_whose_logs_carry_a_phone_number_fails.py::test_logs_a_caller" in report
    assert "saldo.ivr INFO" in report and "phone" in report
    assert "'caller [phone] locked out'" in report
    assert "+32470000001" not in report


def test_a_run_whose_logs_carry_a_demo_customers_name_fails(pytester):
    result = run_with_our_conftest(pytester, """
        import logging

        def test_logs_a_name():
            logging.getLogger("saldo").debug("welcome for Camille Lambert")

        def test_logs_a_path_on_the_access_log():  # only aiohttp's own access log is skipped
            logging.getLogger("aiohttp.access").info("GET /api/v1/residents/541440000000000019")
    """)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "'welcome for [name]'" in result.stdout.str()
    assert "'GET /api/v1/residents/[EAN …0019]'" in result.stdout.str()


def test_a_run_whose_logs_are_clean_passes(pytester):
    result = run_with_our_conftest(pytester, """
        import logging

        def test_logs_cleanly():
            logging.getLogger("saldo.worker").debug("meter %s cut off", "…0017")
            logging.getLogger("sqlalchemy.engine").warning("not ours: %s", "+32470000001")
    """)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "personal data in the logs" not in result.stdout.str()
