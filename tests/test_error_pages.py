"""Every error is the site's own page: what happened, what to do next, never a traceback."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from werkzeug.exceptions import HTTPException

from letters import clock
from letters.campaigns import UnknownCampaign, get_campaign
from letters.extensions import db
from letters.mail.content import confirm_url
from letters.models import Message
from tests.fakes.sendgrid import WebhookSigner
from tests.helpers import hidden_fields, post_form, submit

SITE = 'class="site-header"'  # the site's base template
WERKZEUG = ("The requested URL was not found on the server", "Werkzeug", "Traceback")


def _site_page(response, status: int, *phrases: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:500]
    assert response.mimetype == "text/html"
    assert SITE in page and "<h1>" in page
    for phrase in phrases:
        assert phrase in page
    for bare in WERKZEUG:
        assert bare not in page
    return page


def test_a_mangled_confirmation_or_letter_link_is_the_sites_page(app, client):
    letter = submit(client, division="Canberra", member="Alicia Payne", delivery="email")
    path = letter.headers["Location"]
    with app.app_context():
        token = path.rsplit("/", 1)[1]
        message = db.session.scalar(select(Message).where(Message.token == token))
        confirm = confirm_url(message).split("/confirm/", 1)[1]
    for mangled in (
        f"/confirm/{confirm[:-6]}",  # cut short by an email program
        f"/confirm/{confirm}xyz",
        "/confirm/not-a-real-token",
        path[:-4],
        path[:-4] + ".pdf",
        path[:-4] + "/edit",
    ):
        _site_page(client.get(mangled), 404, "That link is not complete", "write a new letter")


def test_an_unknown_page_says_where_to_go(client):
    _site_page(client.get("/no-such-page"), 404, "Page not found", 'href="/write"')


def test_a_page_opened_the_wrong_way(client):
    _site_page(client.put("/write"), 405, "cannot be opened this way")
    _site_page(client.get("/organiser/logout"), 405, "use its button")


def test_a_letter_of_a_campaign_no_longer_run_is_not_found(app, client):
    path = submit(client, division="Canberra", member="Alicia Payne").headers["Location"]
    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.token == path.rsplit("/", 1)[1])
            .values(campaign_key="a-campaign-since-removed")
        )
        db.session.commit()
    for page in (path, path + ".pdf", path + "/edit"):
        _site_page(client.get(page), 404, "That link is not complete")


def test_a_worker_asking_for_an_unknown_campaign_gets_a_plain_error(app):
    with app.app_context():  # as in a Celery task: no request, so nothing to answer with 404
        with pytest.raises(UnknownCampaign) as raised:
            get_campaign("a-campaign-since-removed")
        assert not isinstance(raised.value, HTTPException)
        assert get_campaign().key == app.config["DEFAULT_CAMPAIGN"]


def test_a_removed_letters_pdf_is_410(app, client):
    path = submit(client, division="Canberra", member="Alicia Payne").headers["Location"]
    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.token == path.rsplit("/", 1)[1])
            .values(scrubbed_at=clock.now())
        )
        db.session.commit()
    _site_page(client.get(path + ".pdf"), 410, "This has been removed", "write another letter")


def test_a_body_too_large_is_the_sites_page_and_json_for_the_webhook(make_app):
    signer = WebhookSigner()
    app = make_app(MAX_CONTENT_LENGTH=10_000, SENDGRID_WEBHOOK_PUBLIC_KEY=signer.public_key)
    client = app.test_client()
    page = client.get("/write").get_data(as_text=True)
    big = {**hidden_fields(page), "personal_note": "x" * 20_000}
    _site_page(client.post("/write", data=big), 413, "too large to send")
    # The webhook takes up to its own 5 MB whatever the site's default (its 413 is JSON:
    # test_the_webhooks_own_answers_stay_json, tests/test_request_limits.py).
    body = json.dumps([{"event": "x" * 20_000}]).encode()
    hook = client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body))
    assert hook.status_code == 200 and hook.is_json


def test_the_webhooks_own_answers_stay_json(make_app):
    app = make_app(SENDGRID_WEBHOOK_PUBLIC_KEY=WebhookSigner().public_key)
    client = app.test_client()
    huge = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    too_large = client.post("/webhooks/sendgrid", data=huge)
    assert too_large.status_code == 413 and too_large.get_json() == {"error": "too large"}
    wrong_method = client.get("/webhooks/sendgrid")
    assert wrong_method.status_code == 405 and wrong_method.is_json


def test_a_failed_csrf_check_is_the_sites_page(client):
    response = client.post("/organiser/login", data={"email": "a@example.org", "password": "x"})
    _site_page(response, 400, "This form had expired", "reload the page")


def test_a_letter_form_that_failed_its_csrf_check_comes_back_as_typed(client):
    note = "A long paragraph I would hate to lose."
    data = {
        **hidden_fields(client.get("/write").get_data(as_text=True)),
        "csrf_token": "expired-or-forged",
        "name": "Jane Citizen",
        "personal_note": note,
    }
    page = _site_page(client.post("/write", data=data), 400, "Everything you typed is still here")
    assert note in page and 'value="Jane Citizen"' in page
    # Its new tokens work: submitting it again saves the letter.
    again = post_form(client, "/write", page, division="Canberra", member="Alicia Payne")
    assert again.status_code == 303


@pytest.fixture
def failing_app(make_app):
    """An app whose front page fails, as a bug would, with exceptions not raised to the test."""
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def broken() -> str:
        raise RuntimeError("secret internal detail")

    app.view_functions["supporter.index"] = broken
    return app


def test_an_unexpected_error_is_the_sites_500_page(failing_app, caplog):
    page = _site_page(failing_app.test_client().get("/"), 500, "went wrong on our side")
    assert "secret internal detail" not in page and "RuntimeError" not in page
    assert "secret internal detail" in caplog.text  # logged for the site's operators
