"""/privacy states the periods in force, and every supporter page and email links to it."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from sqlalchemy import select

from letters.extensions import db
from letters.messages import notices
from letters.models import Message
from tests.helpers import submit


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_privacy_page_states_the_periods_the_settings_give(make_app):
    app = make_app(
        KEEP_PERSONAL_DATA_DAYS=10,
        KEEP_EVENT_DATA_DAYS=3,
        KEEP_PRINT_FILES_DAYS=1,
        CONFIRM_EXPIRE_AFTER_HOURS=48,
    )
    page = _text(app.test_client().get("/privacy").get_data(as_text=True))
    assert "are removed 10 days after your letter is finished" in page
    assert "expires 2 days after you wrote it" in page
    assert "removed 3 days after the event's day" in page
    assert "deleted 1 day after printing" in page

    other = make_app(KEEP_PERSONAL_DATA_DAYS=28)
    assert "are removed 28 days after" in _text(other.test_client().get("/privacy").data.decode())


def test_the_privacy_page_states_when_we_ask_about_replies_and_how_to_be_erased(make_app):
    app = make_app(
        KEEP_PERSONAL_DATA_DAYS=10,
        FOLLOWUP_AFTER_DAYS=12,
        FOLLOWUP_REMINDER_DAYS=5,
        FOLLOWUP_AGAIN_DAYS=30,
    )
    page = _text(app.test_client().get("/privacy").get_data(as_text=True))
    assert "we ask you once, 12 days after it was sent, whether your MP replied" in page
    assert "one reminder 5 days later" in page and "once more 30 days after that" in page
    assert "removed 10 days after the last question or your answer" in page
    assert "You can ask for your details to be erased at any time" in page
    assert "giving the email address you wrote from" in page


def test_every_supporter_page_links_to_it(app_with_data):
    client = app_with_data.test_client()
    letter = submit(client, division="Canberra", member="Alicia Payne").headers["Location"]
    for url in ("/", "/write", letter, "/privacy", "/nowhere"):
        page = client.get(url).get_data(as_text=True)
        assert 'href="/privacy"' in page, url


def test_the_emails_a_supporter_gets_link_to_it(app_with_data):
    client = app_with_data.test_client()
    submit(client, postcode="2001", delivery="email")
    with app_with_data.app_context():
        message = db.session.scalars(select(Message)).one()
        assert notices.send_confirmation(message.id)
    outbox = list(app_with_data.config["OUTBOX_DIR"].glob("*.eml"))
    assert len(outbox) == 1
    email = message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    base = app_with_data.config["BASE_URL"]
    for part in ("plain", "html"):
        assert f"{base}/privacy" in email.get_body((part,)).get_content(), part
