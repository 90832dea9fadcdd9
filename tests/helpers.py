"""Small helpers shared by the page tests."""

from __future__ import annotations

import os
import re

from flask.testing import FlaskClient

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


def submit(client: FlaskClient, url: str = "/write", **changes: object):
    """POST the good form with some fields changed (None removes a field)."""
    data = {**GOOD_FORM, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    data["csrf_token"] = csrf_token(client, url)
    return client.post(url, data=data)


def examples(in_ci: int) -> int:
    """How many examples a property test draws: `in_ci` on CI's fixed seed, far more when
    exploring with HYPOTHESIS_PROFILE=explore (tests/conftest.py)."""
    return in_ci if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else in_ci * 25
