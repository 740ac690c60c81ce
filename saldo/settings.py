"""Settings come from the environment, read once at start by the CLI and handed down."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from email.utils import parseaddr

import holidays

from ivr.limits import LookupRules
from ivr.opening import CustomerService, OpeningHours, default_customer_service
from ledger import DEFAULT_LEASE, InvalidInput, NonDisconnectionPeriod
from ledger.contacts import normalise_email, normalise_mobile
from ledger.limits import ADJUSTMENT_MAX_CENTS, DAY_CONSUMPTION_MAX_CENTS, LARGEST_CENTS
from ledger.money import format_cents, parse_cents
from ledger.morning import DEFAULT_HOUR as MORNING_LIST_HOUR
from messaging.inbound import InboundConfig
from messaging.mail import SmtpServer


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///saldo.db"
    host: str = "0.0.0.0"
    port: int = 8080
    ean_prefix: str | None = None
    tick_seconds: float = 60.0
    log_level: str = "INFO"
    log_format: str = "json"
    ndp: NonDisconnectionPeriod = field(default_factory=NonDisconnectionPeriod)
    public_base_url: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    caller_hash_key: str | None = field(default=None, repr=False)
    locales_dir: str | None = None
    lookups_per_hour: int = LookupRules.lookups_per_hour
    unknown_before_lockout: int = LookupRules.unknown_before_lockout
    lockout_minutes: int = LookupRules.lockout // timedelta(minutes=1)
    unknown_codes_per_minute: int = LookupRules.unknown_codes_per_minute
    sms_replies_per_hour: int = InboundConfig.replies_per_hour
    twilio_account_sid: str | None = None
    twilio_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    smtp_url: str | None = None
    mail_from: str | None = None
    quiet_hours: tuple[time, time] | None = (time(21, 0), time(8, 0))
    morning_list_at: time = MORNING_LIST_HOUR  # the CPAS's morning lists, each working day
    sms_per_second: float = 10.0
    mails_per_second: float = 10.0
    send_attempts: int = 8
    send_lease_seconds: int = DEFAULT_LEASE // timedelta(seconds=1)
    portal_secret: str | None = field(default=None, repr=False)
    portal_secure_cookies: bool = True
    day_consumption_max_cents: int = DAY_CONSUMPTION_MAX_CENTS
    adjustment_max_cents: int = ADJUSTMENT_MAX_CENTS
    # Where the line puts a caller through (menu 9), and when (ivr/opening.py).
    customer_service: CustomerService = field(default_factory=default_customer_service)
    known_callers: bool = True  # the line offers a caller the meters their number is on file for
    # `saldo import` runs at this CPU niceness (0-19): on a small machine a batch gives way to
    # the balance line's server.
    import_niceness: int = 10
    voices: tuple[tuple[str, str, str], ...] = (
        ("fr", "Polly.Isabelle-Neural", "fr-BE"),
        ("nl", "Polly.Lisa-Neural", "nl-BE"),
        ("de", "Polly.Vicki-Neural", "de-DE"),
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            database_url=_database_url(env.get("DATABASE_URL") or cls.database_url),
            host=env.get("HOST") or cls.host,
            port=_integer(env, "PORT", cls.port, 1, 65535),
            ean_prefix=_ean_prefix(env.get("EAN_PREFIX")),
            tick_seconds=float(_integer(env, "TICK_SECONDS", int(cls.tick_seconds), 1, 3600)),
            log_level=_choice(env, "LOG_LEVEL", cls.log_level, ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_format=_log_format(env.get("LOG_FORMAT")),
            ndp=_ndp(env),
            public_base_url=_public_base_url(env.get("PUBLIC_BASE_URL")),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            caller_hash_key=env.get("CALLER_HASH_KEY") or None,
            locales_dir=env.get("LOCALES_DIR") or None,
            lookups_per_hour=_integer(env, "LOOKUPS_PER_HOUR", cls.lookups_per_hour, 1, 10_000),
            unknown_before_lockout=_integer(env, "UNKNOWN_BEFORE_LOCKOUT",
                                            cls.unknown_before_lockout, 1, 1000),
            lockout_minutes=_integer(env, "LOCKOUT_MINUTES", cls.lockout_minutes, 1, 7 * 24 * 60),
            unknown_codes_per_minute=_integer(env, "UNKNOWN_CODES_PER_MINUTE",
                                              cls.unknown_codes_per_minute, 1, 100_000),
            sms_replies_per_hour=_integer(env, "SMS_REPLIES_PER_HOUR", cls.sms_replies_per_hour,
                                          1, 10_000),
            twilio_account_sid=_account_sid(env.get("TWILIO_ACCOUNT_SID")),
            twilio_from=_sender(env.get("TWILIO_FROM")),
            twilio_api_url=_http_url(env, "TWILIO_API_URL", cls.twilio_api_url),
            smtp_url=_smtp_url(env.get("SMTP_URL")),
            mail_from=_mail_from(env.get("MAIL_FROM")),
            quiet_hours=_quiet_hours(env.get("QUIET_HOURS")),
            morning_list_at=_time_of_day(env, "MORNING_LIST_AT", cls.morning_list_at),
            sms_per_second=float(_integer(env, "SMS_PER_SECOND", int(cls.sms_per_second), 1, 1000)),
            mails_per_second=float(_integer(env, "MAILS_PER_SECOND", int(cls.mails_per_second), 1,
                                            1000)),
            send_attempts=_integer(env, "SEND_ATTEMPTS", cls.send_attempts, 1, 50),
            portal_secret=_secret(env.get("PORTAL_SECRET")),
            portal_secure_cookies=_yes_no(env, "PORTAL_SECURE_COOKIES", True),
            day_consumption_max_cents=_euros(env, "DAY_CONSUMPTION_MAX",
                                             cls.day_consumption_max_cents),
            adjustment_max_cents=_euros(env, "ADJUSTMENT_MAX", cls.adjustment_max_cents),
            send_lease_seconds=_integer(env, "SEND_LEASE_SECONDS", cls.send_lease_seconds, 1,
                                        3600),
            import_niceness=_integer(env, "IMPORT_NICENESS", cls.import_niceness, 0, 19),
            customer_service=_customer_service(env),
            known_callers=_yes_no(env, "KNOWN_CALLERS", cls.known_callers),
            voices=tuple(
                (language, env.get(f"VOICE_{language.upper()}") or name,
                 env.get(f"VOICE_{language.upper()}_LANGUAGE") or code)
                for language, name, code in cls.voices),
        )


    def missing_for_sending(self) -> list[str]:
        """The settings the worker needs to send SMS and e-mail, that are not set."""
        needed = {"TWILIO_ACCOUNT_SID": self.twilio_account_sid,
                  "TWILIO_AUTH_TOKEN": self.twilio_auth_token, "TWILIO_FROM": self.twilio_from,
                  "PUBLIC_BASE_URL": self.public_base_url,  # where delivery reports come back
                  "SMTP_URL": self.smtp_url, "MAIL_FROM": self.mail_from}
        return [name for name, value in needed.items() if not value]


def _euros(env: Mapping[str, str], name: str, default: int) -> int:
    """An amount in euros ('1000', '1000,00'), more than 0 and within what the ledger holds."""
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        cents = parse_cents(value, name)
    except InvalidInput as error:
        raise SettingsError(f"{name}: {error.message}") from None
    if not 0 < cents <= LARGEST_CENTS:
        raise SettingsError(f"{name}: must lie between 0,01 € and {format_cents(LARGEST_CENTS)}")
    return cents


def _customer_service(env: Mapping[str, str]) -> CustomerService:
    default = default_customer_service()
    hours = default.hours
    if env.get("CUSTOMER_SERVICE_HOURS"):
        try:
            hours = OpeningHours.parse(env["CUSTOMER_SERVICE_HOURS"], default.hours.holiday_country)
        except ValueError as error:
            raise SettingsError(f"CUSTOMER_SERVICE_HOURS: {error}") from None
    number = env.get("CUSTOMER_SERVICE_NUMBER") or default.number
    keys = env.get("CUSTOMER_SERVICE_KEYS", default.keys)
    for name, given in (("CUSTOMER_SERVICE_NUMBER", {"number": number}),
                        ("CUSTOMER_SERVICE_KEYS", {"number": number, "keys": keys})):
        try:
            service = CustomerService(hours=hours, **given)
        except ValueError as error:
            raise SettingsError(f"{name}: {error}") from None
    return service


def _yes_no(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or ("yes" if default else "no")).strip().lower()
    if value not in ("yes", "no"):
        raise SettingsError(f"{name}: {value!r} is not yes or no")
    return value == "yes"


def _secret(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) < 32:
        raise SettingsError("PORTAL_SECRET: at least 32 characters (e.g. `openssl rand -hex 32`)")
    return value


def _account_sid(value: str | None) -> str | None:
    if not value:
        return None
    if not (len(value) == 34 and value.startswith("AC") and value[2:].isalnum()):
        raise SettingsError("TWILIO_ACCOUNT_SID: expected AC followed by 32 letters or digits")
    return value


def _sender(value: str | None) -> str | None:
    """A number in E.164, or an alphanumeric sender ID (up to 11 letters, digits or spaces)."""
    if not value:
        return None
    if value.startswith("+"):
        try:
            return normalise_mobile(value, "TWILIO_FROM")
        except InvalidInput as error:
            raise SettingsError(str(error)) from None
    if not (1 <= len(value) <= 11 and value.replace(" ", "").isalnum()
            and not value.isdigit()):
        raise SettingsError(f"TWILIO_FROM: {value!r} is neither +E.164 nor an alphanumeric "
                            "sender ID of up to 11 characters")
    return value


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not value.startswith(("https://", "http://")):
        raise SettingsError(f"{name}: {value!r} is not an http(s) URL")
    return value.rstrip("/")


def _smtp_url(value: str | None) -> str | None:
    if not value:
        return None
    try:
        SmtpServer.from_url(value)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    return value


def _mail_from(value: str | None) -> str | None:
    if not value:
        return None
    try:
        normalise_email(parseaddr(value)[1], "MAIL_FROM")
    except InvalidInput as error:
        raise SettingsError(str(error)) from None
    return value


def _time_of_day(env: Mapping[str, str], name: str, default: time) -> time:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{name}: {value!r} is not a time of day like 08:00") from None


def _quiet_hours(value: str | None) -> tuple[time, time] | None:
    """'21:00-08:00' (the default), or 'none'."""
    if value is None or not value.strip():
        return Settings.quiet_hours
    if value.strip().lower() == "none":
        return None
    start, _, end = value.partition("-")
    try:
        hours = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise SettingsError(f"QUIET_HOURS: {value!r} is not like 21:00-08:00 (or none)") from None
    if hours[0] == hours[1]:
        raise SettingsError("QUIET_HOURS: the start and the end are the same time")
    return hours


def _public_base_url(value: str | None) -> str | None:
    if not value:
        return None
    if not value.startswith(("https://", "http://")):
        raise SettingsError(f"PUBLIC_BASE_URL: {value!r} is not an http(s) URL")
    return value.rstrip("/")


def _database_url(value: str) -> str:
    if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise SettingsError(f"DATABASE_URL: {value.split(':', 1)[0]!r} is not supported; "
                            "use sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DATABASE")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: {value} is not between {low} and {high}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or default).upper()
    if value not in choices:
        raise SettingsError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def _log_format(value: str | None) -> str:
    chosen = (value or Settings.log_format).strip().lower()
    if chosen not in ("json", "text"):
        raise SettingsError(f"LOG_FORMAT: {value!r} is not json (one JSON object a line) or text")
    return chosen


def _ean_prefix(value: str | None) -> str | None:
    if not value:
        return None
    if not (value.isdigit() and len(value) == 5 and value.startswith("54")):
        raise SettingsError(f"EAN_PREFIX: {value!r} is not 5 digits starting with 54")
    return value


def _hour(env: Mapping[str, str], name: str, default: time) -> time:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a time of day like 16:00") from None


def _ndp(env: Mapping[str, str]) -> NonDisconnectionPeriod:
    defaults = NonDisconnectionPeriod()
    weekends = env.get("NDP_WEEKENDS", "yes").strip().lower()
    if weekends not in ("yes", "no"):
        raise SettingsError(f"NDP_WEEKENDS: {weekends!r} is not yes or no")
    country = env.get("NDP_HOLIDAYS", "BE").strip()
    if country.lower() not in ("", "none"):
        try:
            holidays.country_holidays(country.upper())
        except NotImplementedError:
            raise SettingsError(f"NDP_HOLIDAYS: {country!r} is not a country code the holidays "
                                "package knows (BE, or none)") from None
    extra = set()
    for item in filter(None, (s.strip() for s in env.get("NDP_EXTRA_HOLIDAYS", "").split(","))):
        try:
            extra.add(date.fromisoformat(item))
        except ValueError:
            raise SettingsError(f"NDP_EXTRA_HOLIDAYS: {item!r} is not a day written YYYY-MM-DD") from None
    try:
        return NonDisconnectionPeriod(
            protected_from=_hour(env, "NDP_FROM", defaults.protected_from),
            protected_until=_hour(env, "NDP_UNTIL", defaults.protected_until),
            weekends=weekends == "yes",
            holiday_country=None if country.lower() in ("", "none") else country.upper(),
            extra_holidays=frozenset(extra),
        )
    except ValueError as error:
        raise SettingsError(f"NDP_FROM/NDP_UNTIL: {error}") from None
