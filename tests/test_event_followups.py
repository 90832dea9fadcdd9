"""Did your MP reply? Asked of event attendees who agreed, about their printed letters.

The same schedule, email, pages and leases as emailed letters (tests/test_followups.py), on a
driven clock; the retention of a consenting attendee's address until their follow-up ends.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import select

from letters import clock
from letters.extensions import db
from letters.mail import SendResult
from letters.messages import followups
from letters.messages.followups import Answer, Ask
from letters.models import Attendee, Event, FollowUp, new_token
from letters.printing.runs import mark_printed
from letters.retention import REMOVED, event_data_removal_at, scrub_events
from tests import factories
from tests.fakes.sendgrid import API_KEY
from tests.helpers import campaigns_folder, csrf_token_in

EVENT_DAY = dt.date(2026, 11, 1)
PRINTED = dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC)  # 3 pm in Sydney, at the event
DAY = dt.timedelta(days=1)
BASE = "https://letters.example.org"
ORGANISER = "runs-the-hall@example.org"


@pytest.fixture
def app(make_app, fake):
    """An app sending through the fake SendGrid; emailed letters' Reply-To is another address,
    so the tests tell the event organiser's apart."""
    return make_app(
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_API_HOST=fake.url,
        SEND_TIMEOUT_SECONDS=1.0,
        BASE_URL=BASE,
        FOLLOWUP_REPLY_TO="campaign-office@example.org",
    )


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
    clock.unfreeze()


@pytest.fixture
def event(ctx) -> Event:
    return factories.event(factories.organiser(ORGANISER), name="Hall & tea", date=EVENT_DAY)


def attendee(event: Event, *, printed: bool = True, **fields) -> Attendee:
    """One settled attendee (agreeing to be asked unless told otherwise), printed at PRINTED."""
    values = {"name": "Ada Writer", "email": "ada@example.org", "may_follow_up": True, **fields}
    row = Attendee(
        event_id=event.id,
        postcode="2001",
        division="Banksia",
        division_state="NSW",
        member_name="Priya Nandakumar",
        **values,
    )
    db.session.add(row)
    db.session.commit()
    if printed:
        mark_printed([row.id], PRINTED)
        db.session.commit()
    return row


def followup_emails(fake) -> list:
    return [r for r in fake.received if r.kind == "followup" and r.status == 202]


def row_of(person: Attendee) -> FollowUp | None:
    db.session.expire_all()
    return db.session.scalar(select(FollowUp).where(FollowUp.attendee_id == person.id))


def run_at(day: float) -> followups.Run:
    clock.freeze(PRINTED + day * DAY)
    return followups.send_due()


def link(fake, answer: str) -> str:
    text = followup_emails(fake)[-1].payload["content"][0]["value"]
    found = re.search(re.escape(BASE) + r"(/event-letters/\S+/reply\?answer=" + answer + ")", text)
    assert found, text
    return found.group(1)


def press(client, path: str, **data: str):
    """Open a link from the email, then press the page's one button as a browser would."""
    page = client.get(path).get_data(as_text=True)
    return client.post(path.split("?")[0], data={"csrf_token": csrf_token_in(page), **data})


def test_a_consenting_attendee_is_asked_14_days_after_printing(app, event, fake):
    ada = attendee(event)
    assert run_at(13.9) == followups.Run()
    clock.freeze(PRINTED + 14 * DAY)
    assert followups.pending() == followups.Pending(first=1)  # what a dry run counts
    assert run_at(14).first == 1
    (sent,) = followup_emails(fake)
    payload = sent.payload
    assert payload["personalizations"][0]["to"][0]["email"] == "ada@example.org"
    assert payload["from"]["email"] == app.config["FROM_EMAIL"]
    assert payload["from"]["name"] == "Tougher on Tech"
    assert payload["reply_to"]["email"] == ORGANISER  # who ran the event, not the campaign's
    assert (
        payload["subject"] == "Did Priya Nandakumar MP reply to your letter about Tougher on Tech?"
    )
    text = payload["content"][0]["value"]
    assert text.startswith("Hello Ada Writer,") and "at Hall & tea" in text
    assert "\nTougher on Tech, a campaign of " in text  # the footer says whose email it is
    token = row_of(ada).token
    assert token and len(token) >= 32
    for answer in Answer:
        assert f"/event-letters/{token}/reply?answer={answer.value}" in text
    assert f"/event-letters/{token}/stop" in text
    assert "/letters/" not in text  # a printed letter has no page of its own
    assert "Your letter and what has happened to it" not in text
    assert row_of(ada).asked_at == PRINTED + 14 * DAY
    assert run_at(14.5).first == 0  # once
    assert len(followup_emails(fake)) == 1


def test_the_reminder_goes_at_day_21_only_when_unanswered(event, fake):
    quiet, answered = attendee(event), attendee(event, email="bo@example.org")
    run_at(14)
    assert followups.record_answer(row_of(answered).id, Answer.REAL)
    assert (row_of(answered).reply_text, row_of(answered).reply_shared) == ("", False)
    assert run_at(20.9).reminders == 0
    assert run_at(21).reminders == 1
    reminder = followup_emails(fake)[-1]
    assert reminder.payload["personalizations"][0]["to"][0]["email"] == quiet.email
    assert reminder.payload["subject"].startswith("Reminder: ")
    assert row_of(quiet).reminded_at == PRINTED + 21 * DAY
    assert row_of(answered).reminded_at is None
    assert run_at(60) == followups.Run()
    assert len(followup_emails(fake)) == 3


def test_a_pasted_reply_is_shared_only_when_its_writer_says_so(event, fake):
    private, shared = attendee(event), attendee(event, email="bo@example.org")
    run_at(14)
    assert followups.record_answer(row_of(private).id, Answer.REAL, reply_text="Dear Ada")
    assert followups.record_answer(row_of(shared).id, Answer.REAL, reply_text="Dear Bo", share=True)
    assert (row_of(private).reply_text, row_of(private).reply_shared) == ("Dear Ada", False)
    assert (row_of(shared).reply_text, row_of(shared).reply_shared) == ("Dear Bo", True)


def test_an_attendee_who_withdraws_consent_after_the_question_gets_no_reminder(event, fake):
    # Each row is judged by its own attendee: another attendee who may still be asked must
    # not keep a withdrawn one's question open.
    kept, withdrawn = attendee(event), attendee(event, email="bo@example.org")
    assert run_at(14).first == 2
    withdrawn.may_follow_up = False
    db.session.commit()
    assert followups.pending(PRINTED + 21 * DAY) == followups.Pending(reminders=1)
    assert run_at(21).reminders == 1
    reminder = followup_emails(fake)[-1]
    assert reminder.payload["personalizations"][0]["to"][0]["email"] == kept.email
    assert row_of(withdrawn).reminded_at is None
    assert len(followup_emails(fake)) == 3


def test_no_reply_yet_asks_once_more_then_nothing(event, fake):
    ada = attendee(event)
    run_at(14)
    clock.freeze(PRINTED + 15 * DAY)
    assert followups.record_answer(row_of(ada).id, Answer.NO_REPLY)
    assert run_at(35.9).again == 0
    assert run_at(36).again == 1
    assert followups.record_answer(row_of(ada).id, Answer.REAL)
    assert run_at(100) == followups.Run()
    assert len(followup_emails(fake)) == 2


def test_nothing_after_an_answer_or_dont_ask_again_from_the_pages(app, event, fake):
    answered, stopped = attendee(event), attendee(event, email="bo@example.org")
    run_at(14)
    client = app.test_client()
    emails = {e.payload["personalizations"][0]["to"][0]["email"]: e for e in followup_emails(fake)}
    text = emails["ada@example.org"].payload["content"][0]["value"]
    path = re.search(r"(/event-letters/\S+/reply)\?answer=real", text).group(1)
    for _ in range(2):  # a mail scanner, then the attendee's first look: nothing recorded
        page = client.get(path + "?answer=real")
        assert page.status_code == 200 and 'value="real" checked' in page.get_data(True)
    assert row_of(answered).answer == ""
    assert client.post(path, data={"answer": "real"}).status_code == 400  # no CSRF token
    response = press(
        client, path + "?answer=real", answer="real", reply_text="Dear Ada", share="yes"
    )
    assert response.status_code == 303 and response.location.endswith(f"{path}?answered=1")
    shown = client.get(response.location).get_data(as_text=True)
    assert "Thank you: your answer is recorded." in shown and "Yes, a real answer" in shown
    recorded = row_of(answered)
    assert (recorded.answer, recorded.reply_text, recorded.reply_shared) == (
        "real",
        "Dear Ada",
        True,
    )
    again = press(client, path + "?answer=acknowledgement", answer="acknowledgement")
    assert again.status_code == 200 and row_of(answered).answer == "real"  # recorded once

    text = emails["bo@example.org"].payload["content"][0]["value"]
    stop = re.search(r"(/event-letters/\S+/stop)", text).group(1)
    page = client.get(stop).get_data(as_text=True)
    assert row_of(stopped).stop_asking is False  # opening the link changes nothing
    done = client.post(stop, data={"csrf_token": csrf_token_in(page)})
    assert done.status_code == 200 and "We will not ask again" in done.get_data(True)
    assert row_of(stopped).stop_asking is True
    for day in (21, 36, 60):
        assert run_at(day) == followups.Run()
    assert len(followup_emails(fake)) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"may_follow_up": False},  # gave an email, did not tick
        {"may_follow_up": True, "email": ""},  # ticked (a row written by hand), no email
        {"may_follow_up": False, "email": ""},
    ],
    ids=["no consent", "no email", "neither"],
)
def test_an_attendee_without_consent_or_email_is_never_emailed(event, fake, fields):
    attendee(event, **fields)
    factories.attendees(event, 3, printed_at=PRINTED)  # the import's default: no consent
    for day in (14, 21, 40, 100):
        assert run_at(day) == followups.Run()
    assert followups.pending() == followups.Pending()
    assert fake.received == []
    assert db.session.scalars(select(FollowUp)).all() == []


def test_an_attendee_never_printed_is_never_asked(event, fake):
    ada = attendee(event, printed=False)
    for day in (14, 21, 40):
        assert run_at(day) == followups.Run()
    assert fake.received == [] and row_of(ada) is None
    # Printed late, at day 40: asked 14 days after that, not at once.
    clock.freeze(PRINTED + 40 * DAY)
    mark_printed([ada.id], clock.now())
    db.session.commit()
    assert run_at(53.9).first == 0
    assert run_at(54).first == 1


def test_printing_again_does_not_move_the_day_asked(event, fake):
    ada = attendee(event)
    mark_printed([ada.id], PRINTED + 5 * DAY)
    db.session.commit()
    assert db.session.get(Attendee, ada.id).printed_at == PRINTED
    assert run_at(14).first == 1


def test_a_follow_up_that_cannot_be_made_or_sent_is_logged_by_id_and_goes_later(
    event, fake, monkeypatch, caplog
):
    import logging

    ada = attendee(event)
    clock.freeze(PRINTED + 14 * DAY)
    followups.open_rows(clock.now())
    follow_up = row_of(ada).id

    def broken(*args: object) -> None:
        raise RuntimeError("a template error")

    class Unreachable:
        def send(self, email: object) -> None:
            raise ConnectionError("SendGrid is unreachable")

    class Refusing:
        def send(self, email: object) -> SendResult:
            return SendResult(accepted=False, reason="HTTP 500")

    with caplog.at_level(logging.WARNING, logger=followups.log.name):
        with monkeypatch.context() as patched:
            patched.setattr(followups, "followup_email", broken)
            assert not followups.send_one(follow_up, Ask.FIRST)
        for mailer in (Unreachable, Refusing):
            with monkeypatch.context() as patched:
                patched.setattr(followups, "get_mailer", mailer)
                assert not followups.send_one(follow_up, Ask.FIRST)
        assert (row_of(ada).asked_at, row_of(ada).claimed_until) == (None, None)
        assert followups.send_due().first == 1  # nothing held: the next run sends it
    logged = [r.getMessage() for r in caplog.records if r.name == followups.log.name]
    assert logged == [
        f"could not build the follow-up {follow_up}",
        f"follow-up {follow_up} could not be sent",
        f"follow-up {follow_up} not sent: HTTP 500",
    ]
    assert len(followup_emails(fake)) == 1


def test_a_killed_send_is_retried_after_its_lease(app, event, fake):
    ada = attendee(event)
    clock.freeze(PRINTED + 14 * DAY)
    assert followups.open_rows(clock.now()) == 1
    follow_up = row_of(ada).id
    assert followups.claim(follow_up, Ask.FIRST)  # and the worker dies
    assert not followups.claim(follow_up, Ask.FIRST)
    assert followups.send_due().first == 0 and followups.pending().first == 0
    clock.advance(dt.timedelta(seconds=app.config["SEND_LEASE_SECONDS"] + 1))
    assert followups.pending().first == 1
    assert followups.send_due().first == 1
    assert len(followup_emails(fake)) == 1


def test_pages_of_an_unknown_or_unasked_follow_up_are_not_found(app, event, fake):
    ada = attendee(event)
    clock.freeze(PRINTED + 14 * DAY)
    followups.open_rows(clock.now())  # opened, not yet sent
    client = app.test_client()
    assert client.get(f"/event-letters/{row_of(ada).token}/reply").status_code == 404
    assert client.get("/event-letters/not-a-token/reply?answer=real").status_code == 404
    assert client.get("/event-letters/not-a-token/stop").status_code == 404


# --- Retention: the address is kept while the follow-up needs it, then removed ----------------


def test_retention_keeps_a_consenting_attendees_email_until_the_follow_up_ends(app, event, fake):
    keep = app.config["KEEP_EVENT_DATA_DAYS"]
    ada = attendee(event, street="1 Long Rd", personal_note="My own words")
    bo = attendee(event, email="bo@example.org", may_follow_up=False)
    removal = event_data_removal_at(EVENT_DAY)
    run_at(14)
    clock.freeze(PRINTED + 16 * DAY)
    followups.record_answer(row_of(ada).id, Answer.NO_REPLY, reply_text="Nothing yet, sadly")

    found = scrub_events(removal + dt.timedelta(minutes=1))
    assert found.attendees == 2
    kept, gone = db.session.get(Attendee, ada.id), db.session.get(Attendee, bo.id)
    # Everything else about Ada went with the event's details; her address stays, alone.
    assert (kept.name, kept.street, kept.personal_note) == (REMOVED, "", "")
    assert kept.email == "ada@example.org" and kept.wrote_own_words
    assert (gone.name, gone.email) == (REMOVED, "")
    assert row_of(ada).reply_text == "Nothing yet, sadly"

    # "No reply yet" asks once more at day 37 (16 + 21), greeting no one by name.
    assert run_at(37).again == 1
    text = followup_emails(fake)[-1].payload["content"][0]["value"]
    assert text.startswith("Hello,") and REMOVED not in text
    clock.freeze(PRINTED + 38 * DAY)
    assert followups.record_answer(row_of(ada).id, Answer.ACKNOWLEDGEMENT, reply_text="Thanks")

    # Kept until the retention period has passed since the last question or answer (day 38).
    assert scrub_events(PRINTED + (38 + keep) * DAY - dt.timedelta(minutes=1)).attendees == 0
    assert db.session.get(Attendee, ada.id).email == "ada@example.org"
    assert scrub_events(PRINTED + (38 + keep) * DAY + dt.timedelta(minutes=1)).attendees == 1
    db.session.expire_all()
    assert db.session.get(Attendee, ada.id).email == ""
    answer = row_of(ada)
    assert (answer.answer, answer.reply_text) == ("acknowledgement", "")  # the answer stays
    client = app.test_client()
    assert client.get(f"/event-letters/{answer.token}/reply").status_code == 410
    assert run_at(300) == followups.Run()


def test_a_removal_keeps_the_reply_of_an_attendee_whose_details_stay(app, event, fake):
    ada = attendee(event)
    run_at(14)
    clock.freeze(PRINTED + 16 * DAY)
    followups.record_answer(row_of(ada).id, Answer.REAL, reply_text="Dear Ada")
    db.session.get(Attendee, ada.id).email = ""  # as the organiser's edit page allows
    db.session.commit()
    scrub_events(clock.now())  # before the event's details are due to go
    db.session.expire_all()
    assert db.session.get(Attendee, ada.id).name != REMOVED
    assert row_of(ada).reply_text == "Dear Ada"


def test_retention_keeps_the_email_of_one_printed_late_until_it_is_asked(app, event, fake):
    keep = app.config["KEEP_EVENT_DATA_DAYS"]
    removal = event_data_removal_at(EVENT_DAY)
    late = attendee(event, printed=False)
    clock.freeze(removal - 2 * DAY)
    mark_printed([late.id], clock.now())  # its question is due after the event's details go
    db.session.commit()
    scrub_events(removal + DAY)
    assert db.session.get(Attendee, late.id).email == "ada@example.org"
    assert run_at((removal - 2 * DAY - PRINTED) / DAY + 14).first == 1
    # Unanswered and reminded, it goes the retention period after the reminder.
    reminded = (removal - 2 * DAY - PRINTED) / DAY + 21
    assert run_at(reminded).reminders == 1
    scrub_events(clock.now() + (keep - 1) * DAY)
    assert db.session.get(Attendee, late.id).email == "ada@example.org"
    scrub_events(clock.now() + (keep + 1) * DAY)
    db.session.expire_all()
    assert db.session.get(Attendee, late.id).email == ""


def test_dont_ask_again_lets_the_email_go_with_the_events_details(event, fake):
    ada = attendee(event)
    run_at(14)
    followups.stop_asking(row_of(ada).id)
    scrub_events(event_data_removal_at(EVENT_DAY) + dt.timedelta(minutes=1))
    db.session.expire_all()
    assert db.session.get(Attendee, ada.id).email == ""


def test_an_email_typed_in_again_for_one_never_printed_goes_next_time(event):
    ada = attendee(event, printed=False)
    removal = event_data_removal_at(EVENT_DAY)
    scrub_events(removal + dt.timedelta(minutes=1))
    db.session.get(Attendee, ada.id).email = "ada@example.org"
    db.session.commit()
    assert scrub_events(removal + DAY).attendees == 1
    db.session.expire_all()
    assert db.session.get(Attendee, ada.id).email == ""


def test_retention_weighs_each_attendees_own_follow_up_only(event, fake):
    removal = event_data_removal_at(EVENT_DAY)
    ada = attendee(event)
    run_at(14)
    followups.stop_asking(row_of(ada).id)
    bo = attendee(event, email="bo@example.org", printed=False)
    cy = attendee(event, email="cy@example.org", printed=False)
    clock.freeze(removal - 2 * DAY)
    mark_printed([bo.id, cy.id], clock.now())
    # Cy's follow-up is opened but its question not sent yet (as after a failed send).
    db.session.add(FollowUp(id=uuid.uuid4(), attendee_id=cy.id, token=new_token()))
    db.session.commit()
    scrub_events(removal + DAY)
    db.session.expire_all()
    # Ada's "don't ask again" and her question asked are hers alone: Bo and Cy are still to
    # be asked, so their addresses stay.
    emails = [db.session.get(Attendee, a.id).email for a in (ada, bo, cy)]
    assert emails == ["", "bo@example.org", "cy@example.org"]


def test_retention_keeps_an_unasked_attendees_email_for_the_period_after_it_was_due(app, event):
    keep = app.config["KEEP_EVENT_DATA_DAYS"]
    due = PRINTED + float(app.config["FOLLOWUP_AFTER_DAYS"]) * DAY
    ada = attendee(event)  # no run has asked her yet
    assert scrub_events(due + keep * DAY).attendees == 1
    assert db.session.get(Attendee, ada.id).email == "ada@example.org"
    assert scrub_events(due + keep * DAY + dt.timedelta(minutes=1)).attendees == 1
    db.session.expire_all()
    assert db.session.get(Attendee, ada.id).email == ""


def test_removing_an_attendee_removes_their_follow_up(app, fake):
    from tests.organiser_helpers import csrf, login

    # Requests made outside the app context the other tests share: a login starts a new
    # session, which a shared context's cached CSRF token would not match.
    with app.app_context():
        event = factories.event(factories.organiser(ORGANISER), date=EVENT_DAY)
        ada = attendee(event)
        run_at(14)
        assert row_of(ada) is not None
        url = f"/organiser/events/{event.id}/attendees/{ada.id}"
    client = app.test_client()
    assert login(client, ORGANISER).status_code == 303
    removed = client.post(f"{url}/delete", data={"csrf_token": csrf(client, url)})
    assert removed.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(FollowUp)).all() == []
        # Whoever is added next, with whatever id, is not asked a question that was not theirs.
        later = attendee(event, name="Next Person", email="next@example.org", printed=False)
        assert row_of(later) is None
        assert run_at(21) == followups.Run()
    clock.unfreeze()


def test_an_event_of_another_campaign_is_asked_about_in_that_campaigns_name(
    make_app, fake, tmp_path
):
    campaigns = campaigns_folder(tmp_path / "campaigns", "kids", "Kids First")
    app = make_app(
        SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=fake.url, BASE_URL=BASE, CAMPAIGNS_DIR=campaigns
    )
    with app.app_context():
        kids = factories.event(factories.organiser(ORGANISER), date=EVENT_DAY, campaign_key="kids")
        attendee(kids)
        assert run_at(14).first == 1
    clock.unfreeze()
    (sent,) = followup_emails(fake)
    assert (
        sent.payload["subject"] == "Did Priya Nandakumar MP reply to your letter about Kids First?"
    )
    assert sent.payload["from"]["name"] == "Kids First"


def test_printed_letters_are_opened_a_batch_at_a_time_longest_printed_first(
    event, fake, monkeypatch
):
    monkeypatch.setattr(followups, "OPEN_BATCH", 2)
    # Made in this order, so the oldest print is not the first row.
    late = attendee(event, printed=False)
    early = [attendee(event, email=f"early{n}@example.org", printed=False) for n in range(2)]
    mark_printed([late.id], PRINTED + 2 * DAY)
    mark_printed([a.id for a in early], PRINTED)
    db.session.commit()
    clock.freeze(PRINTED + 16 * DAY)
    assert followups.open_rows(clock.now()) == 2
    assert row_of(late) is None and all(row_of(a) is not None for a in early)
    assert followups.open_rows(clock.now()) == 1
    assert row_of(late) is not None
