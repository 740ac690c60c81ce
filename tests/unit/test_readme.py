"""The README's promises that a change could silently break."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\n\n```sh\n(.*?)```", readme, re.S)
    assert block, "the README has a Quick start code block"
    return block.group(1).strip().splitlines()


def test_the_quick_start_is_two_command_lines():
    lines = quick_start()
    assert len(lines) == 2
    assert lines[0].endswith("saldo demo")


def test_ci_runs_the_readme_test_command_word_for_word():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start()[1] in ci


def test_every_setting_the_code_reads_is_documented():
    readme = (ROOT / "README.md").read_text()
    code = (ROOT / "saldo" / "settings.py").read_text()
    names = set(re.findall(r'"([A-Z][A-Z_]{2,})"', code))  # not "AC", a SID prefix
    assert names, "settings.py reads environment variables by name"
    missing = {name for name in names if f"`{name}`" not in readme}
    assert not missing


def test_the_procfile_runs_the_server_and_the_worker():
    procfile = (ROOT / "Procfile").read_text().splitlines()
    assert "web: saldo serve" in procfile
    assert "worker: saldo worker" in procfile


# --- The code layout and the links ---------------------------------------------------------

# Every package of the project: a new one is named in the README as soon as it exists.
PACKAGES = sorted(path.parent.name for path in ROOT.glob("*/__init__.py")
                  if path.parent.name != "tests")


def section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    found = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert found, f"the README has a '## {heading}' section"
    return found.group(1)


def test_the_code_layout_names_every_module_by_its_path():
    layout = section((ROOT / "README.md").read_text(), "Code layout")
    modules = [path.relative_to(ROOT).as_posix()
               for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
               if "__pycache__" not in path.parts]
    assert len(modules) > 50, "the packages' modules are found"  # a moved folder must not pass
    missing = [module for module in modules if f"`{module}`" not in layout]
    assert not missing, "name each module in the README's Code layout, with its purpose"


def test_the_code_layout_names_every_package():
    layout = section((ROOT / "README.md").read_text(), "Code layout")
    missing = [f"{package}/" for package in [*PACKAGES, "tests", "bench"]
               if f"`{package}/`" not in layout]
    assert not missing


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(files) > 1, "the README and docs/"
    return files


def without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def without_code(text: str) -> str:
    """Markdown with its code blocks and code spans blanked: `[x](y)` in code is no link."""
    return re.sub(r"`[^`]+`", "", without_code_blocks(text))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces
    as hyphens, a repeated one numbered."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", without_code_blocks(path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def links(path: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", without_code(path.read_text()))


def test_every_relative_link_in_the_readme_and_docs_leads_somewhere():
    broken = []
    for source in markdown_files():
        for link in links(source):
            if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto:
                continue
            target, _, anchor = link.partition("#")
            path = (source.parent / target).resolve() if target else source
            if not path.exists():
                broken.append(f"{source.name}: {link} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{source.name}: {link} (no such heading)")
    assert not broken


def test_the_readme_links_every_file_in_docs():
    readme = (ROOT / "README.md").read_text()
    unlinked = [path.name for path in markdown_files()[1:] if f"](docs/{path.name}" not in readme]
    assert not unlinked
