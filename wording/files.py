"""Reading the locale folders (locales/<language>/): whatever is wrong is a LocaleError whose
message names the file, and the key where there is one, so that a translator can fix it."""

import json
from pathlib import Path


class LocaleError(ValueError):
    """A locale file that cannot be used; refused at start, never while a caller waits."""


def read_json(locales: Path, language: str, name: str) -> dict:
    """locales/<language>/<name>, a JSON object."""
    path = Path(locales) / language / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LocaleError(f"{path}: missing (every language needs it)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LocaleError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise LocaleError(f"{path}: expected an object of key: value")
    return data
