"""The sending side, composed from the settings: templates, routing, Twilio, SMTP, the pace."""

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from ledger import Clock, Ledger
from messaging.console import ConsoleSender
from messaging.dispatch import Dispatcher
from messaging.mail import SmtpMail, SmtpServer
from messaging.pacing import Backoff, SendRate
from messaging.render import MessageTemplates
from messaging.routing import QuietHours, Router
from messaging.sms import TwilioSms
from messaging.status import STATUS_PATH

from .settings import Settings, SettingsError

STATUS_MOUNT = "/sms"  # the delivery reports' sub-app; its route is messaging.status.STATUS_PATH


def status_callback_url(settings: Settings) -> str:
    return f"{settings.public_base_url}{STATUS_MOUNT}{STATUS_PATH}"


@asynccontextmanager
async def open_dispatcher(settings: Settings, ledger: Ledger, clock: Clock, locales,
                          *, portal_url: str | None = None, console: bool = False
                          ) -> AsyncIterator[Dispatcher]:
    """`console`: print each message instead of sending it (`saldo demo`); `portal_url`: the
    CPAS pages, linked from the morning lists."""
    if console:
        sms = mail = ConsoleSender()
    else:
        if settings.missing_for_sending():
            raise SettingsError("set " + ", ".join(settings.missing_for_sending()))
        sms = TwilioSms(settings.twilio_account_sid, settings.twilio_auth_token,
                        settings.twilio_from, api_url=settings.twilio_api_url,
                        status_callback=status_callback_url(settings))
        mail = SmtpMail(SmtpServer.from_url(settings.smtp_url), settings.mail_from)
    quiet = QuietHours(*settings.quiet_hours) if settings.quiet_hours else None
    try:
        yield Dispatcher(
            ledger, MessageTemplates.load(locales, portal_url=portal_url), Router(quiet),
            sms=sms, mail=mail,
            sms_rate=SendRate(settings.sms_per_second),
            mail_rate=SendRate(settings.mails_per_second),
            backoff=Backoff(max_attempts=settings.send_attempts), clock=clock,
            rng=random.Random(), lease=timedelta(seconds=settings.send_lease_seconds))
    finally:
        if isinstance(sms, TwilioSms):
            await sms.close()
