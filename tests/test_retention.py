"""Supporters' personal details are removed some weeks after a letter is finished."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from letters import clock
from letters.extensions import db
from letters.models import Message, OwnWordsShingle
from letters.retention import REMOVED, scrub
from tests import factories
from tests.helpers import submit


def _letter(client, **changes) -> str:
    response = submit(client, division="Canberra", member="Alicia Payne", **changes)
    assert response.status_code == 303
    return response.headers["Location"]


def _row(location: str) -> Message:
    db.session.expire_all()
    token = location.rsplit("/", 1)[1]
    return db.session.scalar(select(Message).where(Message.token == token))


def test_printed_letters_lose_personal_details_after_the_retention_period(app, client):
    location = _letter(client, personal_note="My daughter is nine.")
    with app.app_context():
        now = dt.datetime.now(dt.UTC)
        assert scrub(now + dt.timedelta(days=27)) == 0
        assert scrub(now + dt.timedelta(days=29)) == 1
        row = _row(location)
        assert row.sender_name == REMOVED
        assert row.sender_email == row.sender_street == row.sender_suburb == ""
        assert row.sender_email_key == ""  # the mailbox key is the address, too
        assert row.personal_note == ""
        assert row.division == "Canberra" and row.member_name == "Alicia Payne"  # still counted
    page = client.get(location)
    assert page.status_code == 410
    text = page.get_data(as_text=True)
    assert "have been removed" in text and "My daughter is nine." not in text
    assert client.get(location + ".pdf").status_code == 410
    assert client.get(location + "/edit").status_code == 303


def _own_words_filed(message_id) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(OwnWordsShingle)
        .where(OwnWordsShingle.message_id == message_id)
    )


def test_scrubbing_removes_the_own_words_shingles_and_only_those_due(app, client):
    # The shingles are derived from the supporter's own words: personal text, kept no longer.
    finished = _letter(client, personal_note="My daughter is nine and loves her tablet.")
    with app.app_context():
        now = dt.datetime.now(dt.UTC)
        with clock.frozen(now + dt.timedelta(days=20)):
            kept = _letter(client, personal_note="My daughter is nine and loves her tablet.")
        old, new = _row(finished).id, _row(kept).id
        assert _own_words_filed(old) > 0 and _own_words_filed(new) > 0
        assert scrub(now + dt.timedelta(days=29)) == 1
        assert _own_words_filed(old) == 0
        assert _own_words_filed(new) > 0  # not yet due: still filed
        assert scrub(now + dt.timedelta(days=49)) == 1
        assert db.session.scalar(select(func.count()).select_from(OwnWordsShingle)) == 0


def test_letters_still_on_their_way_keep_their_details(app, client):
    location = _letter(client, delivery="email")  # awaiting confirmation
    with app.app_context():
        assert scrub(dt.datetime.now(dt.UTC) + dt.timedelta(days=6)) == 0
        assert _row(location).sender_name == "Jane Citizen"


def test_sent_letters_are_scrubbed_counting_from_delivery(app, client):
    location = _letter(client, delivery="email")
    with app.app_context():
        row = _row(location)
        delivered = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
        row.state, row.delivered_at = "delivered", delivered
        db.session.commit()
        assert scrub(delivered + dt.timedelta(days=27)) == 0
        assert scrub(delivered + dt.timedelta(days=29)) == 1


@pytest.mark.parametrize("state", ["failed", "expired"])
def test_email_letters_that_never_arrived_are_scrubbed_too(app, client, state):
    location = _letter(client, delivery="email", personal_note="About my son.")
    with app.app_context():
        row = _row(location)
        ended = row.created_at + dt.timedelta(days=7)
        row.state = state
        if state == "failed":
            row.failed_at = ended
        db.session.commit()
        finished = ended if state == "failed" else row.created_at
        assert scrub(finished + dt.timedelta(days=27)) == 0
        assert scrub(finished + dt.timedelta(days=29)) == 1
        row = _row(location)
        assert (row.sender_name, row.personal_note, row.state) == (REMOVED, "", state)


# --- the edges of the rule (each test below fails on a small change to letters/retention.py) --

DAYS = 28  # KEEP_PERSONAL_DATA_DAYS's default, which these apps keep


def test_a_sent_letter_counts_from_when_it_was_sent_not_when_it_was_written(app):
    with app.app_context():
        written = clock.now() - dt.timedelta(days=40)
        sent = written + dt.timedelta(days=30)
        factories.message(delivery="email", state="sent", created_at=written, sent_at=sent)
        assert scrub(sent + dt.timedelta(days=DAYS - 1)) == 0
        assert scrub(sent + dt.timedelta(days=DAYS + 1)) == 1


def test_a_draft_is_kept_until_the_full_period_has_passed(app):
    with app.app_context():
        changed = clock.now() - dt.timedelta(days=DAYS)
        row = factories.message(updated_at=changed)
        assert scrub(changed + dt.timedelta(days=DAYS)) == 0  # exactly the period: not yet
        assert scrub(changed + dt.timedelta(days=DAYS, seconds=1)) == 1
        assert _by_id(row.id).sender_name == REMOVED


def test_a_scrubbed_letter_is_not_counted_or_touched_again(app):
    with app.app_context():
        factories.message(updated_at=clock.now() - dt.timedelta(days=DAYS + 1))
        first = clock.now()
        assert scrub(first) == 1
        # Long after, the row is as old as ever: only its scrubbed mark keeps it out.
        assert scrub(first + dt.timedelta(days=DAYS * 3)) == 0
        row = db.session.scalars(select(Message)).one()
        assert row.scrubbed_at is not None
        assert abs((row.scrubbed_at - first).total_seconds()) < 1  # kept from the first pass


def _by_id(message_id):
    db.session.expire_all()
    return db.session.get(Message, message_id)


def test_a_delivered_letter_is_kept_until_the_full_period_has_passed(app):
    with app.app_context():
        delivered = clock.now() - dt.timedelta(days=DAYS)
        factories.message(delivery="email", state="delivered", delivered_at=delivered)
        assert scrub(delivered + dt.timedelta(days=DAYS)) == 0  # exactly the period: not yet
        assert scrub(delivered + dt.timedelta(days=DAYS, seconds=1)) == 1


def test_bounce_reasons_quoting_the_supporter_go_and_the_members_stay(app):
    from letters.models import DeliveryEvent

    with app.app_context():
        sent = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        letter = factories.message(
            delivery="email", state="delivered", sent_at=sent, delivered_at=sent
        )
        later = sent + dt.timedelta(days=20)  # still kept when the first one goes
        recent = factories.message(
            delivery="email", state="delivered", sent_at=later, delivered_at=later
        )
        about_supporter = f"550 5.1.1 <{letter.sender_email}>: user unknown"
        about_member = "550 5.1.1 <someone.mp@aph.gov.au>: mailbox full"
        about_recent = f"550 5.1.1 <{recent.sender_email}>: user unknown"
        for number, (row, kind, reason) in enumerate(
            [
                (letter, "receipt", about_supporter),
                (letter, "letter", about_member),
                (recent, "confirmation", about_recent),
            ]
        ):
            db.session.add(
                DeliveryEvent(
                    sg_event_id=f"event-{number}",
                    message_id=row.id,
                    kind=kind,
                    event="bounce",
                    occurred_at=int(sent.timestamp()) + number,
                    reason=reason,
                )
            )
        db.session.commit()
        assert scrub(sent + dt.timedelta(days=29)) == 1
        reasons = dict(db.session.execute(select(DeliveryEvent.kind, DeliveryEvent.reason)).all())
        assert reasons == {"receipt": "", "letter": about_member, "confirmation": about_recent}


@pytest.mark.parametrize("last", ["asked_at", "reminded_at", "asked_again_at", "answered_at"])
def test_the_last_follow_up_keeps_the_details_for_the_whole_period(app, last):
    """Each follow-up email, and the answer, starts the period again, to the second."""
    from letters.models import FollowUp

    with app.app_context():
        sent = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
        letter = factories.message(delivery="email", state="sent", sent_at=sent, created_at=sent)
        moment = sent + dt.timedelta(days=40)
        answer = {"answer": "no_reply"} if last in ("answered_at", "asked_again_at") else {}
        row = FollowUp(message_id=letter.id, created_at=sent, asked_at=sent, **answer)
        setattr(row, last, moment)
        db.session.add(row)
        db.session.commit()
        keep = dt.timedelta(days=app.config["KEEP_PERSONAL_DATA_DAYS"])
        assert scrub(moment + keep) == 0
        assert scrub(moment + keep + dt.timedelta(seconds=1)) == 1


@pytest.mark.parametrize("state", ["awaiting_confirmation", "queued", "sending"])
def test_an_email_letter_still_on_its_way_keeps_its_details(app, state):
    with app.app_context():
        long_ago = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        factories.message(delivery="email", state=state, created_at=long_ago)
        assert scrub(long_ago + dt.timedelta(days=365)) == 0
