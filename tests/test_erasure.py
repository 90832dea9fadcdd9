"""An organiser erases one supporter's details on request, by email address, after confirming."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import asdict

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from letters import clock
from letters.erasure import WITHDRAWN, erase, find
from letters.extensions import db
from letters.mail.address_keys import address_key
from letters.messages import notices, own_words, sending
from letters.models import Attendee, BatchJob, Event, FollowUp, Message, OwnWordsShingle
from letters.organiser import dashboard
from letters.retention import REMOVED, STOPPED_FOR_PRIVACY
from tests import factories
from tests.helpers import csrf_token_in, examples, hidden_fields, submit
from tests.organiser_helpers import login, make_organiser
from tests.test_fuzz_forms import LIVE_MARKUP, values

ADDRESS = "ab@gmail.com"  # as the supporter typed it on the form
SPELLINGS = ["A.B@Gmail.com", " ab+letters@googlemail.com ", "a.b@GMAIL.COM"]
REPLY = "Dear Ms B, thank you for writing. The minister will respond."


def _letter(**fields) -> Message:
    """A letter from the supporter who asks to be erased, keyed as the form keys it."""
    email = fields.pop("sender_email", ADDRESS)
    letter = factories.message(
        sender_email=email,
        sender_email_key=address_key(email),
        sender_name="Alex B",
        personal_note="My son was scammed by someone who pretended to be a friend.",
        **fields,
    )
    own_words.record(letter)  # the shingles of those words, as the form files them
    db.session.commit()
    filed = select(OwnWordsShingle).where(OwnWordsShingle.message_id == letter.id)
    assert db.session.scalars(filed).first() is not None
    return letter


@pytest.fixture
def scene(app_with_data):
    """Two organisers; the supporter's letters in every state, their attendee rows at both
    organisers' events, someone else's letter, and a finished print run with its file."""
    app = app_with_data
    mine_id = make_organiser(app)
    other_id = make_organiser(app, "other@example.org")
    sent = clock.now() - dt.timedelta(days=20)
    with app.app_context():
        answered = _letter(
            division="Banksia",
            delivery="email",
            state="delivered",
            sent_at=sent,
            confirmed_at=sent,
            delivered_at=sent,
        )
        db.session.add(
            FollowUp(
                message_id=answered.id,
                asked_at=sent + dt.timedelta(days=14),
                answer="real",
                answered_at=sent + dt.timedelta(days=15),
                reply_text=REPLY,
                reply_shared=True,
            )
        )
        printed = _letter(division="Wattle")
        # Written before mailbox keys knew Gmail's dots: its key is the address in lower case.
        old = _letter(division="Ironbark", sender_email="A.B@gmail.com")
        old.sender_email_key = "a.b@gmail.com"
        someone = factories.message(
            division="Brindabella",
            sender_email="someone@example.org",
            sender_email_key="someone@example.org",
        )
        db.session.commit()
        mine = db.session.get(Event, factories.event(name="Letters & tea").id)
        mine.organiser_id = mine_id
        theirs = factories.event(name="Their quiet evening")
        theirs.organiser_id = other_id
        db.session.commit()
        factories.attendees(mine, 1, division="Karri", email="A.B+events@Gmail.com")
        factories.attendees(mine, 2, division="Karri")
        factories.attendees(theirs, 1, division="Karri", email=ADDRESS)
        run = BatchJob(
            event_id=mine.id, state="done", files=["letters.pdf"], finished_at=clock.now()
        )
        db.session.add(run)
        db.session.commit()
        folder = app.config["INSTANCE_DIR"] / "batches" / str(run.id)
        folder.mkdir(parents=True)
        (folder / "letters.pdf").write_bytes(b"%PDF- a copy of everyone's letters")
        ids = {
            "answered": answered.id,
            "printed": printed.id,
            "old": old.id,
            "someone": someone.id,
            "mine": mine.id,
            "theirs": theirs.id,
            "run": run.id,
            "organiser": mine_id,
        }
    client = app.test_client()
    assert login(client).status_code == 303
    return app, client, ids, folder


def _lookup(client, address: str):
    page = client.get("/organiser/erase").get_data(as_text=True)
    return client.post(
        "/organiser/erase", data={"email": address, "csrf_token": csrf_token_in(page)}
    )


def _confirm(client, page: str):
    return client.post("/organiser/erase/confirm", data=hidden_fields(page))


def _state(app) -> tuple:
    """Every row an erasure may change, to compare."""
    with app.app_context():
        db.session.expire_all()
        return (
            sorted(
                (str(m.id), m.state, m.sender_name, m.sender_email, m.sender_email_key,
                 m.sender_street, m.sender_suburb, m.personal_note, m.scrubbed_at is None)
                for m in db.session.scalars(select(Message))
            ),
            sorted((f.answer, f.reply_text) for f in db.session.scalars(select(FollowUp))),
            sorted(
                (a.id, a.name, a.email, a.street, a.personal_note)
                for a in db.session.scalars(select(Attendee))
            ),
            sorted(
                (str(j.id), j.state, tuple(j.files)) for j in db.session.scalars(select(BatchJob))
            ),
        )  # fmt: skip


def _board(app, organiser_id: int, event_id: int | None = None) -> dict:
    with app.app_context():
        filters = dashboard.Filters(
            campaign=factories.CAMPAIGN, organiser_id=organiser_id, event_id=event_id
        )
        return asdict(dashboard.build(filters))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_any_spelling_of_the_mailbox_finds_its_letters_and_attendees(scene, spelling):
    app, _client, ids, _folder = scene
    with app.app_context():
        found = find(spelling, ids["organiser"])
        expected = {ids["answered"], ids["printed"]}
        # The old letter's key is its address in lower case: found when typed that way.
        if spelling.strip().lower() == "a.b@gmail.com":
            expected.add(ids["old"])
        assert {letter.id for letter in found.letters} == expected
        assert [a.event_id for a in found.attendees] == [ids["mine"]]
        assert [run.id for run in found.print_runs] == [ids["run"]]


def test_the_confirm_page_lists_exactly_what_goes_and_changes_nothing(scene):
    app, client, _ids, _folder = scene
    before = _state(app)
    response = _lookup(client, "A.B@Gmail.com")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    rows = re.findall(r"<tr><td>(.*?)</tr>", page, re.S)
    assert len(rows) == 3
    assert "Priya Nandakumar (Banksia)" in rows[0] and "Yes, a real answer" in rows[0]
    assert "yes, removed" in rows[0] and "delivered" in rows[0] and ">email<" in rows[0]
    assert "Horatio Fernsby (Wattle)" in rows[1] and ">printed<" in rows[1]
    assert "Mei Ling Chow (Ironbark)" in rows[2]
    assert "Brindabella" not in page  # someone else's letter
    attendees = re.search(r'<ul id="erase-attendee-list">(.*?)</ul>', page, re.S).group(1)
    assert attendees.count("<li>") == 1 and "Letters &amp; tea" in attendees
    assert "Their quiet evening" not in page  # another organiser's event: not even named
    assert "1 print run of this event" in page
    # What the supporter typed is not shown back: only the address the organiser typed.
    assert "Alex B" not in page and "My son was scammed." not in page and REPLY not in page
    assert _state(app) == before  # looking up changes nothing


def test_a_get_erases_nothing(scene):
    app, client, _ids, _folder = scene
    before = _state(app)
    assert client.get("/organiser/erase?email=ab@gmail.com").status_code == 200
    assert client.get("/organiser/erase/confirm?email=ab@gmail.com").status_code == 405
    assert _state(app) == before


def test_without_its_csrf_token_nothing_is_erased(scene):
    app, client, _ids, _folder = scene
    page = _lookup(client, ADDRESS).get_data(as_text=True)
    before = _state(app)
    fields = {k: v for k, v in hidden_fields(page).items() if k != "csrf_token"}
    assert client.post("/organiser/erase/confirm", data=fields).status_code == 400
    forged = {**fields, "csrf_token": "not-the-token"}
    assert client.post("/organiser/erase/confirm", data=forged).status_code == 400
    assert client.post("/organiser/erase", data={"email": ADDRESS}).status_code == 400
    assert _state(app) == before


def test_confirming_removes_the_details_and_keeps_the_dashboard_true(scene, caplog):
    app, client, ids, folder = scene
    boards = [_board(app, ids["organiser"]), _board(app, ids["organiser"], ids["mine"])]
    page = _lookup(client, "A.B@Gmail.com").get_data(as_text=True)
    with caplog.at_level(logging.INFO, logger="letters.erasure"):
        done = _confirm(client, page)
    assert done.status_code == 303 and done.location == "/organiser/erase"
    result = client.get(done.location).get_data(as_text=True)
    assert (
        "Erased: 3 letters, 1 pasted reply, 1 attendee at your events, 1 print run&#39;s files."
        in result
    )

    with app.app_context():
        db.session.expire_all()
        for key in ("answered", "printed", "old"):
            row = db.session.get(Message, ids[key])
            assert row.sender_name == REMOVED and row.scrubbed_at is not None
            assert row.sender_email == row.sender_email_key == ""
            assert row.sender_street == row.sender_suburb == row.personal_note == ""
            shingles = select(OwnWordsShingle).where(OwnWordsShingle.message_id == row.id)
            assert db.session.scalars(shingles).all() == []
        answered = db.session.get(Message, ids["answered"])
        assert (answered.state, answered.division) == ("delivered", "Banksia")
        follow_up = db.session.get(FollowUp, ids["answered"])
        assert (follow_up.answer, follow_up.reply_text) == ("real", "")
        # Not the supporter who asked: untouched.
        assert db.session.get(Message, ids["someone"]).sender_email == "someone@example.org"
        attendees = {
            (a.event_id, a.name, a.email)
            for a in db.session.scalars(select(Attendee).where(Attendee.division == "Karri"))
        }
        assert (ids["mine"], REMOVED, "") in attendees
        assert (ids["mine"], "Person 0", "person0@example.org") in attendees  # another attendee
        assert (ids["theirs"], "Person 0", ADDRESS) in attendees  # another organiser's event
        run = db.session.get(BatchJob, ids["run"])
        assert (run.state, run.files) == ("expired", [])
    assert not folder.exists()
    # Every figure the dashboard shows is as it was, with and without the event filter.
    assert [_board(app, ids["organiser"]), _board(app, ids["organiser"], ids["mine"])] == boards

    [record] = [r for r in caplog.records if r.name == "letters.erasure"]
    logged = repr(record.__dict__) + record.getMessage()
    assert "gmail" not in logged.lower() and "Alex" not in logged
    assert (record.letters, record.replies, record.attendees) == (3, 1, 1)
    # Nothing is left for that address.
    with app.app_context():
        assert find(ADDRESS, ids["organiser"]).empty
    assert 'id="erase-nothing"' in _lookup(client, ADDRESS).get_data(as_text=True)


def test_an_erased_attendee_loses_the_address_their_follow_up_would_have_used(scene):
    app, _client, ids, _folder = scene
    with app.app_context():
        attendee = db.session.scalars(
            select(Attendee).where(Attendee.email == "A.B+events@Gmail.com")
        ).first()
        # Consenting and printed just now: the hourly removal would keep this address.
        attendee.may_follow_up, attendee.printed_at = True, clock.now()
        db.session.commit()
        assert erase(ADDRESS, ids["organiser"]).attendees == 1
        db.session.expire_all()
        assert db.session.get(Attendee, attendee.id).email == ""


def test_letters_on_their_way_are_stopped_and_one_being_sent_waits(scene):
    app, client, ids, _folder = scene
    with app.app_context():
        queued = _letter(delivery="email", state="queued", confirmed_at=clock.now())
        waiting = _letter(delivery="email", state="awaiting_confirmation")
        in_flight = _letter(
            delivery="email",
            state="sending",
            confirmed_at=clock.now(),
            lease_expires_at=clock.now() + dt.timedelta(minutes=2),
        )
        queued_id, waiting_id, in_flight_id = queued.id, waiting.id, in_flight.id
    page = _lookup(client, ADDRESS).get_data(as_text=True)
    assert page.count("not sent yet; it will be stopped") == 2
    assert page.count("being sent right now; kept until it has gone") == 1
    done = _confirm(client, page)
    result = client.get(done.location).get_data(as_text=True)
    assert "Erased: 4 letters (2 stopped before they were sent)" in result
    assert "1 letter was being emailed at that moment" in result
    with app.app_context():
        db.session.expire_all()
        stopped = db.session.get(Message, queued_id)
        assert (stopped.state, stopped.failure_reason) == ("failed", WITHDRAWN)
        assert stopped.sender_name == REMOVED
        assert db.session.get(Message, waiting_id).state == "expired"
        assert db.session.get(Message, waiting_id).sender_email == ""
        # No worker sends the stopped letter, and no one is told it failed.
        assert sending.claim([queued_id]) == []
        assert not notices.notify_failure(queued_id)
        kept = db.session.get(Message, in_flight_id)
        assert (kept.state, kept.sender_name, kept.sender_email) == ("sending", "Alex B", ADDRESS)
        # Once it has gone, erasing again takes it too.
        kept.state, kept.sent_at = "sent", clock.now()
        db.session.commit()
        again = erase(ADDRESS, ids["organiser"])
        assert (again.letters, again.kept_in_flight, again.cancelled) == (1, 0, 0)
        db.session.expire_all()
        assert db.session.get(Message, in_flight_id).sender_name == REMOVED


def test_a_list_that_changed_since_it_was_shown_is_shown_again(scene):
    app, client, ids, _folder = scene
    page = _lookup(client, ADDRESS).get_data(as_text=True)
    with app.app_context():
        _letter(division="Cassowary")
    before = _state(app)
    response = _confirm(client, page)
    assert response.status_code == 409
    again = response.get_data(as_text=True)
    assert "Something changed since you looked" in again and "Colin Mabbott" in again
    assert _state(app) == before
    assert _confirm(client, again).status_code == 303
    with app.app_context():
        assert find(ADDRESS, ids["organiser"]).empty


def test_the_form_says_what_is_wrong_with_an_address(scene):
    _app, client, _ids, _folder = scene
    response = _lookup(client, "")
    assert response.status_code == 422
    assert "Enter the email address the supporter wrote from." in response.get_data(as_text=True)
    assert _lookup(client, "nul\x00byte@example.org").status_code == 422


def test_another_organiser_sees_only_their_own_attendees(scene):
    app, _client, _ids, _folder = scene
    other = app.test_client()
    assert login(other, email="other@example.org").status_code == 303
    page = _lookup(other, ADDRESS).get_data(as_text=True)
    assert "Their quiet evening" in page and "Letters &amp; tea" not in page
    assert "print run" not in page.split("erase-attendees", 1)[1].split("</section>", 1)[0]


def test_the_erase_page_is_in_the_organisers_menu(scene):
    _app, client, _ids, _folder = scene
    for url in ("/organiser/", "/organiser/dashboard", "/organiser/letters"):
        assert 'href="/organiser/erase">Erase a supporter</a>' in client.get(url).get_data(
            as_text=True
        )


def test_a_letter_written_on_the_form_is_found_by_another_spelling(app_with_data):
    organiser_id = make_organiser(app_with_data)
    supporter = app_with_data.test_client()
    submit(supporter, postcode="2001", email="Jane.Citizen+mp@gmail.com", delivery="email")
    with app_with_data.app_context():
        found = find("janecitizen@googlemail.com", organiser_id)
        assert [letter.member for letter in found.letters] == ["Priya Nandakumar"]
        assert found.letters[0].state == "awaiting_confirmation"


@settings(
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(email=values, digest=values)
def test_the_confirmation_survives_hostile_input_and_erases_nothing_unlisted(scene, email, digest):
    app, client, _ids, _folder = scene
    before = _state(app)
    page = client.get("/organiser/erase").get_data(as_text=True)
    response = client.post(
        "/organiser/erase/confirm",
        data={"email": email, "digest": digest, "csrf_token": csrf_token_in(page)},
    )
    assert response.status_code in (409, 422), response.status_code
    assert not LIVE_MARKUP.search(response.get_data(as_text=True))
    assert _state(app) == before


def test_a_print_run_still_printing_the_attendee_is_stopped(scene):
    app, _client, ids, _folder = scene
    with app.app_context():
        running = BatchJob(event_id=ids["mine"], state="running", stage="letters")
        elsewhere = BatchJob(event_id=ids["theirs"], state="running", stage="letters")
        db.session.add_all([running, elsewhere])
        db.session.commit()
        assert erase(ADDRESS, ids["organiser"]).print_runs == 2  # this one, and the done one
        db.session.expire_all()
        stopped = db.session.get(BatchJob, running.id)
        assert (stopped.state, stopped.error) == ("failed", STOPPED_FOR_PRIVACY)
        assert db.session.get(BatchJob, elsewhere.id).state == "running"
