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
