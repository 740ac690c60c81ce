"""A code said instead of typed: what recognisers return for spoken digit strings, read as the
digits meant — in Belgian French, Dutch and German — and what cannot be read, refused whole."""

import pytest

from ivr.heard import digits_heard, hints

CODE = "5414490000000017"  # not a real EAN: the digits a caller reads out

HEARD = [
    # One digit at a time, as most callers read a code.
    ("fr", "cinq quatre un quatre quatre neuf zéro zéro zéro zéro zéro zéro zéro zéro un sept",
     CODE),
    ("nl", "vijf vier één vier vier negen nul nul nul nul nul nul nul nul één zeven", CODE),
    ("de", "fünf vier eins vier vier neun null null null null null null null null eins sieben",
     CODE),
    # By pairs, Belgian French: septante, nonante, quatre-vingt (80), with or without hyphens.
    ("fr", "cinquante-quatre quatorze quarante-neuf double zéro double zéro double zéro "
           "double zéro dix-sept", CODE),
    ("fr", "quatre-vingt-deux septante et un nonante-neuf", "827199"),
    ("fr", "quatre vingt dix sept soixante dix soixante et onze", "977071"),
    ("fr", "Quatre-vingts, zéro cinq.", "8005"),
    ("fr", "cent vingt-trois deux cents", "123200"),
    # Dutch and German say the unit first, in one word or three.
    ("nl", "vierenvijftig veertien negenenveertig dubbel nul", "54144900"),
    ("nl", "vier en vijftig, eenentwintig", "5421"),
    ("de", "vierundfünfzig vierzehn neunundvierzig doppel null", "54144900"),
    ("de", "zwo einundzwanzig dreißig zwölf", "2213012"),
    # Recognisers write some of it as figures, grouped their own way.
    ("fr", "54 14 49 00 00 00 00 17", CODE),
    ("nl", "5414 4900 0000 0017", CODE),
    ("de", "fünf 4 eins 449", "54144 9".replace(" ", "")),
    # Pauses and hesitations.
    ("fr", "euh... cinq, quatre, un", "541"),
    ("de", "ähm fünf vier", "54"),
    # Only fillers: nothing heard.
    ("fr", "euh", ""),
]


@pytest.mark.parametrize("language, words, digits", HEARD)
def test_what_recognisers_return_is_read_as_the_digits_meant(language, words, digits):
    assert digits_heard(words, language) == digits


@pytest.mark.parametrize("language, words", [
    ("fr", "je ne sais pas"),
    ("fr", "cinq quatre un et puis"),
    ("nl", "mijn code is vijf"),
    ("de", "fünf vier eins bitte"),
    ("de", "cinq quatre"),  # another language's words
])
def test_words_that_are_no_digits_make_the_whole_unreadable(language, words):
    assert digits_heard(words, language) is None


@pytest.mark.parametrize("language", ["fr", "nl", "de"])
def test_the_recogniser_is_told_the_words_of_digits(language):
    said = hints(language).split(", ")
    assert len(said) >= 10
    assert all(digits_heard(word, language) is not None for word in said)
