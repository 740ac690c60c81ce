"""What an SMS to the service asks for, read from the customer's words: a keyword of one of the
three languages (locales/<language>/sms.json), case and accents aside, then perhaps the 13
digits of a meter's code; or a digit from 1 to 5, the survey's answer. Anything else asks for
help. Pure: text in, a request out.
"""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger import LANGUAGES, SmsRequest
from ledger.ean import SHORT_LENGTH
from wording import LocaleError, read_json

KEYWORDS_FILE = "sms.json"
KEYWORD_REQUESTS = (SmsRequest.BALANCE, SmsRequest.STOP, SmsRequest.START, SmsRequest.HELP)
FULL_EAN_LENGTH = 18
# What is read of a body: Twilio's are at most 1,600 characters; a keyword comes first.
READ_AT_MOST = 200
_WORD = re.compile(r"[A-Z]+")


@dataclass(frozen=True)
class Asked:
    request: SmsRequest
    words: str  # the keyword as read (capitals, no accents), or the body's start
    digits: str | None = None
    score: int | None = None
    language: str | None = None  # when only one language has the keyword


@dataclass(frozen=True)
class Keywords:
    """Each keyword (capitals, no accents): what it asks, and its language if only one has it."""

    meaning: Mapping[str, tuple[SmsRequest, str | None]]

    @classmethod
    def load(cls, locales: Path) -> "Keywords":
        languages_of: dict[str, set[str]] = {}
        request_of: dict[str, SmsRequest] = {}
        for language in LANGUAGES:
            data = read_json(locales, language, KEYWORDS_FILE)
            where = Path(locales) / language / KEYWORDS_FILE
            for request in KEYWORD_REQUESTS:
                words = data.get(request.value)
                if not isinstance(words, list) or not words:
                    raise LocaleError(f"{where}: {request.value!r} needs a list of words")
                for word in words:
                    if not isinstance(word, str) or plain(word) != word or not _WORD.fullmatch(word):
                        raise LocaleError(f"{where}: {word!r} is not a word in capitals "
                                          f"without accents (as customers' words are read)")
                    if request_of.setdefault(word, request) != request:
                        raise LocaleError(f"{where}: {word!r} means {request_of[word]} in "
                                          f"another language, {request.value} here")
                    languages_of.setdefault(word, set()).add(language)
        return cls({word: (request_of[word], next(iter(found)) if len(found) == 1 else None)
                    for word, found in languages_of.items()})

    def read(self, body: str) -> Asked:
        text = plain(body[:READ_AT_MOST])
        head = text.strip(" .!?,;:-")
        if head in {str(score) for score in range(1, 6)}:
            return Asked(SmsRequest.SCORE, head, score=int(head))
        match = _WORD.match(head)
        word = match.group() if match else ""
        if word not in self.meaning:
            return Asked(SmsRequest.HELP, word[:20])
        request, language = self.meaning[word]
        digits = re.sub(r"\D", "", head[len(word):])
        if request is not SmsRequest.BALANCE or not digits:
            return Asked(request, word, language=language)  # "STOP merci", "SOLDE svp"
        if len(digits) in (SHORT_LENGTH, FULL_EAN_LENGTH):
            return Asked(request, word, digits=digits[-SHORT_LENGTH:], language=language)
        return Asked(SmsRequest.HELP, word, language=language)  # digits of no meter's code

def plain(text: str) -> str:
    """Capitals without accents: "Arrêt" → "ARRET", "ß" → "SS"."""
    decomposed = unicodedata.normalize("NFKD", text.upper())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
