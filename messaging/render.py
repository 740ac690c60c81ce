"""The SMS and e-mail texts of the ledger's events, rendered from locales/<language>/messages/.

Pure: an event in, text out. The templates are read once by MessageTemplates.load(), which also
rehearses every one of them (both energies, the longest values) so that a missing file, a syntax
error, an undefined name or an SMS that GSM-7 cannot carry stops the start, not a 3 a.m. alert.

Template names: {Event}.sms.j2 and {Event}.email.j2 for the customer, cpas_{Event}.sms.j2 and
cpas_{Event}.email.j2 for a CPAS with a mandate (serious events only). An e-mail template holds
the blocks subject, text and html and extends _layout.html.j2; files starting with "_" are shared
parts. Two Jinja2 environments per language read the same files: one plain (SMS, subject, text)
and one that HTML-escapes every value (the html part).
"""

import contextvars
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import jinja2
import jinja2.meta
from babel.dates import get_day_names

from ledger import (
    AUDIENCES,
    ENERGIES,
    LANGUAGES,
    Audience,
    MessageChannel,
    State,
)
from ledger.clock import BRUSSELS
from ledger.ean import masked
from ledger.limits import TEXT_LIMITS
from ledger.events import EVENT_TYPES, Event
from ledger.rules import (
    EMERGENCY_CREDIT_CENTS,
    RECONNECTION_MINIMUM_CENTS,
    START_CREDIT_CENTS,
    TOPUP_MAX_CENTS,
    TOPUP_MIN_CENTS,
    TopUpOutcome,
    emergency_credit_left_cents,
    usable_before_disconnection_cents,
)
from wording import (
    BABEL_LOCALES,
    PUBLIC_FACTS,
    LocaleError,
    date_time,
    hour,
    money,
    short_date,
    short_date_time,
)

from .routing import message_channels

GSM_CODEC = "gsm03.38"
SMS_MAX_SEPTETS = 306  # two concatenated segments of 153
LAYOUT = "_layout.html.j2"
EMAIL_BLOCKS = ("subject", "text", "html")

TEMPLATE_GLOBALS = {
    **PUBLIC_FACTS,
    "topup_min_cents": TOPUP_MIN_CENTS,
    "topup_max_cents": TOPUP_MAX_CENTS,
    "emergency_credit_cents": EMERGENCY_CREDIT_CENTS,
    "start_credit_cents": START_CREDIT_CENTS,
    "reconnection_minimum_cents": RECONNECTION_MINIMUM_CENTS,
}

# What Babel and typography put in a text that GSM-7 lacks, and its plain equivalent.
SMS_REPLACEMENTS = str.maketrans({
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
    "\u2212": "-", "\u2013": "-", "\u2014": "-",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2026": "...",
})

# Values as long as they get: rehearsal of every template at load.
LONGEST_CENTS = (-25_000_000, 0, 25_000_000)
LONGEST_CHANNEL = "transfer"
REHEARSAL_EAN = "541449999999999999"


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def template_name(event_name: str, channel: str, audience: str = Audience.CUSTOMER) -> str:
    prefix = "cpas_" if audience == Audience.CPAS else ""
    return f"{prefix}{event_name}.{channel}.j2"


def required_templates() -> list[str]:
    names = [LAYOUT]
    for _, event_name, audience in _all_messages(languages=(LANGUAGES[0],)):
        names += [template_name(event_name, channel, audience)
                  for channel in _channels_of(event_name, audience)]
    return names


def _channels_of(event_name: str, audience: str) -> tuple[str, ...]:
    """routing.message_channels: an answer, a reminder, the survey by SMS only; a CPAS's
    morning list by e-mail; a silent event by nothing."""
    return message_channels(event_name).get(audience, ())


# str.translate looks every character of a non-ASCII text up: twice as slow as finding the few.
_SMS_REPLACED = re.compile("[" + re.escape("".join(map(chr, SMS_REPLACEMENTS))) + "]")


def _plain(found: re.Match[str]) -> str:
    return SMS_REPLACEMENTS[ord(found.group())]


def sms_text(text: str) -> str:
    """One line of GSM-7 friendly text: typographic spaces, dashes, quotes made plain."""
    return " ".join(_SMS_REPLACED.sub(_plain, text).split())


def septets(sms: str) -> int:
    """GSM-7 length; an extension character such as € counts two. Raises if not GSM-7."""
    return len(sms.encode(GSM_CODEC))


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _one_line(text: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


class _FixedGlobals(jinja2.Environment):
    """An environment whose globals are all set before its first template is loaded. Each
    template then gets them as a plain dict, not Jinja's ChainMap over the environment's: every
    render copies them and every `import` compares them, and a ChainMap made that half of an
    SMS's rendering time."""

    def make_globals(self, d):
        return {**self.globals, **(d or {})}


def _environment(sources: dict[str, str], language: str, *, html: bool,
                 portal_url: str | None = None) -> jinja2.Environment:
    env = _FixedGlobals(
        loader=jinja2.DictLoader(sources),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["money"] = lambda cents: money(cents, language)
    env.filters["date_time"] = lambda moment: date_time(moment, language)
    env.filters["short_date_time"] = lambda moment: short_date_time(moment, language)
    env.filters["short_date"] = lambda moment: short_date(moment, language)
    env.filters["hour"] = lambda moment: hour(moment, language)
    env.globals.update(TEMPLATE_GLOBALS, this=_ThisMessage(), portal_url=portal_url)
    return env


_rendering: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar("rendering")


class _ThisMessage:
    """`this` in the templates: the message being rendered. The shared phrases (_parts.j2) read
    it instead of being imported `with context`, which Jinja re-runs at every render (more than
    half of an SMS's rendering time); imported plainly, they are built once."""

    def __getattr__(self, name: str) -> object:
        try:
            return _rendering.get()[name]
        except KeyError:
            raise AttributeError(name) from None


@contextmanager
def _rendering_of(context: dict[str, object]) -> Iterator[dict[str, object]]:
    token = _rendering.set(context)
    try:
        yield context
    finally:
        _rendering.reset(token)


# Never in a message's text: the full EAN (templates see its masked form), the address.
_UNSAID = frozenset({"ean", "to"})


def _context(event: Event, audience: str) -> dict[str, object]:
    """The event's fields but _UNSAID, and the meter's masked code when it names one."""
    values: dict[str, object] = {f.name: getattr(event, f.name) for f in fields(event)
                                 if f.name not in _UNSAID}
    values.update(event_name=event.name, audience=audience)
    if getattr(event, "ean", None):
        values["meter_ref"] = masked(event.ean)
    return values


def _language(event: Event, language: str | None) -> str:
    language = language or event.language
    if language not in LANGUAGES:
        raise ValueError(f"no messages in {language!r}: one of {', '.join(LANGUAGES)}")
    return language


def _render_block(template: jinja2.Template, block: str, context: dict[str, object]) -> str:
    return "".join(template.blocks[block](template.new_context(context)))


class MessageTemplates:
    """Every message in every language, compiled once by load(); then rendering only."""

    def __init__(self, plain: dict[str, jinja2.Environment], html: dict[str, jinja2.Environment],
                 folders: dict[str, Path]):
        self._plain = plain
        self._html = html
        self._folders = folders

    @classmethod
    def load(cls, locales: Path, *, portal_url: str | None = None) -> "MessageTemplates":
        """`portal_url`: where the CPAS pages are (links in a CPAS's morning list), if known."""
        plain, html, folders = {}, {}, {}
        for language in LANGUAGES:
            folder = Path(locales) / language / "messages"
            sources = _read_folder(folder)
            plain[language] = _environment(sources, language, html=False, portal_url=portal_url)
            html[language] = _environment(sources, language, html=True, portal_url=portal_url)
            folders[language] = folder
            for name in sorted(sources):
                for env in (plain[language], html[language]):
                    _compile(env, folder, name)
            _check_email_shape(plain[language], folder)
        templates = cls(plain, html, folders)
        templates._rehearse()
        return templates

    def has(self, event_name: str, audience: str) -> bool:
        """Whether a message exists: every event for the customer, serious ones for a CPAS."""
        if event_name not in EVENT_TYPES or audience not in AUDIENCES:
            return False
        return audience in message_channels(event_name)

    def sms(self, event: Event, *, audience: str = Audience.CUSTOMER, language: str | None = None) -> str:
        """One line of GSM-7 text; at most SMS_MAX_SEPTETS for templates that load() accepted."""
        language = _language(event, language)
        template = self._template(self._plain, language, event.name, "sms", audience)
        with _rendering_of(_context(event, audience)) as context:
            return sms_text(template.render(context))

    def email(self, event: Event, *, audience: str = Audience.CUSTOMER, language: str | None = None) -> Email:
        language = _language(event, language)
        plain = self._template(self._plain, language, event.name, "email", audience)
        html = self._template(self._html, language, event.name, "email", audience)
        with _rendering_of(_context(event, audience)) as context:
            return Email(
                subject=_one_line(_render_block(plain, "subject", context)),
                text=_tidy_text(_render_block(plain, "text", context)),
                html=html.render(context).strip() + "\n",
            )

    def _template(self, envs: dict[str, jinja2.Environment], language: str, event_name: str,
                  channel: str, audience: str) -> jinja2.Template:
        if audience not in AUDIENCES:
            raise ValueError(f"audience {audience!r}: one of {', '.join(AUDIENCES)}")
        if not self.has(event_name, audience):
            raise ValueError(f"no {audience} message for {event_name}")
        if channel not in _channels_of(event_name, audience):
            raise ValueError(f"no {channel} message for {event_name}: it goes by "
                             + " and ".join(_channels_of(event_name, audience)))
        return envs[language].get_template(template_name(event_name, channel, audience))

    def _rehearse(self) -> None:
        """Render every template with the longest values; refuse what would fail when sending."""
        for language, event_name, audience in _all_messages():
            cls = EVENT_TYPES[event_name]
            channels = _channels_of(event_name, audience)
            where = self._folders[language] / template_name(event_name, "sms", audience)
            for event in (_longest_events(cls, language, every_combination=True)
                          if MessageChannel.SMS in channels else ()):
                with _naming(where):
                    _check_sms(self.sms(event, audience=audience, language=language), where)
            if MessageChannel.EMAIL not in channels:
                continue
            where = self._folders[language] / template_name(event_name, "email", audience)
            for event in _longest_events(cls, language, every_combination=False):
                with _naming(where):
                    self.email(event, audience=audience, language=language)


def _read_folder(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise LocaleError(f"{folder}: no such folder of message templates")
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.j2"))}
    required = required_templates()
    for name in required:
        if name not in sources:
            raise LocaleError(f"{folder / name}: missing; every language needs {name}")
    for name in sources:
        if name not in required and not name.startswith("_"):
            raise LocaleError(
                f"{folder / name}: not the name of any message (like LowCredit.sms.j2 or "
                f"cpas_Disconnected.email.j2; see messaging.routing.message_channels)")
    return sources


def _compile(env: jinja2.Environment, folder: Path, name: str) -> None:
    try:
        env.get_template(name)
    except jinja2.TemplateSyntaxError as error:
        raise LocaleError(f"{folder / (error.name or name)}, line {error.lineno}: {error.message}") from error


def _check_email_shape(env: jinja2.Environment, folder: Path) -> None:
    for name in required_templates():
        if not name.endswith(".email.j2"):
            continue
        missing = [block for block in EMAIL_BLOCKS if block not in env.get_template(name).blocks]
        if missing:
            raise LocaleError(f"{folder / name}: needs the block(s) {', '.join(missing)}")
        parents = jinja2.meta.find_referenced_templates(env.parse(env.loader.get_source(env, name)[0]))
        if LAYOUT not in set(parents):
            raise LocaleError(f"{folder / name}: must extend {LAYOUT}")


def _check_sms(sms: str, where: Path) -> None:
    try:
        length = septets(sms)
    except UnicodeEncodeError as error:
        raise LocaleError(
            f"{where}: {sms[error.start]!r} cannot be sent in an SMS (not GSM-7); "
            f"write the word without it, e.g. 'Belgie', or reword: {sms!r}") from error
    if length > SMS_MAX_SEPTETS:
        raise LocaleError(
            f"{where}: {length} GSM-7 characters with the longest values, more than {SMS_MAX_SEPTETS} "
            f"(two SMS): {sms!r}")


def _all_messages(languages: tuple[str, ...] = LANGUAGES) -> Iterator[tuple[str, str, str]]:
    for language in languages:
        for event_name in EVENT_TYPES:
            for audience in message_channels(event_name):
                yield language, event_name, audience


@contextmanager
def _naming(where: Path) -> Iterator[None]:
    try:
        yield
    except LocaleError:
        raise
    except Exception as error:  # an undefined name, a filter given the wrong value, a missing import
        raise LocaleError(f"{where}: does not render ({type(error).__name__}: {error})") from error


def _longest_moment(language: str) -> datetime:
    """A two-digit day and month, 23:59 in Brussels, on the weekday with the longest name."""
    names = get_day_names("wide", locale=BABEL_LOCALES[language])
    longest = max(names, key=lambda weekday: len(names[weekday]))
    day = date(2026, 12, 14)
    day += timedelta(days=(longest - day.weekday()) % 7)
    return datetime.combine(day, time(23, 59), tzinfo=BRUSSELS)


# Fields whose value follows from the balance: rehearsed as the rules compute them, so that
# the combinations stay few and each one is a message that can really be sent.
_FROM_BALANCE = {"emergency_credit_left_cents": emergency_credit_left_cents,
                 "usable_before_disconnection_cents": usable_before_disconnection_cents}
# Text fields that choose a wording, and every value they take.
_CHOICES = {"outcome": tuple(TopUpOutcome), "state": tuple(State),
            "notify": ("sms", "email", "sms+email")}
# Other values, as long as they get.
_LIST_ENTRY = {"name": "W" * TEXT_LIMITS["name"], "meter_ref": "...9999", "ean13": "9" * 13,
               "energy": "electricity", "balance_cents": LONGEST_CENTS[0], "days_left": 999}
_LONGEST = {"score": 5, "to": "+32470000000", "request": "SM" + "f" * 32, "cpas": "C" * 32,
            "day": "2026-12-14", "more": 99_999,
            "counts": {"going_without": 9999, "disconnected": 9999, "power_limited": 9999,
                       "disconnection_pending": 9999, "emergency": 9999},
            "residents": [{**_LIST_ENTRY, "state": state, "going_without": flag}
                          for state in State for flag in (False, True)]}


def _longest_events(cls: type[Event], language: str, *, every_combination: bool) -> Iterator[Event]:
    """Negative, zero and largest amounts (all combinations, or each for all fields), both energies,
    every yes/no field (such as power_limiter) both ways, every value of a field that chooses a
    wording (a top-up's outcome)."""
    names = {f.name for f in fields(cls)}
    cents_fields = [f.name for f in fields(cls)
                    if f.name.endswith("_cents") and f.name not in _FROM_BALANCE]
    flag_fields = [f.name for f in fields(cls) if f.type in (bool, "bool")]
    choice_fields = [name for name in _CHOICES if name in names]
    if every_combination:
        combinations = list(itertools.product(LONGEST_CENTS, repeat=len(cents_fields)))
    else:
        combinations = [(cents,) * len(cents_fields) for cents in LONGEST_CENTS]
    moment = _longest_moment(language)
    moments = {f.name: moment for f in fields(cls) if f.type in (datetime, "datetime", datetime | None)}
    for energy, flags, choices in itertools.product(
            ENERGIES, itertools.product((False, True), repeat=len(flag_fields)),
            itertools.product(*(_CHOICES[name] for name in choice_fields))):
        for amounts in combinations:
            values: dict[str, object] = dict(zip(cents_fields, amounts, strict=True))
            values.update(zip(flag_fields, flags, strict=True))
            values.update(zip(choice_fields, (str(choice) for choice in choices), strict=True))
            values.update(moments)
            values.update({name: rule(values["balance_cents"]) for name, rule in _FROM_BALANCE.items()
                           if name in names})
            if "channel" in names:
                values["channel"] = LONGEST_CHANNEL
            values.update({name: value for name, value in _LONGEST.items() if name in names})
            values.update({name: value for name, value in (
                ("ean", REHEARSAL_EAN), ("energy", energy)) if name in names})
            yield cls(**values, language=language)
