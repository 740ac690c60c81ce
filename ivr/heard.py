"""A code said instead of typed: the words Twilio's recogniser returns, read as digits. Pure.

Callers say an EAN's digits one by one ("cinq, quatre, un"), by pairs ("cinquante-quatre,
quatorze"), with "double" ("double zéro"), in Belgian French (septante, nonante, and
quatre-vingt for 80), Dutch ("vierenvijftig", "vier en vijftig") or German ("vierundfünfzig",
"zwo"); recognisers write some of it as figures ("54 14 49"). Each number heard becomes its
digits, in order; fillers ("euh", "ähm") are skipped; any other word makes the whole unreadable
(None), which the line treats as a mistyped code.

    digits_heard("cinq quatre un quatre quatre neuf zéro zéro", "fr")   # "54144900"
"""

import re
import unicodedata

UNITS = {
    "fr": {"zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
           "sept": 7, "huit": 8, "neuf": 9},
    "nl": {"nul": 0, "een": 1, "eén": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6,
           "zeven": 7, "acht": 8, "negen": 9},
    "de": {"null": 0, "eins": 1, "ein": 1, "eine": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4,
           "funf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9},
}
TEENS = {
    "fr": {"dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
           "seize": 16},
    "nl": {"tien": 10, "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14, "vijftien": 15,
           "zestien": 16, "zeventien": 17, "achttien": 18, "negentien": 19},
    "de": {"zehn": 10, "elf": 11, "zwolf": 12, "dreizehn": 13, "vierzehn": 14, "funfzehn": 15,
           "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19},
}
TENS = {
    "fr": {"vingt": 20, "vingts": 20, "trente": 30, "quarante": 40, "cinquante": 50,
           "soixante": 60, "septante": 70, "huitante": 80, "octante": 80, "nonante": 90},
    "nl": {"twintig": 20, "dertig": 30, "veertig": 40, "vijftig": 50, "zestig": 60,
           "zeventig": 70, "tachtig": 80, "negentig": 90},
    "de": {"zwanzig": 20, "dreissig": 30, "vierzig": 40, "funfzig": 50, "sechzig": 60,
           "siebzig": 70, "achtzig": 80, "neunzig": 90},
}
HUNDRED = {"fr": {"cent", "cents"}, "nl": {"honderd"}, "de": {"hundert"}}
AND = {"fr": {"et"}, "nl": {"en"}, "de": {"und"}}  # "vingt et un", "vier en vijftig"
REPEATS = {"fr": {"double": 2, "triple": 3}, "nl": {"dubbel": 2, "dubbele": 2},
           "de": {"doppel": 2, "doppelt": 2}}
FILLERS = {"fr": {"euh", "heu", "hum", "alors", "bon"}, "nl": {"eh", "euh", "uh", "ehm", "nou"},
           "de": {"ah", "ahm", "ehm", "hm", "also"}}
# What the recogniser is told to expect: the words of digits and numbers, in each language.
_SPOKEN = {"fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf",
                  "dix", "septante", "nonante", "double"),
           "nl": ("nul", "één", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen",
                  "tien", "dubbel"),
           "de": ("null", "eins", "zwei", "zwo", "drei", "vier", "fünf", "sechs", "sieben", "acht",
                  "neun", "zehn", "doppel")}


def hints(language: str) -> str:
    """Twilio's `hints` for a <Gather> that listens for a code in `language`."""
    return ", ".join(_SPOKEN[language])


def _plain(text: str) -> str:
    """Lower case, accents and ß folded: "Fünf" and "funf", "zéro" and "zero" are one word."""
    text = text.lower().replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _compound(word: str, language: str) -> int | None:
    """Dutch and German say the unit first, in one word: vierenvijftig, vierundfünfzig (54)."""
    joint = {"nl": "en", "de": "und"}.get(language)
    if joint is None:
        return None
    for tens_word, tens in TENS[language].items():
        if word.endswith(tens_word):
            head = word[: -len(tens_word)]
            if head.endswith(joint):
                unit = UNITS[language].get(head[: -len(joint)])
                if unit:
                    return tens + unit
    return None


def digits_heard(text: str, language: str) -> str | None:
    """The digits said in `text`, in order; None if a word is neither a number nor a filler."""
    words = [w for w in re.split(r"[\s,.;:!?/\-–]+", _plain(text)) if w]
    digits: list[str] = []
    group: int | None = None  # the number being heard, until a word cannot add to it
    joined = False  # the previous word was "et" / "en" / "und"
    repeat = 1

    def flush() -> None:
        nonlocal group, repeat
        if group is not None:
            digits.append(str(group) * repeat)
            group, repeat = None, 1

    units, teens, tens = UNITS[language], TEENS[language], TENS[language]
    for word in words:
        if word.isdigit():  # figures, as recognisers often write them
            flush()
            digits.append(word * repeat)
            repeat = 1
            continue
        if word in FILLERS[language]:
            continue
        if word in AND[language]:
            joined = group is not None
            continue
        if word in REPEATS[language]:
            flush()
            repeat = REPEATS[language][word]
            continue
        after_and, joined = joined, False
        if (value := _compound(word, language)) is not None:
            flush()
            group = value
        elif word in HUNDRED[language]:
            if group is not None and 1 <= group <= 9:
                group *= 100  # deux cents
            else:
                flush()
                group = 100
        elif word in tens:
            value = tens[word]
            if group is not None and group >= 100 and group % 100 == 0:
                group += value  # cent vingt
            elif language == "fr" and value == 20 and group == 4:
                group = 80  # quatre-vingt(s)
            elif language != "fr" and after_and and group is not None and 1 <= group <= 9:
                group += value  # vier en vijftig, vier und fünfzig
            else:
                flush()
                group = value
        elif word in teens:
            value = teens[word]
            if group is not None and (group in (60, 80) or (group >= 100 and group % 100 == 0)):
                group += value  # soixante-dix-sept, quatre-vingt-douze, cent douze
            else:
                flush()
                group = value
        elif word in units:
            value = units[word]
            if value == 0:
                flush()
                digits.append("0" * repeat)
                repeat = 1
            elif group is not None and group % 10 == 0 and group >= 20 and language == "fr":
                group += value  # vingt-deux, septante et un, cent trois... (fr: tens first)
            elif group is not None and group >= 100 and group % 100 == 0:
                group += value  # honderd drie
            elif group is not None and group in (10, 70, 90) and language == "fr":
                group += value  # dix-sept
            else:
                flush()
                group = value
        else:
            return None
    flush()
    return "".join(digits)
