"""What customers write to the service's number, end to end: Twilio's incoming-message webhook,
signed, to the real app (`/sms/inbound`); the answer through the outbox and the worker's
dispatcher, out to the local Twilio API (through the twilio library and Prism) and aiosmtpd.
"""

from datetime import date, datetime, timedelta

import aiohttp
import pytest

from ledger import BRUSSELS, ConsumptionInput
from tests.conftest import make_ean
from tests.integration.test_notifications import (  # noqa: F401  (fixtures)
    LOCALES,
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

pytestmark = pytest.mark.slow  # Prism runs as a process of its own

INBOUND = "https://saldo.example.be/sms/inbound"
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MOBILE = "+32470000001"
STRANGER = "+32470999999"
HELP_WORDS = {"fr": "répondez SOLDE", "nl": "antwoord SALDO", "de": "Antworten Sie GUTHABEN"}
BALANCE_WORDS = {"fr": "Solde de votre", "nl": "Saldo van uw", "de": "Saldo Ihres"}


async def write(twilio, sender: str, body: str, **options) -> str:
    status, text, sid = await twilio.send_incoming(sender, body, INBOUND, **options)
    assert (status, text) == (200, EMPTY)  # never an answer inline: it goes through the outbox
    return sid


def bodies_to(twilio, number: str) -> list[str]:
    return [post.form["Body"] for post in twilio.posts if post.form["To"] == number]


@pytest.mark.parametrize(("keyword", "language"), [("SOLDE", "fr"), ("saldo", "nl"),
                                                   ("Guthaben", "de")])
async def test_the_balance_keyword_answers_one_sms_per_meter_of_the_number(
        ledger, dispatcher, twilio, server, keyword, language):
    # Two meters on one mobile; the account's language is Dutch: SALDO (Dutch and German)
    # answers in it, SOLDE and GUTHABEN in theirs.
    await ledger.import_accounts([customer(1, "nl", "gas", notify="none"),
                                  customer(2, "nl", mobile=MOBILE, notify="none")])
    await dispatcher.run_once()
    await write(twilio, MOBILE, keyword)
    await dispatcher.run_once()
    answers = bodies_to(twilio, MOBILE)
    assert len(answers) == 2
    assert all(BALANCE_WORDS[language] in body for body in answers)
    assert {make_ean(1)[-4:], make_ean(2)[-4:]} == {
        next(ref for ref in (make_ean(1)[-4:], make_ean(2)[-4:]) if ref in body) for body in answers}
    assert not any(make_ean(1)[-13:] in body or make_ean(2)[-13:] in body for body in answers)


async def test_the_balance_of_the_meter_whose_digits_are_given(ledger, dispatcher, twilio, server):
    await ledger.import_accounts([customer(1, "fr", "gas", notify="none"),
                                  customer(2, "fr", mobile=MOBILE, notify="none")])
    await write(twilio, MOBILE, f"solde {make_ean(2)[-13:-6]} {make_ean(2)[-6:]}")
    await dispatcher.run_once()
    [answer] = bodies_to(twilio, MOBILE)
    assert "électricité" in answer and make_ean(2)[-4:] in answer


async def test_digits_of_another_meter_tell_nothing_of_it(ledger, dispatcher, twilio, server):
    await ledger.import_accounts([customer(1, "fr", notify="none"),
                                  customer(2, "fr", notify="none")])  # another number
    await write(twilio, MOBILE, f"SOLDE {make_ean(2)[-13:]}")
    await dispatcher.run_once()
    [answer] = bodies_to(twilio, MOBILE)
    assert HELP_WORDS["fr"] in answer and make_ean(2)[-4:] not in answer


@pytest.mark.parametrize(("stop", "start", "language"), [("STOP", "START", "fr"),
                                                         ("Arrêt", "démarrer", "fr"),
                                                         ("stop", "start", "nl"),
                                                         ("STOPP", "Start", "de")])
async def test_stop_silences_the_sms_not_the_e_mail_nor_the_cpas_and_start_undoes_it(
        ledger, dispatcher, twilio, mailbox, server, clock, stop, start, language):
    await ledger.import_accounts([customer(1, language, notify="sms+email", cpas="CPAS-A")])
    await ledger.outbox.register_cpas_contact("CPAS-A", mobile="+32470555000", email=None,
                                              language="fr")
    await dispatcher.run_once()  # the welcome: SMS and e-mail
    assert len(bodies_to(twilio, MOBILE)) == 1

    await write(twilio, MOBILE, stop)
    await dispatcher.run_once()
    confirmation = bodies_to(twilio, MOBILE)[-1]
    assert "START" in confirmation  # says how to undo it
    # The balance falls into the emergency credit: e-mail to the customer, SMS to the CPAS, and
    # no SMS to the number that said STOP.
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=BRUSSELS))
    await ledger.post_consumption([ConsumptionInput(make_ean(1), date(2026, 11, 16), 2500)])
    await dispatcher.run_once()
    assert len(bodies_to(twilio, MOBILE)) == 2  # the welcome and the confirmation only
    assert len(bodies_to(twilio, "+32470555000")) == 1
    assert len(mailbox.to("client.1@example.be")) == 2
    # A top-up's receipt after START comes by SMS again.
    await write(twilio, MOBILE, start)
    await dispatcher.run_once()
    assert "STOP" in bodies_to(twilio, MOBILE)[-1]
    await ledger.top_up(make_ean(1), 2000, "terminal", "T-1", actor="test")
    await dispatcher.run_once()
    assert len(bodies_to(twilio, MOBILE)) == 4
    trail = [(r["action"], r["outcome"]) for r in await ledger.audit_trail(50)]
    assert ("sms-stop", "answered") in trail and ("sms-start", "answered") in trail


async def test_a_message_queued_before_stop_is_withheld(ledger, dispatcher, twilio, server, clock):
    clock.set(datetime(2026, 11, 16, 22, 30, tzinfo=BRUSSELS))  # the welcome waits for 8:00
    await ledger.import_accounts([customer(1, "fr", notify="sms", activated_at=clock.now())])
    await dispatcher.run_once()
    await write(twilio, MOBILE, "STOP")
    await dispatcher.run_once()  # the confirmation goes at once, at night too
    clock.set(datetime(2026, 11, 17, 8, 0, tzinfo=BRUSSELS))
    await dispatcher.run_once()
    assert len(bodies_to(twilio, MOBILE)) == 1
    states = {r.event_name: r.state for r in await ledger.outbox.messages_for(make_ean(1))}
    assert states == {"PrepaymentActivated": "withheld", "SmsStopped": "sent"}


@pytest.mark.parametrize(("keyword", "language"), [("AIDE", "fr"), ("help", "nl"),
                                                   ("Hilfe", "de"), ("bonjour ?", "fr")])
async def test_help_and_anything_else_get_the_help_message(ledger, dispatcher, twilio, server,
                                                           keyword, language):
    await ledger.import_accounts([customer(1, language, notify="none")])
    await write(twilio, MOBILE, keyword)
    await dispatcher.run_once()
    [answer] = bodies_to(twilio, MOBILE)
    assert HELP_WORDS[language] in answer and "0800/92.424" in answer and "078/15.78.01" in answer


async def test_a_number_on_file_of_no_meter_gets_the_help_message_only(
        ledger, dispatcher, twilio, server):
    await ledger.import_accounts([customer(1, "fr", notify="none")])
    for words in ("SOLDE", f"SOLDE {make_ean(1)[-13:]}", "STOP", "5"):
        await write(twilio, STRANGER, words)
    await dispatcher.run_once()
    answers = bodies_to(twilio, STRANGER)
    assert len(answers) == 4 and all(HELP_WORDS["fr"] in body for body in answers)
    assert not any(make_ean(1)[-4:] in body for body in answers)
    assert bodies_to(twilio, MOBILE) == []
    # STOP from a stranger stopped nothing: the meter's own number still gets its SMS.
    assert await ledger.replies.stopped([STRANGER, MOBILE]) == set()


async def test_a_webhook_twilio_delivers_again_is_answered_once(ledger, dispatcher, twilio,
                                                               server):
    await ledger.import_accounts([customer(1, "fr", notify="none")])
    sid = await write(twilio, MOBILE, "SOLDE")
    await write(twilio, MOBILE, "SOLDE", sid=sid)
    await dispatcher.run_once()
    await write(twilio, MOBILE, "SOLDE", sid=sid)
    await dispatcher.run_once()
    assert len(bodies_to(twilio, MOBILE)) == 1


async def test_a_number_writing_too_often_is_answered_no_more_for_the_hour(
        ledger, dispatcher, twilio, server, clock):
    # (Balances asked for again before the first answer left would be answered once, with the
    # latest: the help message is answered every time.)
    await ledger.import_accounts([customer(1, "fr", notify="none")])
    for _ in range(12):
        await write(twilio, MOBILE, "AIDE")
    await dispatcher.run_once()
    assert len(bodies_to(twilio, MOBILE)) == 10  # SMS_REPLIES_PER_HOUR
    clock.advance(timedelta(hours=1, seconds=1))
    await write(twilio, MOBILE, "AIDE")
    await dispatcher.run_once()
    assert len(bodies_to(twilio, MOBILE)) == 11
    outcomes = [r["outcome"] for r in await ledger.audit_trail(50) if r["action"] == "sms-help"]
    assert outcomes.count("limited") == 2


async def test_an_unsigned_message_is_refused_and_changes_nothing(ledger, dispatcher, twilio,
                                                                  server):
    await ledger.import_accounts([customer(1, "fr", notify="none")])
    async with aiohttp.ClientSession() as session, session.post(
            server.make_url("/sms/inbound"),
            data={"MessageSid": "SM" + "0" * 32, "From": MOBILE, "Body": "STOP"}) as forged:
        assert forged.status == 403
    assert await ledger.replies.stopped([MOBILE]) == set()
    await dispatcher.run_once()
    assert bodies_to(twilio, MOBILE) == []
