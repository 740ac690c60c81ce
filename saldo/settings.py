"""Settings come from the environment, read once at start by the CLI and handed down."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time

import holidays

from ledger import NonDisconnectionPeriod


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
    ndp: NonDisconnectionPeriod = field(default_factory=NonDisconnectionPeriod)
    public_base_url: str | None = None
    twilio_auth_token: str | None = None
    caller_hash_key: str | None = None
    locales_dir: str | None = None
    lookups_per_hour: int = 20
    unknown_before_lockout: int = 5
    lockout_minutes: int = 60
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
            ndp=_ndp(env),
            public_base_url=_public_base_url(env.get("PUBLIC_BASE_URL")),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            caller_hash_key=env.get("CALLER_HASH_KEY") or None,
            locales_dir=env.get("LOCALES_DIR") or None,
            lookups_per_hour=_integer(env, "LOOKUPS_PER_HOUR", cls.lookups_per_hour, 1, 10_000),
            unknown_before_lockout=_integer(env, "UNKNOWN_BEFORE_LOCKOUT",
                                            cls.unknown_before_lockout, 1, 1000),
            lockout_minutes=_integer(env, "LOCKOUT_MINUTES", cls.lockout_minutes, 1, 7 * 24 * 60),
            voices=tuple(
                (language, env.get(f"VOICE_{language.upper()}") or name,
                 env.get(f"VOICE_{language.upper()}_LANGUAGE") or code)
                for language, name, code in cls.voices),
        )


def _public_base_url(value: str | None) -> str | None:
    if not value:
        return None
    if not value.startswith(("https://", "http://")):
        raise SettingsError(f"PUBLIC_BASE_URL: {value!r} is not an http(s) URL")
    return value.rstrip("/")


def _database_url(value: str) -> str:
    if not value.startswith("sqlite:///"):
        raise SettingsError(f"DATABASE_URL: {value.split(':', 1)[0]!r} is not supported; "
                            "use sqlite:///FILE")
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
