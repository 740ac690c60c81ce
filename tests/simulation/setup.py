"""What the simulation and its sender process share: the settings the worker runs with, and how
the Dispatcher that saldo.sending.open_dispatcher built is tuned for simulated time."""

import random

from messaging.dispatch import Dispatcher
from saldo.settings import Settings
from tests.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

EAN_PREFIX = "54144"  # the network's: imports and terminals give 13 digits
TWILIO_FROM = "+32460200000"
PUBLIC_BASE_URL = "https://saldo.example.be"
MAIL_FROM = "saldo@ores.example"
LEASE_SECONDS = 120  # the production default (SEND_LEASE_SECONDS)
SMS_TIMEOUT_SECONDS = 1.5  # real seconds: a Twilio answer later than this is a timeout


def sending_settings(database_url: str, twilio_url: str, smtp_port: int) -> Settings:
    """The settings of `saldo worker`, quiet hours (21:00–08:00) and NDP at their defaults;
    the pace at its highest (1000 a second), since simulated time does not wait."""
    return Settings(database_url=database_url, ean_prefix=EAN_PREFIX, twilio_account_sid=DEFAULT_ACCOUNT_SID,
                    twilio_auth_token=DEFAULT_AUTH_TOKEN, twilio_from=TWILIO_FROM,
                    twilio_api_url=twilio_url, public_base_url=PUBLIC_BASE_URL,
                    smtp_url=f"smtp://127.0.0.1:{smtp_port}", mail_from=MAIL_FROM,
                    sms_per_second=1000.0, mails_per_second=1000.0,
                    send_lease_seconds=LEASE_SECONDS)


def tune(dispatcher: Dispatcher, seed: int) -> Dispatcher:
    """The back-off's jitter drawn from the seed (open_dispatcher seeds it from the system), and
    the Twilio client's timeout shortened (TwilioSms's own parameter; its http session is made
    on first use, so this is before any request)."""
    dispatcher.rng = random.Random(seed)
    dispatcher.sms.timeout = SMS_TIMEOUT_SECONDS
    return dispatcher
