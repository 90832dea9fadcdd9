"""Did your MP reply? The follow-up emails on a driven clock, the answer pages, retention."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from letters import clock
from letters.extensions import db
from letters.messages import followups
from letters.messages.followups import Answer, Ask
from letters.models import FollowUp, Message
from letters.retention import scrub
from tests import factories
from tests.fakes.sendgrid import API_KEY
from tests.helpers import csrf_token_in

SENT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
BASE = "https://letters.example.org"


@pytest.fixture
def app(make_app, fake):
    """An app sending through the fake SendGrid."""
    return make_app(
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_API_HOST=fake.url,
        SEND_TIMEOUT_SECONDS=1.0,
        BASE_URL=BASE,
        FOLLOWUP_REPLY_TO="organiser@example.org",
    )


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def sent_letter(**fields) -> Message:
    values = {"state": "sent", "sent_at": SENT, "created_at": SENT - DAY, **fields}
    return factories.message(delivery="email", **values)


def followup_emails(fake) -> list:
    return [r for r in fake.received if r.kind == "followup" and r.status == 202]


def row(message: Message) -> FollowUp | None:
    db.session.expire_all()
    return db.session.get(FollowUp, message.id)


def run_at(day: float) -> followups.Run:
    clock.freeze(SENT + day * DAY)
    return followups.send_due()


def answer_path(fake, answer: str) -> str:
    text = followup_emails(fake)[-1].payload["content"][0]["value"]
    found = re.search(re.escape(BASE) + r"(/letters/\S+/reply\?answer=" + answer + ")", text)
    assert found, text
    return found.group(1)


def press(client, path: str, **data: str):
    """Open an answer link, then press the page's one button as a browser would."""
    page = client.get(path).get_data(as_text=True)
    form = {"csrf_token": csrf_token_in(page), **data}
    return client.post(path.split("?")[0], data=form)


def test_the_question_goes_on_day_14_not_day_13(ctx, fake):
    letter = sent_letter()
    assert run_at(13.9).first == 0
    assert followup_emails(fake) == []
    assert run_at(14).first == 1
    (sent,) = followup_emails(fake)
    payload = sent.payload
    assert payload["personalizations"][0]["to"][0]["email"] == letter.sender_email
    assert payload["reply_to"]["email"] == "organiser@example.org"
    subject = "Did Priya Nandakumar MP reply to your letter about Tougher on Tech?"
    assert payload["subject"] == subject
    text = payload["content"][0]["value"]
    for answer in Answer:
        assert f"/letters/{letter.token}/reply?answer={answer.value}" in text
    assert f"/letters/{letter.token}/stop" in text
    assert row(letter).asked_at == SENT + 14 * DAY
    assert run_at(14.5).first == 0  # once
    assert len(followup_emails(fake)) == 1


def test_one_reminder_at_day_21_only_when_unanswered(ctx, fake):
    quiet, answered = sent_letter(), sent_letter()
    run_at(14)
    assert followups.record_answer(answered.id, Answer.REAL)
    assert run_at(20.9).reminders == 0
    assert run_at(21).reminders == 1
    reminder = followup_emails(fake)[-1]
    assert reminder.message_id == str(quiet.id)
    assert reminder.payload["subject"].startswith("Reminder: ")
    assert row(quiet).reminded_at == SENT + 21 * DAY
    assert run_at(60).reminders == 0  # one reminder, nothing more
    assert len(followup_emails(fake)) == 3


def test_no_reply_yet_asks_once_more_21_days_later(ctx, fake):
    letter = sent_letter()
    run_at(14)
    clock.freeze(SENT + 15 * DAY)
    assert followups.record_answer(letter.id, Answer.NO_REPLY)
    assert run_at(35.9).again == 0
    assert run_at(36).again == 1
    assert row(letter).asked_again_at == SENT + 36 * DAY
    # The later answer replaces "no reply yet"; after it, nothing more.
    assert followups.record_answer(letter.id, Answer.REAL, reply_text="Thank you for writing")
    assert row(letter).answer == "real"
    assert not followups.record_answer(letter.id, Answer.ACKNOWLEDGEMENT)
    run_at(100)
    assert len(followup_emails(fake)) == 2


def test_nothing_after_an_answer_or_dont_ask_again(ctx, fake):
    answered, stopped = sent_letter(), sent_letter()
    run_at(14)
    followups.record_answer(answered.id, Answer.RATHER_NOT_SAY)
    followups.stop_asking(stopped.id)
    for day in (21, 36, 60):
        assert run_at(day) == followups.Run()
    assert len(followup_emails(fake)) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "failed", "sent_at": None, "failed_at": SENT},
        {"state": "bounced"},
        {"state": "dropped"},
        {"state": "expired", "sent_at": None},
        {"state": "awaiting_confirmation", "sent_at": None},
        {"state": "queued", "sent_at": None},
    ],
    ids=lambda f: f["state"],
)
def test_nothing_for_a_letter_that_never_went(ctx, fake, fields):
    sent_letter(**fields)
    factories.message(state="draft", updated_at=SENT, created_at=SENT)  # a printed letter
    assert run_at(14) == followups.Run()
    assert run_at(40) == followups.Run()
    assert followup_emails(fake) == []
    assert db.session.scalars(select(FollowUp)).all() == []


def test_a_delivered_letter_is_asked_about(ctx, fake):
    sent_letter(state="delivered", delivered_at=SENT + dt.timedelta(minutes=1))
    assert run_at(14).first == 1


def test_a_killed_send_is_retried_after_its_lease(app, ctx, fake):
    letter = sent_letter()
    clock.freeze(SENT + 14 * DAY)
    followups.open_rows(clock.now())
    # A worker claims the email and dies before recording it (or even sending).
    assert followups.claim(letter.id, Ask.FIRST)
    assert not followups.claim(letter.id, Ask.FIRST)  # a second worker cannot take it
    assert followups.send_due().first == 0  # the lease is held: nobody else sends
    assert followups.pending().first == 0
    lease = app.config["SEND_LEASE_SECONDS"]
    clock.advance(dt.timedelta(seconds=lease - 1))
    assert followups.send_due().first == 0
    clock.advance(dt.timedelta(seconds=2))
    assert followups.pending().first == 1
    assert followups.send_due().first == 1
    assert len(followup_emails(fake)) == 1
    assert row(letter).asked_at is not None and row(letter).claimed_until is None


def test_a_refused_send_gives_the_lease_back(ctx, fake):
    letter = sent_letter()
    fake.answer(500, kind="followup")
    run = run_at(14)
    assert run.first == 0 and run.not_sent == 1
    assert row(letter).asked_at is None and row(letter).claimed_until is None
    fake.answer()
    assert run_at(14.01).first == 1


def test_a_get_of_an_answer_link_records_nothing(app, ctx, fake):
    letter = sent_letter()
    run_at(14)
    client = app.test_client()
    path = answer_path(fake, "real")
    for _ in range(3):  # mail scanners, previews, the supporter's first look
        page = client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'value="real" checked' in html and "Record my answer" in html
    assert row(letter).answer == "" and row(letter).answered_at is None
    assert client.post(path.split("?")[0], data={"answer": "real"}).status_code == 400  # no CSRF
    assert row(letter).answer == ""


def test_each_answer_is_recorded_once(app, ctx, fake):
    letter = sent_letter()
    run_at(14)
    client = app.test_client()
    response = press(
        client,
        answer_path(fake, "acknowledgement"),
        answer="acknowledgement",
        reply_text="<b>We have received your email</b>",
        share="yes",
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/letters/{letter.token}?answered=1")
    recorded = row(letter)
    assert recorded.answer == "acknowledgement" and recorded.answered_at == clock.now()
    assert recorded.reply_text == "<b>We have received your email</b>" and recorded.reply_shared
    clock.advance(DAY)
    again = press(client, answer_path(fake, "real"), answer="real")
    assert again.status_code == 200
    assert "already recorded" in again.get_data(as_text=True)
    assert row(letter).answer == "acknowledgement" and row(letter).answered_at == SENT + 14 * DAY
    # The letter's page shows the answer on its timeline.
    page = client.get(f"/letters/{letter.token}").get_data(as_text=True)
    assert "We asked whether Priya Nandakumar replied" in page
    assert "You told us: Only an acknowledgement" in page


def test_a_reply_not_shared_is_kept_private(ctx, fake):
    letter = sent_letter()
    run_at(14)
    assert followups.record_answer(letter.id, Answer.REAL, reply_text="Dear Jane", share=False)
    assert not row(letter).reply_shared


def test_dont_ask_me_again_is_a_post_recorded_at_once(app, ctx, fake):
    letter = sent_letter()
    run_at(14)
    client = app.test_client()
    stop = f"/letters/{letter.token}/stop"
    page = client.get(stop).get_data(as_text=True)
    assert row(letter).stop_asking is False  # opening the link changes nothing
    response = client.post(stop, data={"csrf_token": csrf_token_in(page)})
    assert response.status_code == 200 and "We will not ask again" in response.get_data(True)
    assert row(letter).stop_asking is True
    assert run_at(21).reminders == 0


def test_pages_of_a_letter_never_asked_about_are_not_found(app, ctx, fake):
    letter = sent_letter()
    client = app.test_client()
    assert client.get(f"/letters/{letter.token}/reply?answer=real").status_code == 404
    assert client.get(f"/letters/{letter.token}/stop").status_code == 404


def test_reply_texts_are_scrubbed_with_the_letters_details(app, ctx, fake):
    keep = app.config["KEEP_PERSONAL_DATA_DAYS"]
    letter = sent_letter()
    run_at(14)
    clock.freeze(SENT + 15 * DAY)
    followups.record_answer(letter.id, Answer.REAL, reply_text="Dear Jane, thank you", share=True)
    # The retention period runs from the last follow-up, not from the sending.
    clock.freeze(SENT + (15 + keep - 1) * DAY)
    assert scrub() == 0
    assert row(letter).reply_text == "Dear Jane, thank you"
    clock.freeze(SENT + (15 + keep + 1) * DAY)
    assert scrub() == 1
    kept = row(letter)
    assert kept.reply_text == "" and kept.answer == "real" and kept.reply_shared
    assert db.session.get(Message, letter.id).sender_email == ""
    assert run_at(200) == followups.Run()  # a scrubbed letter is never asked about


def test_a_letter_with_no_follow_up_is_scrubbed_as_before(app, ctx, fake):
    sent_letter()
    clock.freeze(SENT + (app.config["KEEP_PERSONAL_DATA_DAYS"] + 1) * DAY)
    assert scrub() == 1


@pytest.mark.parametrize("variable", ["LETTERS_FOLLOWUP_AFTER_DAYS", "LETTERS_FOLLOWUP_AGAIN_DAYS"])
@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_follow_up_intervals_must_be_positive_days(variable, value):
    from letters.settings import ConfigError, check, from_environment

    with pytest.raises(ConfigError, match=variable):
        check(from_environment({variable: value}))


def test_event_attendees_are_never_emailed(ctx, fake):
    # Attendees who did not tick that they may be asked afterwards (the default) are not.
    event = factories.event(date=dt.date(2026, 11, 1))
    factories.attendees(event, 3)
    assert run_at(14) == followups.Run()
    assert run_at(30) == followups.Run()
    assert fake.received == []


def test_the_answer_page_dates_the_answer_on_the_sites_calendar(app, ctx, fake):
    letter = sent_letter()
    run_at(14)
    clock.freeze(dt.datetime(2026, 11, 16, 20, 0, tzinfo=dt.UTC))  # 7 am on the 17th in Sydney
    followups.record_answer(letter.id, Answer.REAL)
    page = app.test_client().get(f"/letters/{letter.token}/reply").get_data(as_text=True)
    assert "on 17 November 2026" in page
