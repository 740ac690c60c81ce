"""A name as the residents list searches and sorts it: case and accents aside ('zoe' finds
'Zoé', 'nguyen' finds 'Nguyễn', 'strasse' finds 'Straße'). Folded here, in Python, when the name
is written, and kept beside it (accounts.name_key): both databases then search and sort the same
text the same way, whatever the script — PostgreSQL's translate() and lower() only knew the
accented Latin letters they were given, and lower() depends on the server's locale."""

import unicodedata


def folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_key(name: str | None) -> str | None:
    return None if name is None else folded(name)
