"""The house's boundaries, read from the source: the composition root (saldo/) wires the
packages and none of them imports it; the ledger knows nothing of HTTP, Twilio, templates or
the packages that use it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["ledger", "ivr", "messaging", "portal", "webhooks", "wording"]
# The packages that speak to people: each its own, sharing only the ledger, the wording and
# the web boundary; what one needs of another the composition root gives it.
PEERS = {"ivr", "messaging", "portal"}


def imported_modules(package: str) -> dict[str, set[str]]:
    """Each module of the package: the top-level names of what it imports (relative imports
    are the package's own)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_the_composition_root(package):
    offenders = [module for module, names in imported_modules(package).items()
                 if "saldo" in names]
    assert offenders == []


def test_the_ledger_knows_nothing_of_the_web_twilio_templates_or_its_users():
    outside = {"aiohttp", "twilio", "jinja2", "babel", "ivr", "messaging", "portal", "webhooks",
               "wording", "saldo"}
    offenders = {module: sorted(names & outside)
                 for module, names in imported_modules("ledger").items() if names & outside}
    assert offenders == {}


@pytest.mark.parametrize("package", sorted(PEERS))
def test_peers_do_not_borrow_from_each_other(package):
    offenders = {module: sorted(names & (PEERS - {package}))
                 for module, names in imported_modules(package).items() if names & (PEERS - {package})}
    assert offenders == {}


def test_the_wording_knows_only_the_ledger():
    offenders = {module: sorted(names & (PEERS | {"webhooks", "saldo"}))
                 for module, names in imported_modules("wording").items()
                 if names & (PEERS | {"webhooks", "saldo"})}
    assert offenders == {}


def test_no_other_package_reaches_the_ledgers_tables():
    """Through its service functions and its balance view only (README): its tables and their
    migrations are the ledger's."""
    tables = {"ledger.schema", "ledger.migrations", "ledger.rawsqlite"}
    offenders = {}
    for package in [*PACKAGES, "saldo"]:
        if package == "ledger":
            continue
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                         and node.level == 0 else [])
                names += [f"{node.module}.{alias.name}" for alias in getattr(node, "names", [])
                          if isinstance(node, ast.ImportFrom) and node.module == "ledger"]
                if set(names) & tables:
                    offenders[str(path.relative_to(ROOT))] = sorted(set(names) & tables)
    assert offenders == {}


def test_every_package_is_read():  # a renamed folder must not make the checks above pass empty
    for package in PACKAGES:
        assert imported_modules(package), package

