"""LETTERS_LOG_FORMAT=json: one JSON object a line, naming a letter by its id and never its
writer: a supporter's name, address, email and words stay out of the logs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from letters import logs
from letters.messages import notices
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import running
from tests.helpers import GOOD_FORM
from tests.test_email import API_KEY, _write_email_letter


@pytest.fixture
def json_log(make_app):
    """An app logging JSON, and what it wrote."""
    stream = io.StringIO()
    with running() as fake:
        app = make_app(
            LOG_FORMAT="json",
            SENDGRID_API_KEY=API_KEY,
            SENDGRID_API_HOST=fake.url,
            SEND_TIMEOUT_SECONDS=1.0,
            BASE_URL="https://letters.example.org",
        )
        load_fixture_members(app.config["DATA_DIR"])
        handler = next(h for h in logging.getLogger().handlers if isinstance(h, logs.JsonHandler))
        handler.setStream(stream)
        try:
            yield app, fake, stream
        finally:
            logging.getLogger().removeHandler(handler)


def test_log_lines_are_json_and_name_letters_by_id_only(json_log):
    app, fake, stream = json_log
    client = app.test_client()
    with app.app_context():
        message = _write_email_letter(client, email="jane@example.org")
        fake.answer(default=500)  # the confirmation cannot go: that is logged
        message_id = message.id
        sent = notices.send_confirmation(message_id)
        assert not sent
    lines = [line for line in stream.getvalue().splitlines() if line]
    assert lines, "the failed sends were not logged"
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    about = [record for record in records if record.get("message_id") == str(message_id)]
    assert about and all(record["level"] == "WARNING" for record in about)
    text = stream.getvalue()
    for personal in ("Jane Citizen", "jane@example.org", GOOD_FORM["street"], "niece"):
        assert personal not in text
