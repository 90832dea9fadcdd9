"""The README's settings table is the one list of what can be set: every variable the code
reads has its row, and every row is a variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The product's own variables and SendGrid's; LETTERS_TEST_* steer only the tests.
VARIABLE = re.compile(r"\b(?:LETTERS|SENDGRID)_[A-Z0-9_]*[A-Z0-9]\b")


def _read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in ("letters", "tasks"):
        for source in (ROOT / folder).rglob("*.py"):
            names |= set(VARIABLE.findall(source.read_text(encoding="utf-8")))
    return {name for name in names if not name.startswith("LETTERS_TEST_")}


def _settings_rows() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Settings (environment)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in VARIABLE.findall(row.split(" | ")[0])}


def test_every_setting_the_code_reads_has_a_row_in_the_readme():
    missing = _read_by_code() - _settings_rows()
    assert not missing, f"add these to the README's settings table: {sorted(missing)}"


def test_every_row_of_the_settings_table_is_read_by_the_code():
    stale = _settings_rows() - _read_by_code()
    assert not stale, f"the README lists settings nothing reads: {sorted(stale)}"
