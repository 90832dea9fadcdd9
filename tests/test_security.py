"""Abuse and hostile input: bots, repeats, form letters, payloads, settings and headers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import uuid

import pytest
from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from letters import clock, create_app
from letters.extensions import db
from letters.mail.content import confirm_url
from letters.messages import confirmation, notices
from letters.models import Attendee, Message, UsedFormToken
from letters.settings import ConfigError
from letters.supporter.abuse import FORM_MAX_AGE
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import WebhookSigner
from tests.helpers import GOOD_FORM, csrf_token, examples, hidden_fields, post_form, submit
from tests.organiser_helpers import login, make_organiser
from tests.test_organiser_events import kiosk_event, upload

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "Jane\r\nBcc: victim@example.org",
    "nul\x00byte",
    "\u202egnp.exe",  # right-to-left override
    '<img src="file:///etc/passwd">',
    '<link rel=stylesheet href="http://127.0.0.1:9/x.css">',
    '=HYPERLINK("http://evil.example","click")',
    "{minister}{{ 7*7 }}",
]
DANGEROUS_MARKUP = ("<script>", "<img src=x", '<img src="file:', "<link rel=stylesheet")


def _messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


# --- settings, headers, cookies ------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "dev-only-not-secret", "short"])
def test_production_refuses_a_missing_default_or_weak_secret(tmp_path, secret):
    config = {"ENV_NAME": "production", "INSTANCE_DIR": tmp_path, "SECRET_KEY": secret}
    with pytest.raises(ConfigError, match="LETTERS_SECRET_KEY"):
        create_app(config)


def test_production_starts_with_a_real_secret(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "production",
            "INSTANCE_DIR": tmp_path,
            "SECRET_KEY": "x" * 48,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_every_page_has_the_security_headers(client):
    for url in ("/", "/write", "/api/divisions?postcode=2600"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        # Letter and confirmation links carry their tokens: no other site may see them.
        assert headers["Referrer-Policy"] == "same-origin"


def test_no_page_with_someones_details_may_be_stored(app_with_data):
    app = app_with_data
    supporter = app.test_client()
    letter = submit(supporter, postcode="2001").headers["Location"]
    emailed = submit(supporter, postcode="2002", division="Wattle", delivery="email")
    with app.app_context():
        token = emailed.headers["Location"].rsplit("/", 1)[1]
        message = db.session.scalar(select(Message).where(Message.token == token))
        confirm = re.sub(r"^https?://[^/]+", "", confirm_url(message))
    private = [
        (supporter, letter),
        (supporter, letter + ".pdf"),
        (supporter, letter + "/edit"),
        (supporter, confirm),
        (supporter, "/letters/no-such-token"),  # its error page too
    ]
    make_organiser(app)
    organiser = app.test_client()
    login(organiser)
    event_id = kiosk_event(organiser)
    upload(organiser, event_id, "good.csv")
    kiosk = re.search(
        r'id="kiosk-url">https?://[^/]+([^<]+)<',
        organiser.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True),
    ).group(1)
    private.append((app.test_client(), kiosk))
    with app.app_context():
        attendee_id = db.session.scalar(select(Attendee.id))
    values = {"event_id": event_id, "attendee_id": attendee_id, "job_id": uuid.uuid4()}
    values["name"], values["kind"] = "letters.pdf", "letters"
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("organiser.") and "GET" in rule.methods:
            with app.test_request_context():
                url = url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
            private.append((organiser, url))
    assert len(private) > 15
    for client, url in private:
        with client.get(url) as response:  # a streamed download holds its request till closed
            cache = response.headers.get("Cache-Control", "")
        assert "no-store" in cache, (url, response.status_code)
    # An answer to a POST may echo what was typed; a blank form may be kept (Back restores it).
    assert "no-store" in submit(supporter, postcode="2600", division="Canberra").headers.get(
        "Cache-Control", ""
    )
    for url in ("/", "/write", "/static/site.css"):
        with supporter.get(url) as response:
            assert "no-store" not in response.headers.get("Cache-Control", ""), url


def test_session_cookie_is_httponly_and_lax(make_app):
    app = make_app(BASE_URL="https://letters.example.org")
    client = app.test_client()
    response = client.get("/write")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_pages_have_no_inline_script(client):
    page = client.get("/write").get_data(as_text=True)
    assert "<script>" not in page and "onload=" not in page and "javascript:" not in page


# --- bots: honeypot and fill time ------------------------------------------------------------


def test_the_honeypot_refuses_a_bot(app, client):
    response = submit(client, division="Canberra", member="Alicia Payne", website="http://spam")
    assert response.status_code == 422
    assert "could not be accepted" in response.get_data(as_text=True)
    with app.app_context():
        assert _messages() == 0


# That no person sees it or tabs to it is shown in a browser: tests/test_browser.py.


def test_a_post_without_the_honeypot_field_is_refused_like_a_filled_one(app, client):
    response = submit(client, division="Canberra", member="Alicia Payne", website=None)
    assert response.status_code == 422
    assert "could not be accepted" in response.get_data(as_text=True)
    with app.app_context():
        assert _messages() == 0


def _write_page(client) -> str:
    return client.get("/write").get_data(as_text=True)


def test_a_form_filled_faster_than_a_person_can_is_refused(make_app):
    app = make_app(MIN_FILL_SECONDS=10)
    client = app.test_client()
    clock.freeze(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))
    typed = {"division": "Canberra", "member": "Alicia Payne"}
    quick = post_form(client, "/write", _write_page(client), **typed)
    assert quick.status_code == 422
    assert "That was quick!" in quick.get_data(as_text=True)
    forged = post_form(client, "/write", _write_page(client), started="forged", **typed)
    assert forged.status_code == 422
    page = _write_page(client)
    clock.advance(dt.timedelta(seconds=60))
    assert post_form(client, "/write", page, **typed).status_code == 303


def test_a_start_token_is_good_for_one_submission(app, client):
    page = _write_page(client)
    typed = {"division": "Canberra", "member": "Alicia Payne"}
    assert post_form(client, "/write", page, **typed).status_code == 303
    replay = post_form(client, "/write", page, **typed)
    assert replay.status_code == 422
    assert "already submitted once" in replay.get_data(as_text=True)
    with app.app_context():
        assert _messages() == 1


def test_a_start_token_from_another_browser_is_refused(app):
    harvested = hidden_fields(_write_page(app.test_client()))["started"]
    other = app.test_client()
    response = post_form(
        other, "/write", _write_page(other), started=harvested, division="Canberra", member="A B"
    )
    assert response.status_code == 422
    with app.app_context():
        assert _messages() == 0


def test_a_form_left_open_too_long_is_shown_again_as_typed(app, client):
    clock.freeze(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))
    page = _write_page(client)
    clock.advance(FORM_MAX_AGE + dt.timedelta(minutes=1))
    note = "Words I took a long time over."
    stale = post_form(
        client, "/write", page, division="Canberra", member="Alicia Payne", personal_note=note
    )
    shown = stale.get_data(as_text=True)
    assert stale.status_code == 422
    assert "open for a long time" in shown and note in shown
    again = post_form(client, "/write", shown, division="Canberra", member="Alicia Payne")
    assert again.status_code == 303


def test_a_form_is_good_to_the_end_of_its_age_and_even_then_only_once(app, client):
    clock.freeze(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))
    typed = {"division": "Canberra", "member": "Alicia Payne"}
    first, second = _write_page(client), _write_page(client)
    assert post_form(client, "/write", first, **typed).status_code == 303
    clock.advance(FORM_MAX_AGE)
    assert post_form(client, "/write", second, **typed).status_code == 303
    replay = post_form(client, "/write", first, **typed)
    assert replay.status_code == 422
    assert "already submitted once" in replay.get_data(as_text=True)


def test_used_form_tokens_are_kept_only_while_their_form_could_come_back(app, client):
    clock.freeze(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))
    typed = {"division": "Canberra", "member": "Alicia Payne"}
    assert post_form(client, "/write", _write_page(client), **typed).status_code == 303
    clock.advance(FORM_MAX_AGE + dt.timedelta(seconds=1))
    assert post_form(client, "/write", _write_page(client), **typed).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UsedFormToken)) == 1


# --- one email letter a week to the same member ---------------------------------------------


def test_a_second_email_letter_within_seven_days_shows_nothing_of_the_first(make_app, tmp_path):
    app = make_app(OUTBOX_DIR=tmp_path / "outbox")
    load_fixture_members(app.config["DATA_DIR"])
    first_writer = app.test_client()
    first = submit(first_writer, postcode="2001", delivery="email")
    with app.app_context():
        token = first.headers["Location"].rsplit("/", 1)[1]
        message = db.session.scalar(select(Message).where(Message.token == token))
        assert notices.send_confirmation(message.id)
        assert confirmation.confirm(message.id, message.confirmation_digest).confirmed
    # Another browser types the same address: its page is that of any letter waiting for its
    # confirmation, with nothing of the first letter (see test_supporter_privacy.py).
    again = submit(app.test_client(), postcode="2001", delivery="email", email="JANE@example.org")
    assert again.status_code == 303
    page = app.test_client().get(again.headers["Location"]).get_data(as_text=True)
    assert token not in again.get_data(as_text=True) + page
    assert not list((tmp_path / "outbox").glob("*-notice-*.eml"))
    assert "Check your email" in page and "You already" not in page
    with app.app_context():
        token = again.headers["Location"].rsplit("/", 1)[1]
        second = db.session.scalar(select(Message).where(Message.token == token))
        assert notices.send_confirmation(second.id)  # as the worker does
    (notice,) = (tmp_path / "outbox").glob("*-notice-*.eml")
    parsed = email.message_from_bytes(notice.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "JANE@example.org"
    assert "You already wrote to Priya Nandakumar" in parsed.get_body(("plain",)).get_content()


def test_an_unconfirmed_first_letter_does_not_count(app_with_data):
    client = app_with_data.test_client()
    first = submit(client, postcode="2001", delivery="email")
    assert first.status_code == 303
    again = submit(client, postcode="2001", delivery="email")
    assert again.status_code == 303
    with app_with_data.app_context():
        token = again.headers["Location"].rsplit("/", 1)[1]
        second = db.session.scalar(select(Message).where(Message.token == token))
        assert not second.over_weekly_limit


# --- hostile input everywhere -----------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_in_every_write_field_is_refused_or_inert(app, client, payload):
    for field in ("name", "street", "suburb", "personal_note", "division", "member", "email"):
        values = {"division": "Canberra", "member": "Alicia Payne", field: payload}
        response = submit(client, **values)
        assert response.status_code in (303, 422), (field, response.status_code)
        target = response.headers["Location"] if response.status_code == 303 else None
        page = (
            client.get(target).get_data(as_text=True) if target else response.get_data(as_text=True)
        )
        for markup in DANGEROUS_MARKUP:
            assert markup not in page, (field, markup)
        if target:
            pdf = client.get(target + ".pdf")
            assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_own_words_over_the_limit_get_a_clear_error_and_keep_the_form(client):
    response = submit(client, division="Canberra", member="Alicia Payne", personal_note="x" * 5000)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Keep your own words to 2,000 characters or fewer." in page
    # Nothing typed is lost: the form comes back holding the supporter's details.
    assert 'value="Jane Citizen"' in page


def test_a_megabyte_post_gets_the_sites_too_large_page(client):
    # No browser form sends this (the note box stops at 2,000 characters): refused unread.
    response = submit(
        client, division="Canberra", member="Alicia Payne", personal_note="x" * 1_000_000
    )
    assert response.status_code == 413
    assert "That was too large to send" in response.get_data(as_text=True)


def test_invalid_utf8_gets_the_forms_own_errors(client):
    token = csrf_token(client)
    body = f"csrf_token={token}&name=%FF%FE&postcode=2600&division=Canberra&member=A+B".encode()
    response = client.post("/write", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "Enter your street address." in response.get_data(as_text=True)


field_values = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x3000), max_size=50),
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.fixed_dictionaries(
        {name: field_values for name in GOOD_FORM if name not in ("statistics", "recommendations")}
    )
)
def test_fuzz_write_never_errors_and_never_echoes_markup(client, data):
    response = submit(client, division="Canberra", member="Alicia Payne", **data)
    assert response.status_code < 500
    page = response.get_data(as_text=True)
    for markup in DANGEROUS_MARKUP:
        assert markup not in page


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "event",
                    "sg_event_id",
                    "timestamp",
                    "letters_message_id",
                    "letters_kind",
                    "reason",
                    "type",
                ]
            ),
            st.one_of(
                st.text(max_size=40),
                st.integers(),
                st.none(),
                st.booleans(),
                st.sampled_from(PAYLOADS),
            ),
        ),
        max_size=5,
    )
)
def test_fuzz_signed_webhook_never_errors(make_app, batch):
    signer = WebhookSigner()
    app = make_app(SENDGRID_WEBHOOK_PUBLIC_KEY=signer.public_key)
    body = json.dumps(batch).encode()
    response = app.test_client().post("/webhooks/sendgrid", data=body, headers=signer.headers(body))
    assert response.status_code == 200


one_line = st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=100)


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=st.binary(max_size=200), signature=one_line, stamp=one_line)
def test_fuzz_unsigned_webhook_is_refused(make_app, body, signature, stamp):
    app = make_app(SENDGRID_WEBHOOK_PUBLIC_KEY=WebhookSigner().public_key)
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }
    response = app.test_client().post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 403


def test_posts_from_one_address_are_rate_limited(make_app):
    app = make_app(SUPPORTER_POST_LIMIT="2 per hour")
    client = app.test_client()
    for _ in range(2):
        assert submit(client, division="Canberra", member="Alicia Payne").status_code == 303
    third = submit(client, division="Canberra", member="Alicia Payne")
    assert third.status_code == 429
    assert "Please slow down" in third.get_data(as_text=True)
    assert client.get("/write").status_code == 200  # reading is not limited


def test_the_postcode_lookup_is_rate_limited(make_app):
    client = make_app(LOOKUP_LIMIT="2 per hour").test_client()
    for _ in range(2):
        assert client.get("/api/divisions?postcode=2600").status_code != 429
    assert client.get("/api/divisions?postcode=2600").status_code == 429


def test_edits_and_confirmations_are_rate_limited(make_app):
    app = make_app(SUPPORTER_POST_LIMIT="2 per hour")
    client = app.test_client()
    typed = {"division": "Canberra", "member": "Alicia Payne", "delivery": "email"}
    letter = submit(client, **typed)
    edit = letter.headers["Location"] + "/edit"
    for _ in range(2):
        assert submit(client, edit, **typed).status_code == 303
    assert submit(client, edit, **typed).status_code == 429
    with app.app_context():
        message = db.session.scalar(select(Message))
        confirm = re.sub(r"^https?://[^/]+", "", confirm_url(message))
    token = csrf_token(client, confirm)
    for _ in range(2):
        assert client.post(confirm, data={"csrf_token": token}).status_code != 429
    assert client.post(confirm, data={"csrf_token": token}).status_code == 429


def _post_from(client, remote: str, forwarded: str):
    client.environ_base.update(REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    return submit(client, division="Canberra", member="Alicia Payne")


def test_behind_a_trusted_proxy_each_supporter_has_their_own_limit(make_app):
    app = make_app(SUPPORTER_POST_LIMIT="1 per hour", TRUSTED_PROXIES=1)
    client = app.test_client()
    # Every request arrives from the proxy (10.0.0.1); the proxy names the real address.
    assert _post_from(client, "10.0.0.1", "203.0.113.7").status_code == 303
    assert _post_from(client, "10.0.0.1", "203.0.113.7").status_code == 429
    assert _post_from(client, "10.0.0.1", "198.51.100.4").status_code == 303


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(make_app):
    app = make_app(SUPPORTER_POST_LIMIT="1 per hour")
    client = app.test_client()
    assert _post_from(client, "192.0.2.10", "203.0.113.7").status_code == 303
    # A client cannot reset its own limit by inventing a forwarded address.
    assert _post_from(client, "192.0.2.10", "198.51.100.4").status_code == 429


def test_trusted_proxies_must_not_be_negative(make_app):
    with pytest.raises(ConfigError, match="LETTERS_TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES=-1)
