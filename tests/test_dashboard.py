"""The organiser's dashboard and exports: every figure equals a direct count of the rows
(counted here in Python, the plain way), on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from letters import clock
from letters.extensions import db
from letters.models import Attendee, BatchJob, Event, FollowUp, Message, Organiser
from tests import factories
from tests.organiser_helpers import login, make_organiser

CAMPAIGN = "tougher-on-tech"
NOW = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
STEP = re.compile(r'<tr data-step="(\w+)"><th scope="row">[^<]*</th><td>(\d+)</td>')


@pytest.fixture
def seeded(make_app):
    """A campaign with letters in every state, two events of ours, one of someone else's,
    follow-up answers, and a letter of another campaign."""
    app = make_app()
    clock.freeze(NOW)
    with app.app_context():
        ours = db.session.get(Organiser, make_organiser(app))
        theirs = factories.organiser()
        first = factories.event(ours, name="Town hall", date=dt.date(2026, 11, 14))
        second = factories.event(ours, name="Library", date=dt.date(2026, 11, 18))
        other = factories.event(theirs, name="Elsewhere", date=dt.date(2026, 11, 15))
        factories.attendees(first, 3, division="Banksia")
        factories.attendees(second, 2, division="Wattle")
        factories.attendees(other, 4, division="Banksia")
        db.session.add(BatchJob(event_id=first.id, state="done"))
        db.session.commit()

        day = dt.date(2026, 11, 10)
        sent = NOW - dt.timedelta(days=9)
        factories.messages(2, letter_date=day)  # printed by the supporter
        factories.message(delivery="email", letter_date=day)  # awaiting confirmation
        factories.message(delivery="email", state="queued", confirmed_at=sent, letter_date=day)
        done = [
            factories.message(
                delivery="email",
                state=state,
                confirmed_at=sent,
                sent_at=sent,
                letter_date=dt.date(2026, 11, 11),
                division=division,
            )
            for state, division in [
                ("sent", "Banksia"),
                ("delivered", "Banksia"),
                ("delivered", "Wattle"),
                ("bounced", "Wattle"),
            ]
        ]
        factories.message(
            delivery="email", state="failed", confirmed_at=sent, letter_date=dt.date(2026, 11, 12)
        )
        factories.message(campaign_key="another", letter_date=day)
        answered = NOW - dt.timedelta(days=1)
        db.session.add_all(
            [
                FollowUp(message_id=done[0].id, asked_at=sent, answer="acknowledgement",
                         answered_at=answered),
                FollowUp(message_id=done[1].id, asked_at=sent, answer="real", answered_at=answered,
                         reply_text="Thank you for your letter =1+1", reply_shared=True),
                FollowUp(message_id=done[2].id, asked_at=sent, answer="real", answered_at=answered,
                         reply_text="Not for sharing", reply_shared=False),
                FollowUp(message_id=done[3].id),  # due, never asked (it bounced)
            ]
        )  # fmt: skip
        # Printed letters whose attendees agreed to be asked: two at our town hall (one real
        # reply, shared; one asked, unanswered), one at someone else's event.
        town_hall = db.session.scalars(select(Attendee.id).where(Attendee.event_id == first.id))
        elsewhere = db.session.scalars(select(Attendee.id).where(Attendee.event_id == other.id))
        real, unanswered = list(town_hall)[:2]
        db.session.add_all(
            [
                FollowUp(attendee_id=real, token="t1", asked_at=sent, answer="real",
                         answered_at=answered, reply_text="@Dear attendee", reply_shared=True),
                FollowUp(attendee_id=unanswered, token="t2", asked_at=sent),
                FollowUp(attendee_id=next(iter(elsewhere)), token="t3", asked_at=sent,
                         answer="real", answered_at=answered),
            ]
        )  # fmt: skip
        db.session.commit()
        organiser_id = ours.id
    client = app.test_client()
    login(client)
    yield app, client, organiser_id
    clock.unfreeze()


def _expected(organiser_id: int, event_id: int | None = None, since=None, until=None) -> dict:
    """The funnel counted the plain way: every row read, filtered in Python."""

    def kept(day: dt.date) -> bool:
        return (since is None or day >= since) and (until is None or day <= until)

    messages = [
        m
        for m in db.session.scalars(select(Message))
        if m.campaign_key == CAMPAIGN and event_id is None and kept(m.letter_date)
    ]
    events = {
        e.id: e
        for e in db.session.scalars(select(Event))
        if e.organiser_id == organiser_id
        and e.campaign_key == CAMPAIGN
        and (event_id is None or e.id == event_id)
        and kept(e.date)
    }
    attendees = [a for a in db.session.scalars(select(Attendee)) if a.event_id in events]
    printed_events = {
        j.event_id for j in db.session.scalars(select(BatchJob)) if j.state in ("done", "expired")
    }
    ids = {m.id for m in messages}
    attendee_ids = {a.id for a in attendees}
    follow_ups = [
        f
        for f in db.session.scalars(select(FollowUp))
        if f.message_id in ids or f.attendee_id in attendee_ids
    ]
    sent_states = {"sent", "delivered", "bounced", "dropped", "spam_reported"}
    return {
        "written": len(messages) + len(attendees),
        "emailed": sum(m.delivery == "email" for m in messages),
        "printed": sum(m.delivery == "pdf" for m in messages) + len(attendees),
        "printed_at_events": sum(a.event_id in printed_events for a in attendees),
        "confirmed": sum(m.confirmed_at is not None for m in messages),
        "sent": sum(m.state in sent_states for m in messages),
        "delivered": sum(m.state == "delivered" for m in messages),
        "bounced": sum(m.state in ("bounced", "dropped") for m in messages),
        "asked": sum(f.asked_at is not None for f in follow_ups),
        "answered": sum(bool(f.answer) for f in follow_ups),
        "replied": sum(f.answer == "real" for f in follow_ups),
    }


def _funnel(client, query: str = "") -> dict[str, int]:
    response = client.get("/organiser/dashboard" + query)
    assert response.status_code == 200
    return {key: int(n) for key, n in STEP.findall(response.get_data(as_text=True))}


def test_the_dashboard_needs_a_login(app):
    response = app.test_client().get("/organiser/dashboard")
    assert response.status_code == 302 and "/organiser/login" in response.headers["Location"]


def test_every_step_of_the_funnel_equals_a_direct_count(seeded):
    app, client, organiser_id = seeded
    shown = _funnel(client)
    with app.app_context():
        expected = _expected(organiser_id)
    assert shown == expected
    # And the seeded numbers are what the scenario says, so the counts above count something.
    assert expected["written"] == 9 + 5 and expected["printed_at_events"] == 3
    # Emailed letters' 3 asked, 3 answered, 2 real, and the town hall's 2 asked, 1 real.
    assert (expected["asked"], expected["answered"], expected["replied"]) == (5, 4, 3)


def test_filters_by_event_and_by_dates(seeded):
    app, client, organiser_id = seeded
    with app.app_context():
        library = db.session.scalar(select(Event.id).where(Event.name == "Library"))
        elsewhere = db.session.scalar(select(Event.id).where(Event.name == "Elsewhere"))
        by_event = _expected(organiser_id, event_id=library)
        by_dates = _expected(organiser_id, since=dt.date(2026, 11, 11), until=dt.date(2026, 11, 14))
    assert _funnel(client, f"?campaign={CAMPAIGN}&event={library}") == by_event
    assert by_event["written"] == 2 and by_event["emailed"] == 0
    with app.app_context():
        town_hall = db.session.scalar(select(Event.id).where(Event.name == "Town hall"))
        at_town_hall = _expected(organiser_id, event_id=town_hall)
    assert _funnel(client, f"?campaign={CAMPAIGN}&event={town_hall}") == at_town_hall
    assert (at_town_hall["asked"], at_town_hall["answered"], at_town_hall["replied"]) == (2, 1, 1)
    shown = _funnel(client, f"?campaign={CAMPAIGN}&since=2026-11-11&until=2026-11-14")
    assert shown == by_dates and by_dates["written"] == 5 + 3
    # Someone else's event is no choice of ours: refused, with the reason.
    response = client.get(f"/organiser/dashboard?campaign={CAMPAIGN}&event={elsewhere}")
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    response = client.get(
        f"/organiser/dashboard?campaign={CAMPAIGN}&since=2026-11-14&until=2026-11-01"
    )
    assert response.status_code == 400
    assert "The end date is before the start date." in response.get_data(as_text=True)


def _csv(client, url: str) -> list[dict[str, str]]:
    with client.get(url) as response:
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert response.headers["Cache-Control"] == "private, no-store"
        data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_exports_equal_direct_counts_and_are_spreadsheet_safe(seeded):
    app, client, organiser_id = seeded
    letters = _csv(client, "/organiser/dashboard/letters.csv")
    divisions = _csv(client, "/organiser/dashboard/divisions.csv")
    answers = _csv(client, "/organiser/dashboard/answers.csv")
    with app.app_context():
        expected = _expected(organiser_id)
    assert len(letters) == expected["written"]
    assert sum(r["delivery"] == "email" for r in letters) == expected["emailed"]
    assert sum(r["state"] == "delivered" for r in letters) == expected["delivered"]
    assert "own_words" not in letters[0]  # bodies only when asked for
    assert sum(int(r["letters"]) for r in divisions) == expected["written"]
    assert sum(int(r["real_replies"]) for r in divisions) == expected["replied"]
    assert len(answers) == expected["answered"]
    shared = [r["shared_reply"] for r in answers if r["shared_reply"]]
    # The unshared one stays out; the attendee's shared one is in, formula-safe.
    assert shared == ["Thank you for your letter =1+1", "'@Dear attendee"]
    assert sum(bool(r["follow_up_answer"]) for r in letters) == expected["answered"]
    assert sum(int(r["asked"]) for r in divisions) == expected["asked"]
    assert sum(int(r["answered"]) for r in divisions) == expected["answered"]
    with_bodies = _csv(client, "/organiser/dashboard/letters.csv?bodies=1")
    assert "own_words" in with_bodies[0]
    formula = _csv(client, "/organiser/dashboard/answers.csv")
    assert all(not v.startswith(("=", "+", "-", "@")) for r in formula for v in r.values())


def test_a_large_export_is_streamed(seeded):
    _, client, _ = seeded
    with client.get("/organiser/dashboard/letters.csv") as response:
        assert response.is_streamed
