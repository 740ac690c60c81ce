"""What the caller hears on the balance line: data in, sentences out. Pure.

Every text is in locales/<language>/ivr.json (one place for translators, same keys in fr, nl and
de), read and checked by ivr/prompts.py; every number in it is said through ivr/spoken.py, so no
digit is ever left to the voice.

    prompts = load_prompts(LOCALES)            # at start: a wrong file fails here, named
    words = load_vocabularies(LOCALES)
    balance_script(view, words, prompts)       # ["Le solde de votre compteur ... est de ...", ...]
    prompts["fr"].say("ask_ean")
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from ledger import ENERGIES, LANGUAGES, BalanceView, Language, State
from ledger.rules import NEEDS_TOPUP_TO_RESTORE

from .prompts import DIGIT, Prompts, load_prompts
from .spoken import (
    Vocabulary,
    amount_words,
    date_words,
    days_words,
    load_vocabularies,
    moment_words,
    short_moment_words,
    wait_words,
)

# The keys of the first menu, each said in its own language and voice.
LANGUAGE_MENU: tuple[tuple[str, Language], ...] = (("1", Language.NL), ("2", Language.FR),
                                                   ("3", Language.DE))
# The keys of the menu after the balance (the texts say them in this order).
MENU_REPEAT, MENU_ANOTHER_METER, MENU_HOW_TO_TOP_UP, MENU_END = "1", "2", "3", "0"
MENU_CUSTOMER_SERVICE = "9"
MENU_BY_SMS = "4"
MENU_ALERTS = "5"

def _pick(given, language: str, kind: type, what: str):
    if isinstance(given, kind):
        if given.language != language:
            raise ValueError(f"{what} are in {given.language!r}, the message is in {language!r}")
        return given
    try:
        return given[language]
    except KeyError:
        raise ValueError(f"no {what} for language {language!r}") from None


CUT = frozenset({State.DISCONNECTED, State.POWER_LIMITED})
# What the balance message may take before the menu: thirty seconds at 150 words a minute.
MAX_WORDS = 75


def spoken_words(sentences) -> int:
    """How many words the voice says ("vingt-huit" is one, as it is one breath)."""
    return sum(len(sentence.split()) for sentence in sentences if sentence)


def minimum_topup_said_cents(cents: int) -> int:
    """A minimum top-up as the line says it: rounded up to whole euros (16,42 € is "dix-sept
    euros"), one figure to remember; topping up a little more never falls short."""
    return -(-cents // 100) * 100


def days_to_say(view: BalanceView) -> tuple[str, int] | None:
    """Which count of days the caller hears, so that none is heard as days free of worry:
    ("emergency", n) days until the balance reaches 0 and the emergency credit starts;
    ("cut", n) or ("limit", n) in emergency credit, days until −15 € cuts the meter or limits
    its power. None once cut or pending, or when nothing flows out to estimate from."""
    if view.state in (State.NORMAL, State.LOW):
        daily = view.average_daily_outflow_cents
        if not daily or daily <= 0:
            return None
        return "emergency", max(0, view.balance_cents) // daily
    if view.state is State.EMERGENCY and view.estimated_days_left is not None:
        return ("limit" if view.power_limiter else "cut"), max(0, view.estimated_days_left)
    return None


def balance_script(view: BalanceView, words: Mapping[str, Vocabulary] | Vocabulary,
                   prompts: Mapping[str, Prompts] | Prompts, *,
                   language: str | None = None) -> list[str]:
    """The sentences of the balance message in `language` (by default the account's), what
    matters most first:

    1. a cut, a power limitation, or a cut to come: said so, with the top-up that restores the
       supply or avoids the cut (rounded up to whole euros);
    2. the balance, then as of when ("Solde au samedi vingt-huit novembre, dix heures.");
    3. a low balance or the emergency credit, and the days left — until the emergency credit
       starts, or in emergency credit until the cut (or the power limitation), never "days the
       balance lasts";
    4. the debt;
    5. the last top-up — not once cut: the message then ends on the button that restores the
       supply.

    At most MAX_WORDS words (thirty seconds): with unusually long figures the last top-up, then
    the debt, are left out. Never a name, an address, the EAN, or a digit.

    `words` and `prompts` are what load_vocabularies() and load_prompts() return (or one
    language's entry of each).
    """
    language = language or view.language
    vocabulary: Vocabulary = _pick(words, language, Vocabulary, "words")
    texts: Prompts = _pick(prompts, language, Prompts, "prompts")
    if view.energy not in ENERGIES:
        raise ValueError(f"unknown energy {view.energy!r}; known: {', '.join(ENERGIES)}")
    electricity = view.energy == "electricity"
    state, limiter = view.state, view.power_limiter

    def amount(cents: int) -> str:
        return amount_words(cents, vocabulary)

    said = []
    if state in NEEDS_TOPUP_TO_RESTORE:
        if view.minimum_topup_cents is None:  # the ledger sets it for each of these states
            raise ValueError(f"a {state.value} balance view without its minimum top-up")
        topup = amount(minimum_topup_said_cents(view.minimum_topup_cents))
        if state is State.DISCONNECTION_PENDING:
            suffix = "_limited" if limiter else ""
            if view.disconnect_at is not None:
                said.append(texts.say("pending" + suffix, amount=topup,
                                      moment=moment_words(view.disconnect_at, vocabulary)))
            else:
                said.append(texts.say("pending_soon" + suffix, amount=topup))
        elif state is State.POWER_LIMITED:
            said.append(texts.say("power_limited", amount=topup))
        else:
            said.append(texts.say("disconnected_electricity" if electricity
                                  else "disconnected_gas", amount=topup))

    balance_key = ("balance" if state in CUT  # the first sentence named the meter
                   else "balance_electricity" if electricity else "balance_gas")
    said.append(texts.say(balance_key, amount=amount(view.balance_cents)))
    said.append(texts.say("as_of", moment=short_moment_words(view.as_of, vocabulary)))

    if state is State.LOW:
        said.append(texts.say("low"))
    elif state is State.EMERGENCY:
        said.append(texts.say("emergency"))
        said.append(texts.say("emergency_usable_limited" if limiter else "emergency_usable",
                              amount=amount(view.usable_before_disconnection_cents)))

    if (days := days_to_say(view)) is not None:
        until, count = days
        key = f"days_to_{until}"
        if count <= 0:
            said.append(texts.say(key + "_less_than_one"))
        elif count == 1:
            said.append(texts.say(key + "_one"))
        else:
            said.append(texts.say(key, days=days_words(count, vocabulary)))

    debt = last_topup = button = None
    if view.debt_cents > 0:
        if view.debt_daily_cents > 0:
            debt = texts.say("debt", amount=amount(view.debt_cents),
                             daily=amount(view.debt_daily_cents))
        else:
            debt = texts.say("debt_no_plan", amount=amount(view.debt_cents))
    if state in CUT:
        button = texts.say("button_electricity" if electricity else "button_gas")
    elif view.last_topup is not None:
        last_topup = texts.say("last_topup", amount=amount(view.last_topup.amount_cents),
                               date=date_words(view.last_topup.at, vocabulary))
    # Within thirty seconds: what does not fit is left out, the last top-up first, then the
    # debt (the CPAS pages show both anyway). Realistic figures fit whole (the tests check).
    if last_topup and spoken_words([*said, debt, last_topup, button]) > MAX_WORDS:
        last_topup = None
    if debt and spoken_words([*said, debt, button]) > MAX_WORDS:
        debt = None
    said += [sentence for sentence in (debt, last_topup, button) if sentence]

    for sentence in said:
        if DIGIT.search(sentence):  # a guard: the voice must never be left to guess a number
            raise ValueError(f"a sentence of the balance message contains a digit: {sentence!r}")
    return said


# The other messages of the call -------------------------------------------------------------------

def known_caller_script(prompts: Prompts, energies: list[str]) -> list[str]:
    """The meters on file for the caller's number, by energy only — their digits are the
    proof asked for, never said — and how to choose one."""
    names = [prompts.say(f"meter_{energy}") for energy in energies]
    listed = names[0] if len(names) == 1 else (
        ", ".join(names[:-1]) + f" {prompts.say('and')} " + names[-1])
    return [prompts.say("known_caller", meters=listed)]


def language_menu(prompts: Mapping[str, Prompts]) -> list[tuple[str, str, str]]:
    """(key, language, text) for the first menu, each option to be said in its own voice."""
    return [(key, language, prompts[language].say("language_option"))
            for key, language in LANGUAGE_MENU]


def closed_script(prompts: Prompts, words: Mapping[str, Vocabulary] | Vocabulary,
                  opens: datetime | None) -> list[str]:
    """Customer service is closed: when it opens, and how to top up meanwhile."""
    vocabulary = _pick(words, prompts.language, Vocabulary, "words")
    when = (prompts.say("service_closed", moment=moment_words(opens, vocabulary))
            if opens is not None else prompts.say("service_closed_for_now"))
    return [when, prompts.say("how_to_top_up")]


def technical_problem_script(prompts: Prompts) -> list[str]:
    """A database or internal error: an apology, the customer service, goodbye."""
    return [prompts.say("technical_problem"), prompts.say("customer_service"),
            prompts.say("goodbye")]


def locked_out_script(prompts: Prompts, words: Mapping[str, Vocabulary] | Vocabulary,
                      wait: timedelta) -> list[str]:
    """Locked out during a call (too many codes): call back in so long, or the customer
    service; goodbye."""
    vocabulary = _pick(words, prompts.language, Vocabulary, "words")
    return [prompts.say("locked_out", wait=wait_words(wait, vocabulary)),
            prompts.say("customer_service"), prompts.say("goodbye")]


def locked_out_greeting(prompts: Mapping[str, Prompts], words: Mapping[str, Vocabulary],
                        wait: timedelta) -> list[tuple[str, str]]:
    """(language, text) said at once to a caller still locked out, before any menu: in each
    language, call back in so long, the customer-service number, goodbye."""
    said = []
    for language in LANGUAGES:
        texts = prompts[language]
        said += [(language, texts.say("locked_out", wait=wait_words(wait, words[language]))),
                 (language, texts.say("customer_service_short")),
                 (language, texts.say("goodbye"))]
    return said


def line_words(locales_dir: Path) -> Callable[[BalanceView, str], list[str]]:
    """What the line says of a balance, in a language: its prompts and words read once, here."""
    prompts, words = load_prompts(locales_dir), load_vocabularies(locales_dir)
    return lambda view, language: balance_script(view, words, prompts, language=language)
