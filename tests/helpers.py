"""Small helpers shared by the page tests."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, event

GOOD_FORM = {
    "name": "Jane Citizen",
    "email": "jane@example.org",
    "street": "12 Example St",
    "suburb": "Braddon",
    "state": "",
    "postcode": "2001",
    "statistics": ["afp-reports", "tech-enabled"],
    "recommendations": ["increase-fines", "expand-expectations", "duty-of-care"],
    "personal_note": "My niece is eleven and online every day.",
    "delivery": "pdf",
}


def csrf_token(client: FlaskClient, url: str = "/write") -> str:
    """The CSRF token from a page's form, as a browser would submit it."""
    return csrf_token_in(client.get(url).get_data(as_text=True))


def csrf_token_in(page: str) -> str:
    """The CSRF token in a page's HTML."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    found = tag and re.search(r'value="([^"]+)"', tag.group(0))
    assert found, "no CSRF token on the page"
    return found.group(1)


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden fields of a page's form (its CSRF token and start token), as sent back."""
    fields = {}
    for tag in re.findall(r'<input[^>]*type="hidden"[^>]*>', page):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def submit(client: FlaskClient, url: str = "/write", **changes: object):
    """POST the good form as a browser would, from a fresh showing of the page, with some
    fields changed (None removes a field)."""
    return post_form(client, url, client.get(url).get_data(as_text=True), **changes)


def post_form(client: FlaskClient, url: str, page: str, **changes: object):
    """POST the good form with the hidden fields of `page`, a showing of the form."""
    data = {**hidden_fields(page), "website": "", **GOOD_FORM, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    assert data.get("csrf_token") or "csrf_token" in changes, "no CSRF token on the page"
    return client.post(url, data=data)


@contextmanager
def statements_of(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block, in order (an executemany is one)."""
    statements: list[str] = []

    def listener(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def examples(in_ci: int) -> int:
    """How many examples a property test draws: `in_ci` on CI's fixed seed, far more when
    exploring with HYPOTHESIS_PROFILE=explore (tests/conftest.py)."""
    return in_ci if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else in_ci * 25


class _TableReader(HTMLParser):
    """Collects a page's first table as header texts and rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_head = False
        self._tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._tables += 1
        if self._tables != 1:
            return
        if tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head:
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._tables != 1:
            return
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            (self.headers if self._in_head else self.rows[-1]).append(text)
            self._cell = None
        elif tag == "table":
            self._tables += 1  # only the first table is read

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(page: str) -> list[dict[str, str]]:
    """The page's first table, one dict per body row keyed by its column headings, so that a
    test names the column it reads and a reordered table cannot make it read another."""
    reader = _TableReader()
    reader.feed(page)
    return [dict(zip(reader.headers, row, strict=True)) for row in reader.rows if row]


def campaigns_folder(folder: Path, key: str, title: str = "") -> Path:
    """A campaigns folder holding the shipped campaign and a copy of it under another key
    (and title, if given), for tests of anything a letter's campaign decides."""
    from letters.settings import PROJECT_ROOT

    shipped = PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml"
    text = shipped.read_text(encoding="utf-8")
    folder.mkdir()
    (folder / shipped.name).write_text(text, encoding="utf-8")
    second = text.replace("key: tougher-on-tech", f"key: {key}", 1)
    if title:
        second = second.replace("title: Tougher on Tech", f"title: {title}", 1)
    (folder / f"{key}.yaml").write_text(second, encoding="utf-8")
    return folder
