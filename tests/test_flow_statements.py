"""Each request of a supporter's email letter costs at most so many SQL statements.

A bound, not a time: a count does not depend on the machine, and a change that adds a query to
a route (a lazy load, a look-up repeated between two pages) fails here by name.
benchmarks/supporter_flow.py measures the times.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from werkzeug.test import TestResponse

from letters.extensions import db
from letters.mail.content import confirm_url
from letters.models import Message
from tests.helpers import csrf_token_in, post_form, statements_of

# The statements each route needs today, and why (SQLite and PostgreSQL alike):
BOUNDS = {
    # the form alone
    "GET /write": 0,
    # the form's nonce (clean-up, insert), the weekly limit, the daily limit (count,
    # clean-up, insert), the letter and its own words' shingles
    "POST /write": 8,
    # the letter, its own words' overlap with other letters
    "GET /letters/<token>": 2,
    # the letter, the weekly limit
    "GET /confirm/<token>": 2,
    # the letter, the confirming UPDATE (which checks the limits itself)
    "POST /confirm/<token>": 2,
}


def test_each_request_of_the_flow_stays_within_its_statements(app_with_data):
    client = app_with_data.test_client()
    counts: dict[str, int] = {}

    def counted(route: str, call: Callable[[], TestResponse], status: int) -> TestResponse:
        with app_with_data.app_context(), statements_of(db.engine) as statements:
            response = call()
        assert response.status_code == status, route
        counts[route] = len(statements)
        return response

    # Two supporters, the second one counted: nothing a first request alone does is counted.
    for n in range(2):
        page = counted("GET /write", lambda: client.get("/write"), 200).get_data(as_text=True)
        saved = counted(
            "POST /write",
            lambda page=page, n=n: post_form(
                client, "/write", page, email=f"supporter{n}@example.org", delivery="email"
            ),
            303,
        )
        letter_path = saved.headers["Location"]
        counted("GET /letters/<token>", lambda path=letter_path: client.get(path), 200)
        with app_with_data.app_context():
            token = letter_path.rsplit("/", 1)[1]
            message = db.session.scalar(select(Message).where(Message.token == token))
            path = "/confirm/" + confirm_url(message).rsplit("/confirm/", 1)[1]
        shown = counted("GET /confirm/<token>", lambda path=path: client.get(path), 200)
        csrf = csrf_token_in(shown.get_data(as_text=True))
        counted(
            "POST /confirm/<token>",
            lambda path=path, csrf=csrf: client.post(path, data={"csrf_token": csrf}),
            303,
        )
    assert set(counts) == set(BOUNDS)
    over = {route: (n, BOUNDS[route]) for route, n in counts.items() if n > BOUNDS[route]}
    assert not over, f"more statements than their bound (count, bound): {over}"
    with app_with_data.app_context():
        assert db.session.scalar(select(Message.state).where(Message.token == token)) == "queued"
