"""The installation journey (seed 003) as the customer lives it, end to end through the worker's
tick and dispatcher to the local Twilio API: the appointments file, the reminders 48 hours and
15 minutes before the technician's window (moved, cancelled, across the change to summer time,
at night), the welcome that says the meter communicates, the survey 20 days later, its answer by
SMS to the real app, and its export."""

import csv
from datetime import datetime, timedelta

import pytest

from ledger import BRUSSELS, AppointmentInput, read_appointments
from saldo import worker
from saldo.imports import export_survey
from tests.conftest import make_ean
from tests.integration.test_notifications import (  # noqa: F401  (fixtures)
    clock,
    customer,
    dispatcher,
    ledger,
    mailbox,
    prism,
    server,
    twilio,
    twilio_port,
)
from tests.integration.test_sms_replies import bodies_to, write

pytestmark = pytest.mark.slow  # Prism runs as a process of its own

MOBILE = "+32470000001"
FILE_MOBILE = "+32470123456"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)


def booked(number: int, start: datetime, hours: int = 2, **details) -> AppointmentInput:
    details.setdefault("mobile", FILE_MOBILE)
    return AppointmentInput(make_ean(number), start, start + timedelta(hours=hours), **details)


async def tick_at(ledger, dispatcher, clock, moment: datetime) -> None:
    clock.set(moment)
    await worker.run_once(ledger, dispatcher)


async def test_the_reminders_come_48_hours_and_15_minutes_before_across_summer_time(
        ledger, dispatcher, clock, twilio):
    # Monday 29 March 2027, 10:00-12:00; the clocks go forward on Sunday 28 March at 2:00.
    clock.set(at(2027, 3, 20, 12, 0))
    report = await ledger.journey.import_appointments([booked(1, at(2027, 3, 29, 10, 0),
                                                              language="nl")])
    assert (report.new, report.errors) == (1, [])
    # 48 hours before 08:00 UTC on Monday is 08:00 UTC on Saturday: 09:00 in Brussels (winter).
    await tick_at(ledger, dispatcher, clock, at(2027, 3, 27, 8, 59))
    assert bodies_to(twilio, FILE_MOBILE) == []
    await tick_at(ledger, dispatcher, clock, at(2027, 3, 27, 9, 0))
    [reminder] = bodies_to(twilio, FILE_MOBILE)
    assert "maandag 29/03 tussen 10:00 en 12:00" in reminder and make_ean(1)[-4:] in reminder
    await tick_at(ledger, dispatcher, clock, at(2027, 3, 29, 9, 44))  # summer time now
    assert len(bodies_to(twilio, FILE_MOBILE)) == 1
    await tick_at(ledger, dispatcher, clock, at(2027, 3, 29, 9, 45))
    imminent = bodies_to(twilio, FILE_MOBILE)[-1]
    assert "kwartier" in imminent and "tussen 10:00 en 12:00" in imminent
    await tick_at(ledger, dispatcher, clock, at(2027, 3, 29, 10, 30))
    assert len(bodies_to(twilio, FILE_MOBILE)) == 2  # each once


async def test_a_moved_appointment_is_reminded_at_its_new_time_only(ledger, dispatcher, clock,
                                                                    twilio):
    clock.set(at(2026, 11, 16, 9, 0))
    await ledger.journey.import_appointments([booked(1, at(2026, 11, 26, 10, 0))])
    clock.set(at(2026, 11, 20, 9, 0))  # a later file moves it to Friday afternoon
    report = await ledger.journey.import_appointments([booked(1, at(2026, 11, 27, 14, 0))])
    assert report.updated == 1
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 24, 10, 0))  # the old window's time
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 25, 13, 59))
    assert bodies_to(twilio, FILE_MOBILE) == []
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 25, 14, 0))
    [reminder] = bodies_to(twilio, FILE_MOBILE)
    assert "vendredi 27/11 entre 14:00 et 16:00" in reminder
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 26, 9, 50))  # the old quarter-hour
    assert len(bodies_to(twilio, FILE_MOBILE)) == 1


async def test_a_cancelled_appointment_is_not_reminded_again(ledger, dispatcher, clock, twilio):
    clock.set(at(2026, 11, 16, 9, 0))
    await ledger.journey.import_appointments([booked(1, at(2026, 11, 26, 10, 0),
                                                     language="de")])
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 24, 10, 0))
    assert "Donnerstag, 26.11. zwischen 10:00 und 12:00 Uhr" in bodies_to(twilio, FILE_MOBILE)[0]
    report = await ledger.journey.import_appointments([AppointmentInput(
        make_ean(1), None, None, cancelled=True)])
    assert report.updated == 1
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 26, 9, 45))
    assert len(bodies_to(twilio, FILE_MOBILE)) == 1


async def test_a_reminder_held_by_the_night_is_not_sent_once_the_appointment_moved(
        ledger, dispatcher, clock, twilio):
    clock.set(at(2026, 11, 16, 9, 0))
    await ledger.journey.import_appointments([booked(1, at(2026, 11, 20, 7, 30))])
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 18, 7, 30))  # quiet hours: held
    assert bodies_to(twilio, FILE_MOBILE) == []
    clock.set(at(2026, 11, 18, 7, 45))
    await ledger.journey.import_appointments([booked(1, at(2026, 11, 23, 13, 0))])
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 18, 8, 0))
    assert bodies_to(twilio, FILE_MOBILE) == []  # the reminder of Friday 7:30 never goes
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 21, 13, 0))
    [reminder] = bodies_to(twilio, FILE_MOBILE)
    assert "lundi 23/11 entre 13:00 et 15:00" in reminder


async def test_the_mobile_on_file_comes_before_the_files_and_a_late_booking_gets_one_reminder(
        ledger, dispatcher, clock, twilio):
    clock.set(at(2026, 11, 16, 9, 0))
    await ledger.import_accounts([customer(1, "fr", notify="none")])  # a meter replaced
    await ledger.journey.import_appointments([booked(1, at(2026, 11, 16, 14, 0))])
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 16, 9, 1))  # 5 hours ahead: too late
    await tick_at(ledger, dispatcher, clock, at(2026, 11, 16, 13, 45))
    assert bodies_to(twilio, FILE_MOBILE) == []
    [imminent] = bodies_to(twilio, MOBILE)
    assert "quart d'heure" in imminent


async def test_the_welcome_says_the_meter_communicates_and_the_survey_comes_20_days_after(
        ledger, dispatcher, clock, twilio, server, tmp_path):
    clock.set(at(2026, 11, 16, 9, 0))
    await ledger.import_accounts([customer(1, "fr", notify="sms"),
                                  customer(2, "nl", notify="sms")])
    await worker.run_once(ledger, dispatcher)
    assert "communicant" in bodies_to(twilio, MOBILE)[0]
    await tick_at(ledger, dispatcher, clock, at(2026, 12, 6, 8, 59))
    assert len(bodies_to(twilio, MOBILE)) == 1
    await tick_at(ledger, dispatcher, clock, at(2026, 12, 6, 9, 0))
    survey = bodies_to(twilio, MOBILE)[-1]
    assert "1 (pas du tout) à 5" in survey
    assert "tot 5" in bodies_to(twilio, "+32470000002")[-1]
    await write(twilio, MOBILE, "4")
    await write(twilio, MOBILE, "5")  # answered already: recorded once, thanked once
    await tick_at(ledger, dispatcher, clock, at(2026, 12, 6, 9, 5))
    assert bodies_to(twilio, MOBILE)[-1].startswith("Merci pour votre réponse (4/5)")
    assert len(bodies_to(twilio, MOBILE)) == 3
    await tick_at(ledger, dispatcher, clock, at(2026, 12, 30, 9, 0))
    assert len(bodies_to(twilio, MOBILE)) == 3  # asked once

    output = tmp_path / "survey.csv"
    assert await export_survey(ledger, output, actor="test") == 0
    with output.open(encoding="utf-8") as exported:
        rows = list(csv.reader(exported))
    assert rows == [["meter", "asked_on", "score", "answered_on"],
                    [f"...{make_ean(1)[-4:]}", "2026-12-06", "4", "2026-12-06"],
                    [f"...{make_ean(2)[-4:]}", "2026-12-06", "", ""]]
    text = output.read_text(encoding="utf-8")
    assert MOBILE not in text and make_ean(1)[-13:] not in text


def test_the_appointments_file_names_each_bad_value_by_line_and_field(tmp_path):
    path = tmp_path / "appointments.csv"
    path.write_text(
        "ean;start;end;mobile;language;status\n"
        f"{make_ean(1)};2026-11-26 10:00;2026-11-26 12:00;0470 12 34 56;fr;\n"
        f"{make_ean(2)};2026-11-26 10:00;;;nl;booked\n"
        f"{make_ean(3)};2026-11-26 12:00;2026-11-26 10:00;;;\n"
        f"{make_ean(4)};;;;;cancelled\n"
        f"{make_ean(5)};2026-11-26;2026-11-26 12:00;02 123 45 67;xx;maybe\n", encoding="utf-8")
    parsed = read_appointments(path)
    assert [row.ean for row in parsed.rows] == [make_ean(1), make_ean(4)]
    assert parsed.rows[0].mobile == FILE_MOBILE and parsed.rows[1].cancelled
    assert parsed.rows[0].starts_at == at(2026, 11, 26, 10, 0)
    assert {(e.line, e.field) for e in parsed.errors} == {
        (3, "end"), (4, "end"), (6, "mobile"), (6, "language"), (6, "status")}
