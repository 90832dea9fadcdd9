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
from tests.helpers import campaigns_folder, csrf_token_in

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


def test_no_second_question_after_dont_ask_again_or_once_the_letters_details_went(ctx, fake):
    stopped, removed, asked = sent_letter(), sent_letter(), sent_letter()
    run_at(14)
    clock.freeze(SENT + 15 * DAY)
    for letter in (stopped, removed, asked):
        assert followups.record_answer(letter.id, Answer.NO_REPLY)
    followups.stop_asking(stopped.id)
    gone = db.session.get(Message, removed.id)
    gone.scrubbed_at, gone.sender_email = clock.now(), ""
    db.session.commit()
    clock.freeze(SENT + 36 * DAY)
    assert followups.due() == [(asked.id, Ask.AGAIN)]
    assert run_at(36) == followups.Run(again=1)
    assert followup_emails(fake)[-1].message_id == str(asked.id)


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


# --- who is asked, in what order, and what a run counts -----------------------------------


def test_due_lists_the_oldest_rows_first_up_to_its_limit(ctx, fake):
    older, newer = sent_letter(), sent_letter()
    # Inserted newest first, so only the ORDER BY puts the older row first.
    db.session.add(FollowUp(message_id=newer.id, created_at=SENT + 15 * DAY))
    db.session.add(FollowUp(message_id=older.id, created_at=SENT + 14 * DAY))
    db.session.commit()
    clock.freeze(SENT + 16 * DAY)
    assert followups.due(limit=1) == [(older.id, Ask.FIRST)]
    assert followups.due() == [(older.id, Ask.FIRST), (newer.id, Ask.FIRST)]


def test_due_stops_at_its_limit_across_the_kinds_of_email(ctx, fake):
    first = [sent_letter(), sent_letter()]
    reminded = [sent_letter(sent_at=SENT - DAY), sent_letter(sent_at=SENT - DAY)]
    run_at(13)  # the two older letters are asked on their day 14
    assert followups.pending() == followups.Pending(first=0, reminders=0, again=0)
    clock.freeze(SENT + 21 * DAY)
    followups.open_rows(clock.now())
    assert followups.pending() == followups.Pending(first=2, reminders=2, again=0)
    assert followups.due(limit=2) == [(m.id, Ask.FIRST) for m in first]
    found = followups.due(limit=3)
    assert len(found) == 3 and found[2][1] is Ask.REMINDER
    assert {m for m, _ in followups.due()} == {m.id for m in first + reminded}


def test_pending_counts_the_second_question_after_no_reply_yet(ctx, fake):
    letter = sent_letter()
    run_at(14)
    assert followups.record_answer(letter.id, Answer.NO_REPLY)
    clock.freeze(SENT + 34.9 * DAY)  # "no reply yet" came on day 14: asked again on day 35
    assert followups.pending().again == 0
    clock.freeze(SENT + 35 * DAY)
    assert followups.pending() == followups.Pending(first=0, reminders=0, again=1)


def test_a_held_lease_is_neither_listed_nor_counted_as_not_sent(ctx, fake):
    letter = sent_letter()
    clock.freeze(SENT + 14 * DAY)
    followups.open_rows(clock.now())
    assert followups.claim(letter.id, Ask.FIRST)
    assert followups.due() == []
    assert followups.send_due() == followups.Run()


def test_a_run_counts_each_email_it_sent_and_each_it_could_not(ctx, fake):
    sent_letter(), sent_letter()
    fake.answer(500, 500, kind="followup")
    assert run_at(14) == followups.Run(opened=2, not_sent=2)
    fake.answer()
    assert run_at(14.01) == followups.Run(first=2)


def test_a_letter_listed_by_two_runs_is_asked_once(ctx, fake):
    letter = sent_letter()
    clock.freeze(SENT + 14 * DAY)
    followups.open_rows(clock.now())
    listed = followups.due()  # a second run read the same list before the first sent
    assert followups.send_due().first == 1
    clock.advance(dt.timedelta(minutes=1))
    assert [followups.send_one(m, ask) for m, ask in listed] == [False]
    assert len(followup_emails(fake)) == 1
    assert row(letter).asked_at == SENT + 14 * DAY


def test_a_worker_late_past_its_lease_does_not_move_the_schedule(app, ctx, fake, monkeypatch):
    """A worker whose send outlived its lease: another sent meanwhile, and its time stands."""
    letter = sent_letter()
    lease = dt.timedelta(seconds=app.config["SEND_LEASE_SECONDS"])
    real_mailer = followups.get_mailer()

    class SlowMailer:
        calls = 0

        def send(self, email):
            SlowMailer.calls += 1
            if SlowMailer.calls == 1:
                clock.advance(lease + dt.timedelta(seconds=1))
                assert followups.send_due().first == 1  # the other worker
                clock.advance(dt.timedelta(minutes=5))
            return real_mailer.send(email)

    monkeypatch.setattr(followups, "get_mailer", SlowMailer)
    run_at(14)
    assert len(followup_emails(fake)) == 2  # at least once: the late one went too
    assert row(letter).asked_at == SENT + 14 * DAY + lease + dt.timedelta(seconds=1)


def test_a_mailer_that_crashes_gives_the_lease_back(ctx, fake, monkeypatch):
    letter = sent_letter()

    class Broken:
        def send(self, email):
            raise RuntimeError("connection reset")

    monkeypatch.setattr(followups, "get_mailer", Broken)
    assert run_at(14) == followups.Run(opened=1, not_sent=1)
    assert row(letter).asked_at is None and row(letter).claimed_until is None
    monkeypatch.undo()
    assert followups.send_due().first == 1  # at once: no lease left to run out


def test_a_letter_whose_email_cannot_be_made_is_not_counted_sent(ctx, fake):
    sent_letter(campaign_key="a-campaign-since-removed")
    assert run_at(14) == followups.Run(opened=1, not_sent=1)
    assert followup_emails(fake) == []


def test_a_letter_gone_or_held_by_another_worker_is_not_sent(ctx, fake):
    import uuid

    letter = sent_letter()
    clock.freeze(SENT + 14 * DAY)
    followups.open_rows(clock.now())
    assert not followups.send_one(uuid.uuid4(), Ask.FIRST)
    assert followups.claim(letter.id, Ask.FIRST)
    assert not followups.send_one(letter.id, Ask.FIRST)
    assert followup_emails(fake) == []


def test_a_run_that_loses_the_race_to_open_rows_opens_none(ctx, fake, monkeypatch):
    from sqlalchemy import and_

    letter = sent_letter()
    clock.freeze(SENT + 14 * DAY)
    assert followups.open_rows(clock.now()) == 1
    # Another run's row appears between this run's look and its INSERT.
    monkeypatch.setattr(followups, "_newly_due_letters", lambda now: and_(Message.id == letter.id))
    assert followups.open_rows(clock.now()) == 0
    assert row(letter) is not None


def test_an_answer_needs_a_question_that_went(ctx, fake):
    letter = sent_letter()
    fake.answer(500, kind="followup")
    run_at(14)  # the row is open but its question was refused
    assert row(letter).asked_at is None
    assert not followups.record_answer(letter.id, Answer.REAL)
    assert row(letter).answer == ""


# --- the question itself ------------------------------------------------------------------


def _text_of(sent) -> str:
    return sent.payload["content"][0]["value"]


def test_the_question_names_the_supporter_member_campaign_and_letter(app, ctx, fake):
    letter = sent_letter()
    run_at(14)
    (first,) = followup_emails(fake)
    payload = first.payload
    assert payload["from"] == {"email": app.config["FROM_EMAIL"], "name": "Tougher on Tech"}
    assert payload["personalizations"][0]["to"] == [
        {"email": letter.sender_email, "name": letter.sender_name}
    ]
    assert payload["reply_to"] == {"email": "organiser@example.org", "name": "Tougher on Tech"}
    assert payload["categories"] == ["tougher-on-tech"]
    assert [part["type"] for part in payload["content"]] == ["text/plain"]
    text = _text_of(first)
    assert text.startswith(f"Hello {letter.sender_name},")
    assert "You wrote to Priya Nandakumar MP with Tougher on Tech." in text
    assert f"Your letter and what has happened to it: {BASE}/letters/{letter.token}\n" in text
    run_at(21)
    reminder = _text_of(followup_emails(fake)[-1])
    assert "A reminder of our one question about the letter you wrote to Priya" in reminder
    followups.record_answer(letter.id, Answer.NO_REPLY)
    run_at(42)
    again = _text_of(followup_emails(fake)[-1])
    assert "A few weeks ago you told us Priya Nandakumar MP had not replied yet" in again


def test_a_letter_to_an_unnamed_member_asks_about_your_mp(ctx, fake):
    sent_letter(member_name="")
    run_at(14)
    (sent,) = followup_emails(fake)
    assert sent.payload["subject"] == "Did your MP reply to your letter about Tougher on Tech?"


def test_with_no_reply_to_set_replies_go_to_the_sender(make_app, fake):
    app = make_app(SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=fake.url, FOLLOWUP_REPLY_TO="")
    with app.app_context():
        sent_letter()
        run_at(14)
        (sent,) = followup_emails(fake)
        assert "reply_to" not in sent.payload


def test_a_letter_of_another_campaign_is_asked_in_that_campaigns_name(make_app, fake, tmp_path):
    campaigns = campaigns_folder(tmp_path / "campaigns", "kids-online", "Kids Online")
    app = make_app(SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=fake.url, CAMPAIGNS_DIR=campaigns)
    with app.app_context():
        sent_letter(campaign_key="kids-online")
        run_at(14)
        (sent,) = followup_emails(fake)
        assert sent.payload["subject"].endswith("reply to your letter about Kids Online?")
        assert sent.payload["categories"] == ["kids-online"]


def test_a_run_counts_every_reminder_and_every_second_question_it_sent(ctx, fake):
    unanswered = [sent_letter(), sent_letter()]
    no_reply_yet = [sent_letter(), sent_letter()]
    assert run_at(14).first == 4
    for letter in no_reply_yet:
        assert followups.record_answer(letter.id, Answer.NO_REPLY)
    assert run_at(21).reminders == len(unanswered)
    assert run_at(35).again == len(no_reply_yet)


def test_a_follow_up_lease_holds_to_its_last_instant(ctx, fake):
    letter = sent_letter()
    clock.freeze(SENT + 14 * DAY)
    followups.open_rows(clock.now())
    assert followups.claim(letter.id, Ask.FIRST)
    held_until = row(letter).claimed_until
    clock.freeze(held_until)
    assert followups.due() == []
    clock.freeze(held_until + dt.timedelta(microseconds=1))
    assert followups.due() == [(letter.id, Ask.FIRST)]


def test_a_letter_whose_details_went_before_its_question_is_not_asked(ctx, fake):
    removed, kept = sent_letter(), sent_letter()
    clock.freeze(SENT + 14 * DAY)
    followups.open_rows(clock.now())
    gone = db.session.get(Message, removed.id)
    gone.scrubbed_at, gone.sender_email = clock.now(), ""
    db.session.commit()
    assert followups.due() == [(kept.id, Ask.FIRST)]


def test_the_second_question_is_asked_once(ctx, fake):
    letter = sent_letter()
    run_at(14)
    assert followups.record_answer(letter.id, Answer.NO_REPLY)
    assert run_at(35).again == 1
    assert run_at(36) == followups.Run()
