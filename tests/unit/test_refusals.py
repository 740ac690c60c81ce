"""Every refusal of the ledger (and of who may log in) has a code, and the CPAS pages a
sentence for it in each language.

A refused top-up once showed the ledger's English ("a top-up lies between 5,00 € and 250,00 €")
on French and German pages: these tests keep every raise coded, every code translated, and the
translations fed exactly the values they name."""

import ast
import json
import string
from pathlib import Path

import pytest

import ledger
from ledger import LANGUAGES
from ledger.errors import DEFAULT_REFUSAL, InvalidInput, LedgerError
from portal.access import LoginRefused
from portal.texts import PAGE_REFUSALS as REFUSALS
from portal.texts import REFUSAL_PREFIX, refusal_text

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "ledger"
ACCESS = ROOT / "portal" / "access.py"  # who may log in raises refusals of its own
TEXTS = {language: json.loads((ROOT / "locales" / language / "portal.json")
                              .read_text(encoding="utf-8")) for language in LANGUAGES}
SAMPLES = {"text": "4,9x", "value": "fax", "year": 2000, "min_length": 12, "max_length": 64,
           "username": "a.dupont", "number": 7, "folder": "/srv/saldo", "length": 100}


def coded_raises(source: str, filename: str = "<source>") -> list[str]:
    """What is wrong with each `InvalidInput(...)` in the source: no code, a code REFUSALS does
    not list, or other params than the ones it names. Empty when every raise is right."""
    faults = []
    tree = ast.parse(source, filename)
    # ledger.domain.known(FIELD, value, choices) raises FIELD.unknown with the value: its
    # callers are checked for that, its own raise (whose code it builds) is not.
    builders = {id(node) for function in ast.walk(tree) if isinstance(function, ast.FunctionDef)
                and function.name == "known" for node in ast.walk(function)}
    for node in ast.walk(tree):
        if id(node) in builders:
            continue
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "known":
            field = node.args[0] if node.args else None
            if not (isinstance(field, ast.Constant) and isinstance(field.value, str)):
                faults.append(f"{filename}:{node.lineno}: known's field is no string literal")
            elif REFUSALS.get(f"{field.value}.unknown") != ("value",):
                faults.append(f"{filename}:{node.lineno}: {field.value}.unknown is not in "
                              "REFUSALS with its value")
            continue
        if not (isinstance(node, ast.Call) and (
                getattr(node.func, "id", None) == "InvalidInput"
                or getattr(node.func, "attr", None) == "InvalidInput")):
            continue
        where = f"{filename}:{node.lineno}"
        code_node = node.args[2] if len(node.args) > 2 else next(
            (k.value for k in node.keywords if k.arg == "code"), None)
        if not (isinstance(code_node, ast.Constant) and isinstance(code_node.value, str)):
            faults.append(f"{where}: no code (a string literal)")
            continue
        code = code_node.value
        if code not in REFUSALS:
            faults.append(f"{where}: {code!r} is not in REFUSALS")
            continue
        if any(k.arg is None for k in node.keywords):
            faults.append(f"{where}: **params hide which values {code} gets")
            continue
        given = {k.arg for k in node.keywords if k.arg != "code"}
        if given != set(REFUSALS[code]):
            faults.append(f"{where}: {code} gets {sorted(given)}, names {list(REFUSALS[code])}")
    return faults


def placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name is not None}


def test_the_check_of_the_raises_sees_each_fault():
    bad = '''
raise InvalidInput("amount", "too small")
raise InvalidInput("amount", "too small", "amount.too_small")
raise InvalidInput("amount", "too small", "amount.out_of_range", low_cents=500)
raise errors.InvalidInput("x", "y", code="value.required", extra=1)
raise InvalidInput("x", "y", "value.required", **values)
known(field, "x", CHOICES)
known("flavour", "x", CHOICES)
'''
    good = '''
raise InvalidInput("a", "b", "amount.out_of_range", low_cents=1, high_cents=2)
known("language", "x", LANGUAGES)
'''
    assert len(coded_raises(bad)) == 7
    assert coded_raises(good) == []


def test_every_invalid_input_the_ledger_and_access_raise_has_a_known_code_and_its_params():
    files = [*sorted(LEDGER.glob("*.py")), ACCESS]
    raises = sum(ast.unparse(ast.parse(p.read_text())).count("InvalidInput(") for p in files)
    assert raises >= 40  # the pass does read the ledger's raises
    faults = [fault for path in files
              for fault in coded_raises(path.read_text(encoding="utf-8"), path.name)]
    assert faults == []


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def test_every_other_ledger_error_has_a_known_code():
    errors = _subclasses(LedgerError)
    assert {cls.__name__ for cls in errors} >= {"InvalidInput", "UnknownAccount",
                                                "ReferenceConflict", "DemoRefused", "LoginRefused"}
    assert LoginRefused("wrong").code == "login.refused"
    assert all(cls.code in REFUSALS for cls in errors)
    assert ledger.UnknownAccount("x").code == "account.unknown"
    assert ledger.ReferenceConflict("R-1").code == "reference.conflict"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_code_has_a_sentence_naming_exactly_its_params(language):
    texts = TEXTS[language]
    missing = [code for code in REFUSALS if REFUSAL_PREFIX + code not in texts]
    assert missing == []
    stale = [key for key in texts if key.startswith(REFUSAL_PREFIX)
             and key.removeprefix(REFUSAL_PREFIX) not in REFUSALS]
    assert stale == []
    wrong = {code: sorted(placeholders(texts[REFUSAL_PREFIX + code]))
             for code, names in REFUSALS.items()
             if placeholders(texts[REFUSAL_PREFIX + code]) != set(names)}
    assert wrong == {}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_each_sentence_is_written_with_sample_values(language, code):
    params = {name: 1234 if name.endswith("_cents") else SAMPLES[name] for name in REFUSALS[code]}
    error = InvalidInput("field", "the English", code, **params)
    text = refusal_text(error, TEXTS[language], language)
    assert text == text.strip() and (text[0].isupper() or text[0] in "«“„") and text[-1] == "."
    assert "{" not in text and "}" not in text
    for name, value in params.items():
        shown = {"fr": "12,34 €", "de": "12,34 €", "nl": "€ 12,34"}[language] \
            if name.endswith("_cents") else str(value)
        assert shown in text.replace("\xa0", " ")
    if code != DEFAULT_REFUSAL:  # what it says is the code's, not the catch-all's
        assert text != TEXTS[language][REFUSAL_PREFIX + DEFAULT_REFUSAL]


@pytest.mark.parametrize("language, expected", [
    ("fr", "Un rechargement doit être compris entre 5,00 € et 250,00 €."),
    ("nl", "Een oplading moet tussen € 5,00 en € 250,00 liggen."),
    ("de", "Eine Aufladung muss zwischen 5,00 € und 250,00 € liegen."),
])
def test_the_top_up_limits_in_the_staffs_language(language, expected):
    error = InvalidInput("amount", "a top-up lies between 5,00 € and 250,00 €",
                         "amount.out_of_range", low_cents=500, high_cents=25000)
    assert refusal_text(error, TEXTS[language], language).replace("\xa0", " ") == expected


def test_an_unknown_code_or_a_missing_param_says_the_catch_all_not_the_english(caplog):
    fallback = TEXTS["de"][REFUSAL_PREFIX + DEFAULT_REFUSAL]
    unknown = InvalidInput("amount", "a top-up lies between", "amount.brand_new")
    short = InvalidInput("amount", "a top-up lies between", "amount.out_of_range", low_cents=500)
    assert refusal_text(unknown, TEXTS["de"], "de") == fallback
    assert refusal_text(short, TEXTS["de"], "de") == fallback
    assert "amount.brand_new" in caplog.text and "amount.out_of_range" in caplog.text
