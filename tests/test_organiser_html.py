"""Every organiser page, and the kiosk, is valid HTML (the Nu Html Checker, as for supporters)."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse

import pytest
from sqlalchemy import update

from letters import clock
from letters.extensions import db
from letters.models import Attendee, BatchJob
from letters.retention import scrub_events
from tests import factories
from tests.helpers import hidden_fields
from tests.organiser_helpers import csrf, login, make_organiser
from tests.test_html_valid import _check, _save
from tests.test_organiser_events import attendees_of, create_event, kiosk_event, upload

# `once`: the markup is the same on either database.
pytestmark = [pytest.mark.processes, pytest.mark.once]


def test_organiser_pages_are_valid_html(app_with_data, tmp_path):
    make_organiser(app_with_data)
    client = app_with_data.test_client()
    responses = {"login": client.get("/organiser/login")}
    responses["login-wrong"] = client.post(
        "/organiser/login",
        data={"email": "organiser@example.org", "password": "wrong", "csrf_token": csrf(client)},
    )
    assert responses["login-wrong"].status_code == 401
    responses["login-wrong"].status_code = 200  # _save accepts only pages meant to be shown
    login(client)
    event_id = kiosk_event(client)
    responses["new-event"] = client.get("/organiser/events/new")
    responses["report"] = upload(client, event_id, "bad-rows.csv")
    upload(client, event_id, "good.csv")
    responses["events"] = client.get("/organiser/")
    responses["event"] = client.get(f"/organiser/events/{event_id}")
    responses["edit-event"] = client.get(f"/organiser/events/{event_id}/edit")
    responses["settle"] = client.get(f"/organiser/events/{event_id}/settle")
    kim = attendees_of(app_with_data, event_id)["Kim Split"]
    responses["attendee"] = client.get(f"/organiser/events/{event_id}/attendees/{kim.id}")
    responses["kiosk-link"] = client.get(f"/organiser/events/{event_id}/kiosk")
    with app_with_data.app_context():
        job = BatchJob(event_id=event_id, total=5, done=2, state="running", stage="letters")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    responses["job"] = client.get(f"/organiser/jobs/{job_id}")

    url = re.search(r'id="kiosk-url">([^<]+)<', responses["kiosk-link"].get_data(as_text=True))
    path = urllib.parse.urlsplit(url.group(1)).path
    tablet = app_with_data.test_client()
    responses["kiosk"] = tablet.get(path)
    responses["kiosk-split"] = tablet.post(
        path,
        data={"csrf_token": csrf(tablet, path), "name": "A", "postcode": "2002", "street": "1 St"},
    )
    with clock.frozen(clock.now() + dt.timedelta(days=3)):  # after the event and its grace
        responses["kiosk-expired"] = tablet.get(path)
    assert responses["kiosk-expired"].status_code == 410
    responses["kiosk-expired"].status_code = 200  # as login-wrong above
    with app_with_data.app_context():
        expired = BatchJob(
            event_id=event_id, state="expired", files_removed_at=dt.datetime.now(dt.UTC)
        )
        db.session.add(expired)
        db.session.commit()
        expired_id = expired.id
    responses["job-expired"] = client.get(f"/organiser/jobs/{expired_id}")
    past_id = create_event(client, name="Long past")
    upload(client, past_id, "good.csv")
    with app_with_data.app_context():
        scrub_events(dt.datetime(2027, 6, 1, tzinfo=dt.UTC))  # long after the event
    responses["event-removed"] = client.get(f"/organiser/events/{past_id}")
    assert "were removed on" in responses["event-removed"].get_data(as_text=True)
    responses["erase"] = client.get("/organiser/erase")
    responses["erase-nothing"] = client.post(
        "/organiser/erase",
        data={"email": "nobody@example.org", "csrf_token": csrf(client, "/organiser/erase")},
    )
    responses["erase-wrong"] = client.post(
        "/organiser/erase", data={"email": "", "csrf_token": csrf(client, "/organiser/erase")}
    )
    with app_with_data.app_context():
        factories.message(
            delivery="email", state="sending", sender_email="ab@gmail.com",
            sender_email_key="ab@gmail.com",
        )  # fmt: skip
        factories.message(sender_email="ab@gmail.com", sender_email_key="ab@gmail.com")
        db.session.execute(update(Attendee).where(Attendee.event_id == event_id).values(
            email="A.B@gmail.com"))  # fmt: skip
        db.session.commit()
    responses["erase-confirm"] = client.post(
        "/organiser/erase",
        data={"email": "ab@gmail.com", "csrf_token": csrf(client, "/organiser/erase")},
    )
    assert "erase-attendee-list" in responses["erase-confirm"].get_data(as_text=True)
    done = client.post(
        "/organiser/erase/confirm",
        data=hidden_fields(responses["erase-confirm"].get_data(as_text=True)),
    )
    responses["erase-done"] = client.get(done.location)
    problems = _check(_save(responses, tmp_path))
    assert problems == [], "\n".join(problems)
