"""Twilio's incoming-message webhook (`POST /sms/inbound`): what a customer writes to the
service's number. Signature-checked like every webhook; the words are read (messaging/keywords.py)
and handed to the ledger, which records the SMS and its answer as an event in one transaction
(ledger/replies.py). The answer goes out through the outbox like every message — never as TwiML
here, which would bypass the record, the limits and the quiet of a number that said STOP — so
the webhook always answers an empty <Response/>.

Logs name the message's SID and what was asked, never the number or the words.
"""

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from aiohttp import web

from ledger import IncomingSms, Ledger
from webhooks import form_of

from .keywords import Keywords

log = logging.getLogger("saldo.messaging")

INBOUND_PATH = "/inbound"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
REGION = "BE"


@dataclass(frozen=True)
class InboundConfig:
    keywords: Keywords
    sender_hash_key: bytes  # the line's caller hash key: one number, one identity
    replies_per_hour: int = 10


@dataclass(frozen=True)
class Inbound:
    config: InboundConfig
    ledger: Callable[[web.Request], Ledger]


INBOUND = web.AppKey("inbound", Inbound)


def is_message_sid(text: str) -> bool:
    return len(text) == 34 and text[:2] in ("SM", "MM") and text[2:].isalnum()


def mobile_of(sender: str) -> str | None:
    """The sender in E.164, or None when it is no phone number (a name, a short code)."""
    try:
        number = phonenumbers.parse(sender.strip(), REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def sender_hash(key: bytes, identity: str) -> str:
    digest = hmac.new(key, identity.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"sms:{digest[:16]}"


async def incoming_message(request: web.Request) -> web.Response:
    inbound = request.app[INBOUND]
    form = await form_of(request)
    sid = form.get("MessageSid", "")
    if not is_message_sid(sid):
        raise web.HTTPBadRequest(text="MessageSid: missing or not a message SID")
    sender = form.get("From", "")
    mobile = mobile_of(sender)
    asked = inbound.config.keywords.read(form.get("Body", ""))
    outcome = await inbound.ledger(request).replies.answer(IncomingSms(
        sid=sid, sender=sender_hash(inbound.config.sender_hash_key, mobile or sender.strip()),
        mobile=mobile, request=asked.request, words=asked.words, digits=asked.digits,
        score=asked.score, language=asked.language), per_hour=inbound.config.replies_per_hour)
    log.info("incoming SMS %s: %s, %s", sid, asked.request, outcome)
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")
