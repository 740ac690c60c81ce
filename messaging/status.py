"""Twilio's SMS webhooks, a sub-app behind the signature check: the delivery reports
(StatusCallback), which come in any order, any number of times — the outbox keeps the furthest
state — and the messages customers send (messaging/inbound.py)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ledger import Ledger
from webhooks import form_of, signature_middleware

from .inbound import INBOUND, INBOUND_PATH, Inbound, InboundConfig, incoming_message, is_message_sid

log = logging.getLogger("saldo.messaging")

STATUS_PATH = "/status"
# Twilio's MessageStatus → the outbox's states; the others (queued, sending, accepted…) say
# nothing the outbox does not know already.
REPORTED = {"sent": "sent", "delivered": "delivered", "undelivered": "undeliverable",
            "failed": "failed"}


@dataclass(frozen=True)
class StatusState:
    """What the delivery reports' handler shares, set when the app starts."""

    ledger: Callable[[web.Request], Ledger]


STATUS = web.AppKey("status", StatusState)


async def delivery_report(request: web.Request) -> web.Response:
    form = await form_of(request)
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not is_message_sid(sid):
        raise web.HTTPBadRequest(text="MessageSid: missing or not a message SID")
    if status in REPORTED:
        matched = await request.app[STATUS].ledger(request).outbox.report(sid, REPORTED[status])
        log.info("delivery report %s: %s%s", sid, status, "" if matched else " (kept for later)")
    return web.Response(status=204)


def create_status_app(auth_token: str, public_base_url: str,
                      ledger: Callable[[web.Request], Ledger],
                      inbound: InboundConfig | None = None) -> web.Application:
    """`inbound`: answer the messages customers send too (POST INBOUND_PATH)."""
    app = web.Application(middlewares=[signature_middleware(auth_token, public_base_url)])

    async def load(app: web.Application):
        app[STATUS] = StatusState(ledger)
        if inbound is not None:
            app[INBOUND] = Inbound(inbound, ledger)
        yield

    app.cleanup_ctx.append(load)
    app.router.add_post(STATUS_PATH, delivery_report, name="delivery_report")
    if inbound is not None:
        app.router.add_post(INBOUND_PATH, incoming_message, name="incoming_message")
    return app
