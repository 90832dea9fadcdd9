"""Organiser accounts: created from the CLI, hashed, logged in and out, expiring, rate limited."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from sqlalchemy import func, select

from letters import clock
from letters.extensions import db
from letters.models import Organiser, OrganiserSession
from letters.organiser import auth
from letters.organiser.throttle import DEVICE_COOKIE, FREE_GUESSES, MAX_WAIT, wait_after
from tests.conftest import FULL_PASSWORD_HASH_METHOD
from tests.organiser_helpers import PASSWORD, csrf, login, make_organiser


def test_the_cli_creates_an_organiser_with_a_hashed_password(app, runner, monkeypatch):
    # At the cost the product uses, not the tests' cheap one (conftest.py).
    monkeypatch.setattr(auth, "PASSWORD_HASH_METHOD", FULL_PASSWORD_HASH_METHOD)
    result = runner.invoke(
        args=["organiser", "create", "Org@Example.ORG"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Created organiser org@example.org" in result.output
    with app.app_context():
        organiser = db.session.scalar(select(Organiser))
        assert organiser.email == "org@example.org"
        assert PASSWORD not in organiser.password_hash
        assert organiser.password_hash.startswith("scrypt:32768:8:1$")  # werkzeug's default

    again = runner.invoke(
        args=["organiser", "create", "org@example.org"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert again.exit_code != 0 and "already an organiser" in again.output
    short = runner.invoke(args=["organiser", "create", "b@example.org"], input="short\nshort\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    mismatch = runner.invoke(
        args=["organiser", "create", "c@example.org"], input=f"{PASSWORD}\nother\n" * 3
    )
    assert mismatch.exit_code != 0


def test_every_organiser_page_needs_a_login(app, client):
    token = csrf(client)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("organiser.") or rule.endpoint == "organiser.login":
            continue
        values = {
            "event_id": 1,
            "attendee_id": 1,
            "job_id": uuid.uuid4(),
            "name": "letters.pdf",
            "kind": "letters",
        }
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{k: v for k, v in values.items() if k in rule.arguments})
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.location.startswith("/organiser/login?next="), (method, url)
            checked += 1
    assert checked >= 15


def test_log_in_and_out(app, client):
    make_organiser(app)
    wrong = login(client, password="not the password")
    assert wrong.status_code == 401
    assert "do not match an organiser account" in wrong.get_data(as_text=True)
    unknown = login(client, email="nobody@example.org")
    assert unknown.status_code == 401

    right = login(client, email="  ORGANISER@example.org ")
    assert right.status_code == 303 and right.location == "/organiser/"
    page = client.get("/organiser/")
    assert page.status_code == 200 and "organiser@example.org" in page.get_data(as_text=True)

    out = client.post("/organiser/logout", data={"csrf_token": csrf(client, "/organiser/")})
    assert out.status_code == 303
    assert client.get("/organiser/").status_code == 302


def test_login_goes_back_only_to_this_site(app, client):
    make_organiser(app)
    token = csrf(client)
    data = {"email": "organiser@example.org", "password": PASSWORD, "csrf_token": token}
    inside = client.post("/organiser/login?next=/organiser/events/new", data=data)
    assert inside.location == "/organiser/events/new"
    client.post("/organiser/logout", data={"csrf_token": csrf(client, "/organiser/")})
    data["csrf_token"] = csrf(client)
    outside = client.post("/organiser/login?next=//evil.example/", data=data)
    assert outside.location == "/organiser/"


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/phish",  # a browser drops the tab: //evil.example/phish
        "//evil.example/",
        "/%5Cevil.example/",  # a backslash reads as a slash
        "/%5C%5Cevil.example/",
        "/%0d%0aX:1",  # a line break would reach the Location header
        "/organiser/%0aevil",
        "/%00",
        "/%7F",
        "http://evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/%C3%A9",
        "",
    ],
)
def test_login_refuses_to_go_anywhere_but_a_path_here(app, client, target):
    make_organiser(app)
    data = {"email": "organiser@example.org", "password": PASSWORD, "csrf_token": csrf(client)}
    response = client.post(f"/organiser/login?next={target}", data=data)
    assert response.status_code == 303
    assert response.location == "/organiser/"
    assert client.get("/organiser/").status_code == 200


def test_forms_need_their_csrf_token(app, client):
    make_organiser(app)
    refused = client.post(
        "/organiser/login", data={"email": "organiser@example.org", "password": PASSWORD}
    )
    assert refused.status_code == 400
    login(client)
    assert client.post("/organiser/logout").status_code == 400
    assert client.get("/organiser/").status_code == 200  # still logged in


@pytest.mark.parametrize(
    ("key", "age_seconds"),
    [("organiser_seen", 121 * 60), ("organiser_since", 12 * 3600 + 60)],
    ids=["idle", "too-long"],
)
def test_sessions_expire(app, client, key, age_seconds):
    make_organiser(app)
    login(client)
    assert client.get("/organiser/").status_code == 200
    with client.session_transaction() as session:
        session[key] = time.time() - age_seconds
    expired = client.get("/organiser/")
    assert expired.status_code == 302 and expired.location.startswith("/organiser/login")
    page = client.get(expired.location).get_data(as_text=True)
    assert "Your session expired" in page
    assert client.get("/organiser/").status_code == 302  # really logged out


def test_a_control_character_in_the_email_is_a_form_error_not_a_server_error(app, client):
    # Found by tests/test_fuzz_forms.py on PostgreSQL, which refuses NUL in a query's text.
    make_organiser(app)
    for email in ("organiser@example.org\x00", "nul\x00byte", "line\nbreak@example.org"):
        response = login(client, email=email)
        assert response.status_code == 422
        assert "Use letters, numbers and punctuation only" in response.get_data(as_text=True)
    assert login(client).status_code == 303


def test_wrong_passwords_are_rate_limited_per_address(app, client):
    make_organiser(app)
    # Right passwords never use up the allowance.
    for _ in range(7):
        assert login(client).status_code == 303
        client.post("/organiser/logout", data={"csrf_token": csrf(client, "/organiser/")})
    for _ in range(5):
        assert login(client, password="guess").status_code == 401
    blocked = login(client)  # even the right password, for now
    assert blocked.status_code == 429
    assert "Too many wrong passwords" in blocked.get_data(as_text=True)
    # Another address is not affected.
    other = client.post(
        "/organiser/login",
        data={"email": "organiser@example.org", "password": PASSWORD, "csrf_token": csrf(client)},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 303


def _attempt(client, password: str, address: str, token: str):
    return client.post(
        "/organiser/login",
        data={"email": "organiser@example.org", "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_guesses_for_an_account_are_slowed_from_any_address(app):
    make_organiser(app)
    attacker = app.test_client()
    token = csrf(attacker)
    with clock.frozen(dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)):
        for attempt in range(FREE_GUESSES):
            assert _attempt(attacker, "guess", f"198.51.100.{attempt}", token).status_code == 401
        # Now even the right password waits, from a browser the account never used.
        waiting = _attempt(attacker, PASSWORD, "198.51.100.100", token)
        assert waiting.status_code == 429
        assert "Try again in 2 seconds" in waiting.get_data(as_text=True)
        clock.advance(dt.timedelta(seconds=3))
        assert _attempt(attacker, "guess", "198.51.100.101", token).status_code == 401
        # Each wrong password doubles the wait; guesses made while waiting are not checked.
        assert "Try again in 4 seconds" in _attempt(
            attacker, "guess", "198.51.100.102", token
        ).get_data(as_text=True)
        clock.advance(dt.timedelta(seconds=5))
        assert _attempt(attacker, PASSWORD, "198.51.100.103", token).status_code == 303
    with app.app_context():
        organiser = db.session.scalar(select(Organiser))
        assert organiser.failed_logins == 0 and organiser.login_wait_until is None
    waits = [wait_after(n) for n in range(40)]
    assert waits == sorted(waits) and waits[-1] == MAX_WAIT


def test_guesses_from_many_addresses_do_not_keep_the_owner_out(app):
    make_organiser(app)
    owner, attacker = app.test_client(), app.test_client()
    token = csrf(attacker)
    with clock.frozen(dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)):
        assert login(owner).status_code == 303  # the owner's laptop, once
        owner.post("/organiser/logout", data={"csrf_token": csrf(owner, "/organiser/")})
        clock.advance(dt.timedelta(days=30))
        refused = 0
        for attempt in range(30):
            clock.advance(dt.timedelta(seconds=20))
            status = _attempt(attacker, "guess", f"198.51.100.{attempt}", token).status_code
            assert status in (401, 429)
            refused += status == 429
        assert refused >= 15  # most guesses were not even checked
        # A stranger with the right password waits; the owner's laptop, from anywhere, does not.
        assert _attempt(attacker, PASSWORD, "198.51.100.200", token).status_code == 429
        owner_token = csrf(owner)
        assert _attempt(owner, PASSWORD, "203.0.113.9", owner_token).status_code == 303
        assert owner.get("/organiser/").status_code == 200
    # A device cookie is for its own account only, and cannot be forged.
    forged = app.test_client()
    forged.set_cookie(
        DEVICE_COOKIE,
        owner.get_cookie(DEVICE_COOKIE, path="/organiser/").value[:-2] + "xx",
        path="/organiser/",
    )
    with app.app_context():
        organiser = db.session.scalar(select(Organiser))
        organiser.login_wait_until = clock.now() + dt.timedelta(minutes=5)
        db.session.commit()
    assert _attempt(forged, PASSWORD, "198.51.100.201", csrf(forged)).status_code == 429


def test_a_session_cookie_copied_before_logout_opens_nothing_after(app, client):
    make_organiser(app)
    login(client)
    copied = client.get_cookie("session").value
    assert client.get("/organiser/").status_code == 200
    client.post("/organiser/logout", data={"csrf_token": csrf(client, "/organiser/")})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/organiser/").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(OrganiserSession.id))) == 0


def test_logging_out_ends_only_that_browsers_session(app):
    make_organiser(app)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop)
    login(phone)
    laptop.post("/organiser/logout", data={"csrf_token": csrf(laptop, "/organiser/")})
    assert laptop.get("/organiser/").status_code == 302
    assert phone.get("/organiser/").status_code == 200


def test_a_session_ends_on_the_server_when_it_is_too_old(app, client):
    make_organiser(app)
    with clock.frozen(dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)):
        login(client)
        copied = client.get_cookie("session").value
        for _ in range(13):  # busy all day: never idle, but 13 hours is over the 12
            clock.advance(dt.timedelta(hours=1))
            client.get("/organiser/")
        thief = app.test_client()
        thief.set_cookie("session", copied)
        assert thief.get("/organiser/").status_code == 302


def test_a_new_password_ends_every_session(app, client, runner):
    make_organiser(app)
    login(client)
    assert client.get("/organiser/").status_code == 200
    new = "a completely new passphrase"
    result = runner.invoke(
        args=["organiser", "password", "organiser@example.org"], input=f"{new}\n{new}\n"
    )
    assert result.exit_code == 0, result.output
    assert client.get("/organiser/").status_code == 302
    assert login(client).status_code == 401
    assert login(client, password=new).status_code == 303
