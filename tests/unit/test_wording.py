"""One word per state and language, everywhere a customer or a CPAS reads or hears it: the line
(ivr.json), the SMS and e-mails (messages/), the pages (portal.json). A caller who hears
"déconnecté" on the phone and reads "coupé" in an SMS wonders whether these are two things."""

import json
import re
from pathlib import Path

import pytest

LOCALES = Path(__file__).resolve().parents[2] / "locales"

# The meter's cut state: the one word, and the words that must not stand in for it.
CUT = {"fr": "coupé", "nl": "afgesloten", "de": "abgeschaltet"}
NOT_CUT = {
    "fr": re.compile(r"déconnect|désactiv|débranch", re.IGNORECASE),
    "nl": re.compile(r"gedeactiveerd|uitgeschakeld|losgekoppeld|afgekoppeld|geblokkeerd",
                     re.IGNORECASE),
    "de": re.compile(r"gesperrt|deaktiviert|getrennt|ausgeschaltet|abgeklemmt", re.IGNORECASE),
}
# "About ten minutes at most" is no limit a person can wait for: the test lasts up to 10 minutes.
VAGUE_LIMIT = {
    "fr": re.compile(r"jusqu'à (?:\S+ ){1,2}minutes environ|jusqu'à environ", re.IGNORECASE),
    "nl": re.compile(r"tot ongeveer (?:\S+ )minuten", re.IGNORECASE),
    "de": re.compile(r"bis zu etwa", re.IGNORECASE),
}
# Page texts that speak of the staff's own account and session, not of a meter ("Se
# déconnecter": log out; an account locked after failed log-ins).
SESSION_KEYS = {"log_out", "login_refused", "refusal.login.refused"}


def texts(language: str) -> list[tuple[str, str]]:
    """(where, text) of every customer- and staff-facing text of a language."""
    folder = LOCALES / language
    found = [(f"{path.name}", path.read_text(encoding="utf-8"))
             for path in sorted((folder / "messages").glob("*.j2"))]
    prompts = json.loads((folder / "ivr.json").read_text(encoding="utf-8"))["prompts"]
    found += [(f"ivr.json:{key}", text) for key, text in prompts.items()]
    pages = json.loads((folder / "portal.json").read_text(encoding="utf-8"))
    found += [(f"portal.json:{key}", text) for key, text in pages.items()
              if not key.startswith("_") and key not in SESSION_KEYS]
    return found


@pytest.mark.parametrize("language", sorted(CUT))
def test_a_cut_meter_is_called_one_thing(language):
    offending = [(where, match.group()) for where, text in texts(language)
                 for match in NOT_CUT[language].finditer(text)]
    assert offending == [], f"say {CUT[language]!r} instead"


@pytest.mark.parametrize("language", sorted(CUT))
def test_the_one_word_is_used_on_the_line_in_messages_and_on_the_pages(language):
    where_said = {where.split(":")[0].split(".")[0] if ":" in where else "messages"
                  for where, text in texts(language) if CUT[language] in text.lower()}
    assert {"ivr", "messages", "portal"} <= where_said


@pytest.mark.parametrize("language", sorted(CUT))
def test_a_time_limit_is_a_limit(language):
    offending = [(where, match.group()) for where, text in texts(language)
                 for match in VAGUE_LIMIT[language].finditer(text)]
    assert offending == []
