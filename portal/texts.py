"""The pages' words: portal.json in each language, checked at start, and the sentences built
from it — a refusal, a state, a message's delivery, the history's title. Pure but for the load."""

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from ledger import LANGUAGES, BalanceView, LedgerError, MessageRecord, State
from ledger.cpas import HISTORY_DAYS, ResidentFile
from ledger.errors import DEFAULT_REFUSAL, REFUSALS
from wording import LocaleError, long_date, money, read_json

from .access import ACCESS_REFUSALS

log = logging.getLogger("saldo.portal")

TEXTS_FILE = "portal.json"
REFUSAL_PREFIX = "refusal."  # + a refusal's code: its sentence in portal.json
# Every refusal the pages may have to say: the ledger's and those of who may log in.
PAGE_REFUSALS = {**REFUSALS, **ACCESS_REFUSALS}


def load_texts(locales: Path) -> dict[str, dict[str, str]]:
    """Every language has every key, and a sentence for every refusal (PAGE_REFUSALS): a
    missing one stops the start, naming file and key."""
    texts = {language: read_json(locales, language, TEXTS_FILE) for language in LANGUAGES}
    untranslated = {REFUSAL_PREFIX + code for code in PAGE_REFUSALS} - set(texts["fr"])
    if untranslated:
        raise LocaleError(f"{locales / 'fr' / TEXTS_FILE}: no sentence for the refusals "
                         f"{', '.join(sorted(untranslated))}")
    for language in LANGUAGES:
        missing = set(texts["fr"]) ^ set(texts[language])
        if missing:
            raise LocaleError(f"{locales / language / TEXTS_FILE}: keys differ from French: "
                             f"{', '.join(sorted(missing))}")
    return texts


def refusal_text(refused: LedgerError, texts: Mapping[str, str], language: str) -> str:
    """The ledger's refusal said in the staff's language, its amounts written the local way."""
    values = {name: money(value, language) if name.endswith("_cents") and isinstance(value, int)
              else str(value) for name, value in refused.params.items()}
    try:
        return texts[REFUSAL_PREFIX + refused.code].format(**values)
    except (KeyError, IndexError, ValueError):  # an unknown code, a parameter short: no 500
        # The code only: the values may be what was typed (a phone number, an e-mail).
        log.warning("portal: no sentence for the refusal %s with its parameters", refused.code)
        return texts[REFUSAL_PREFIX + DEFAULT_REFUSAL]


def state_text(view: BalanceView, texts: Mapping[str, str], when: Callable[[datetime], str]
               ) -> str:
    """The state's words; an announced cut (or power limitation) says when it comes."""
    if view.state is not State.DISCONNECTION_PENDING:
        return texts[f"state_{view.state.value}"]
    key = "state_limitation_pending" if view.power_limiter else "state_disconnection_pending"
    if view.disconnect_at is None:
        return texts[key]
    return texts[f"{key}_at"].format(moment=when(view.disconnect_at))


def delivery_text(message: MessageRecord, texts: Mapping[str, str]) -> str:
    """A message's delivery state; a superseded one names the event that made it stale."""
    if message.state == "superseded" and message.superseded_by_event:
        return texts["delivery_superseded_by"].format(
            event=event_text(message.superseded_by_event, texts))
    return texts.get(f"delivery_{message.state}", message.state)


def event_text(event_name: str, texts: Mapping[str, str]) -> str:
    return texts.get(f"event_{event_name}", event_name)


def history_title(file: ResidentFile, texts: Mapping[str, str], language: str) -> str:
    """The whole window, or since the activation when that came later (the history then
    starts on the activation day)."""
    if not file.history or len(file.history) >= HISTORY_DAYS:
        return texts["history"].format(days=HISTORY_DAYS)
    first = file.history[0].day
    day = long_date(first, language)
    if language == "fr" and first.day == 1:
        day = "1er" + day[1:]  # "le 1er octobre", as French writes the first of a month
    return texts["history_since_activation"].format(day=day)
