"""The README's settings table names every LETTERS_* setting the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from letters import settings

README = Path(settings.PROJECT_ROOT / "README.md")


def _table() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Settings (environment)")
    return text[start : text.index("\n## ", start + 1)]


def test_every_setting_has_a_row_in_the_settings_table():
    read = set(re.findall(r"LETTERS_[A-Z0-9_]+", Path(settings.__file__).read_text()))
    rows = [line for line in _table().splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"LETTERS_[A-Z0-9_]+", row)}
    assert read - documented == set()


def test_the_follow_up_settings_are_in_the_table():
    table = _table()
    for name in (
        "LETTERS_FOLLOWUP_AFTER_DAYS",
        "LETTERS_FOLLOWUP_REMINDER_DAYS",
        "LETTERS_FOLLOWUP_AGAIN_DAYS",
        "LETTERS_FOLLOWUP_REPLY_TO",
    ):
        assert f"`{name}`" in table
