"""The live preview's endpoint: the letter the form would save, from the PDF's own partial."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from letters.campaigns import get_campaign
from letters.extensions import db
from letters.messages.letters import letter_for
from letters.models import Message
from letters.printing.letter import default_renderer
from letters.supporter.preview import (
    NO_MEMBER,
    NO_RECOMMENDATION,
    NO_STATISTIC,
    PLACEHOLDER_MEMBER,
    PLACEHOLDER_NAME,
    PREVIEW_BODY_BYTES,
)
from tests.helpers import GOOD_FORM, hidden_fields, submit

PREVIEW = "/write/preview?campaign=tougher-on-tech"
ARTICLE = re.compile(r'<article class="letter".*?</article>', re.S)


def preview(client, url: str = PREVIEW, page: str = "/write", **changes: object):
    """POST the good form to the preview, as write-preview.js sends it from `page`."""
    fields = hidden_fields(client.get(page).get_data(as_text=True))
    data = {**fields, "website": "", **GOOD_FORM, **changes}
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def article(html: str) -> str:
    found = ARTICLE.search(html)
    assert found, html[:500]
    return found.group(0)


def _stored_letters(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Message.id)))


def test_the_preview_is_the_pdfs_letter(app_with_data):
    client = app_with_data.test_client()
    changes = {
        "statistics": ["ncmec-reports", "tech-enabled"],
        "recommendations": ["duty-of-care"],
        "personal_note": "My niece is eleven.\n\nShe is online every day.",
        "state": "NSW",
    }
    shown = preview(client, **changes)
    assert shown.status_code == 200
    assert shown.mimetype == "text/html"
    assert "no-store" in shown.headers["Cache-Control"]  # it holds the supporter's details
    saved = submit(client, **changes)
    assert saved.status_code == 303
    with app_with_data.app_context():
        message = db.session.scalar(select(Message))
        letter = letter_for(message, get_campaign(message.campaign_key))
        printed = default_renderer().render_html(letter)
    # The very markup WeasyPrint lays out for the PDF, to the character.
    assert article(shown.get_data(as_text=True)) == article(printed)
    assert "She is online every day." in printed and "Dear Priya Nandakumar," in printed


def test_the_preview_stores_nothing_and_logs_nothing_personal(app_with_data, caplog):
    caplog.set_level(logging.DEBUG)
    client = app_with_data.test_client()
    response = preview(client, name="Quentin Privatus", personal_note="My secret sentence.")
    assert response.status_code == 200
    assert "Quentin Privatus" in response.get_data(as_text=True)
    assert _stored_letters(app_with_data) == 0
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Quentin" not in logged and "secret sentence" not in logged


def test_typed_text_is_escaped(app_with_data):
    client = app_with_data.test_client()
    body = preview(
        client,
        name='Jo <img src=x onerror="alert(1)">',
        personal_note="<script>alert(1)</script> & more",
    ).get_data(as_text=True)
    assert "<script>" not in body and "<img" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in body
    assert "Jo &lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in body


def test_a_preview_without_its_csrf_token_is_refused(app_with_data):
    client = app_with_data.test_client()
    response = preview(client, csrf_token=None)
    assert response.status_code == 400
    assert "<article" not in response.get_data(as_text=True)
    response = preview(client, csrf_token="forged")
    assert response.status_code == 400


def test_previews_are_rate_limited_apart_from_the_form(make_app):
    app = make_app(PREVIEW_LIMIT="3 per hour", SUPPORTER_POST_LIMIT="1 per hour")
    client = app.test_client()
    typed = {"division": "Canberra", "member": "Alicia Payne"}
    for _ in range(3):
        assert preview(client, **typed).status_code == 200
    refused = preview(client, **typed)
    assert refused.status_code == 429
    assert "Please slow down" in refused.get_data(as_text=True)
    # Previewing spent none of the form's own posts.
    assert submit(client, **typed).status_code == 303


def test_a_large_body_is_refused(app_with_data):
    client = app_with_data.test_client()
    assert preview(client, personal_note="x" * (PREVIEW_BODY_BYTES - 2000)).status_code == 200
    assert preview(client, personal_note="x" * PREVIEW_BODY_BYTES).status_code == 413


def test_a_json_body_is_refused_not_a_500(app_with_data):
    response = app_with_data.test_client().post(PREVIEW, json={"name": "Jo"})
    assert response.status_code == 415


def test_with_no_member_yet_a_placeholder_stands_in(app_with_data):
    client = app_with_data.test_client()
    for changes in ({"postcode": ""}, {"postcode": "9999"}, {"postcode": "2002"}):  # 2002: split
        body = preview(client, **changes).get_data(as_text=True)
        assert f"Dear {PLACEHOLDER_MEMBER.name}," in body, changes
        assert NO_MEMBER in body
    # Chosen: the member's name, and no note.
    body = preview(client, postcode="2002", division="Wattle").get_data(as_text=True)
    assert "Dear Harry Fernsby," in body and NO_MEMBER not in body


def test_without_member_data_the_typed_member_is_used(app):
    client = app.test_client()
    body = preview(client, division="Canberra", member="").get_data(as_text=True)
    assert f"Dear {PLACEHOLDER_MEMBER.name}," in body
    body = preview(client, division="Canberra", member="Alicia Payne").get_data(as_text=True)
    assert "Dear Alicia Payne," in body and "Member for Canberra" in body


def test_with_no_name_yet_a_placeholder_signs(app_with_data):
    body = preview(app_with_data.test_client(), name="").get_data(as_text=True)
    assert f'<strong class="letter-sender-name">{PLACEHOLDER_NAME}</strong>' in body


def test_with_no_points_ticked_it_says_what_is_missing(app_with_data):
    client = app_with_data.test_client()
    body = preview(client, statistics=[], recommendations=None).get_data(as_text=True)
    assert NO_STATISTIC in body and NO_RECOMMENDATION in body
    assert "<article" not in body  # not the campaign's defaults, which were just unticked
    body = preview(client, statistics=["no-such-point"]).get_data(as_text=True)
    assert NO_STATISTIC in body and NO_RECOMMENDATION not in body


def test_only_ticked_points_are_shown(app_with_data):
    client = app_with_data.test_client()
    campaign_text = {"afp-reports": "40,000 reports", "ncmec-reports": "36.2 million"}
    body = preview(client, statistics=["ncmec-reports", "unknown"]).get_data(as_text=True)
    assert campaign_text["ncmec-reports"] in body
    assert campaign_text["afp-reports"] not in body


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "x" * 5000, "postcode": "abc", "state": "ZZ", "delivery": "fax"},
        {"email": "not an address", "personal_note": "\x00\u202e"},
        {"statistics": ["afp-reports"] * 50, "division": "\u2028"},
    ],
)
def test_bad_input_previews_what_it_can(app_with_data, changes):
    response = preview(app_with_data.test_client(), **changes)
    assert response.status_code == 200
    assert "<article" in response.get_data(as_text=True)


def test_an_unknown_campaign_is_not_found(app_with_data):
    response = preview(app_with_data.test_client(), url="/write/preview?campaign=nope")
    assert response.status_code == 404


def test_the_preview_is_hidden_until_a_script_shows_it(app_with_data):
    page = app_with_data.test_client().get("/write").get_data(as_text=True)
    aside = re.search(r"<aside[^>]*>", page).group(0)
    assert 'id="live-preview"' in aside and " hidden " in aside
    assert 'data-preview-url="/write/preview?campaign=tougher-on-tech"' in aside
    assert '<script src="/static/write-preview.js" defer></script>' in page
    # Inside the form, yet it adds no field: a submission without JavaScript is as before.
    form = page[page.index("<form") : page.index("</form>")]
    aside_html = form[form.index("<aside") : form.index("</aside>")]
    assert not re.search(r"<(input|textarea|select)\b", aside_html)
    assert 'type="button"' in aside_html  # the phone's toggle never submits


def test_the_edit_page_previews_in_its_letters_campaign(app_with_data):
    client = app_with_data.test_client()
    letter = submit(client).headers["Location"]
    edit = letter + "/edit"
    page = client.get(edit).get_data(as_text=True)
    url = re.search(r'data-preview-url="([^"]+)"', page).group(1)
    assert url == PREVIEW
    shown = preview(client, url=url, page=edit, personal_note="Changed my mind.")
    assert "Changed my mind." in shown.get_data(as_text=True)
    assert _stored_letters(app_with_data) == 1
