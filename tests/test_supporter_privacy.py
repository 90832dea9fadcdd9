"""What the person at the keyboard may learn, and what a confirmation binds.

One email letter a week per mailbox, member and campaign, counting only letters that went; the
owner of the address hears of a second one by email, nobody else. A confirmation sends what
its page showed. Confirmation emails carry none of the typed text and are limited per address;
the supporter's copy of the letter comes once it went.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable

import pytest
from flask import Flask, g, request
from pypdf import PdfReader
from sqlalchemy import func, select, update

from letters import clock
from letters.domain.directory import Directory
from letters.extensions import db
from letters.mail.content import confirm_serializer
from letters.messages import confirmation, notices, sending, sweeper
from letters.models import AddressEmail, Message
from letters.supporter.forms import WriteForm
from letters.supporter.member import Resolution
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, FakeSendGrid
from tests.helpers import campaigns_folder, csrf_token, submit

BASE = "https://letters.example.org"
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 12 noon in Sydney, a Monday
OWNER = {
    "name": "Alex Owner",
    "email": "alex.owner@gmail.com",
    "street": "1 Owner Lane",
    "personal_note": "Words only Alex wrote, about Alex's own family.",
}


@pytest.fixture
def make(make_app, fake):
    """Apps sending through the fake SendGrid, with member data."""

    def build(**overrides):
        app = make_app(
            SENDGRID_API_KEY=API_KEY,
            SENDGRID_API_HOST=fake.url,
            SEND_TIMEOUT_SECONDS=1.0,
            BASE_URL=BASE,
            **overrides,
        )
        load_fixture_members(app.config["DATA_DIR"])

        @app.teardown_request
        def _forget_request_globals(error: BaseException | None) -> None:
            # These tests hold one app context around many browsers' requests, and Flask keeps
            # `g` with the context: Flask-WTF would hand the next browser this one's CSRF token.
            for name in list(g):
                g.pop(name)

        return app

    return build


@pytest.fixture
def app(make):
    return make()


@pytest.fixture(autouse=True)
def _monday() -> None:
    clock.freeze(START)


def _write(client, url: str = "/write", **changes) -> Message:
    response = submit(client, url, **{"postcode": "2001", "delivery": "email", **changes})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    token = response.headers["Location"].rsplit("/", 1)[1]
    return db.session.scalar(select(Message).where(Message.token == token))


def _fresh(message: Message) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message.id)


def _emails(fake, kind: str, message: Message | None = None) -> list:
    return [
        r
        for r in fake.received
        if r.kind == kind and (message is None or r.message_id == str(message.id))
    ]


def _body(received) -> str:
    return "\n".join(part["value"] for part in received.payload["content"])


def _confirm_path(fake, message: Message) -> str:
    (latest, *_) = reversed(_emails(fake, "confirmation", message))
    return re.search(re.escape(BASE) + r"(/confirm/\S+)", _body(latest)).group(1)


def _press_send(client, path: str):
    return client.post(path, data={"csrf_token": csrf_token(client, "/write")})


def _confirmed(client, fake, **changes) -> Message:
    message = _write(client, **changes)
    assert notices.send_confirmation(message.id)
    assert _press_send(client, _confirm_path(fake, message)).status_code == 303
    return _fresh(message)


# --- one supporter never sees another's letter ---------------------------------------------


def test_a_second_letter_tells_only_the_addresss_owner_and_cannot_be_sent(app, fake):
    with app.app_context():
        owner = app.test_client()
        first = _confirmed(owner, fake, **OWNER)
        assert first.state == "queued"
        first_confirm = _confirm_path(fake, first).rsplit("/", 1)[1]

        # Someone else types the owner's address, spelt another way, for the same member.
        other = app.test_client()
        response = submit(
            other,
            postcode="2001",
            delivery="email",
            name="Bo Typist",
            email="  Alex.Owner+again@GoogleMail.com ",
            personal_note="Bo's words.",
        )
        assert response.status_code == 303
        second = db.session.scalar(
            select(Message).where(Message.token == response.headers["Location"].rsplit("/", 1)[1])
        )
        assert second.over_weekly_limit and second.state == "awaiting_confirmation"
        assert notices.send_confirmation(second.id)

        seen = [response.get_data(as_text=True), str(response.headers)]
        for url in (f"/letters/{second.token}", f"/letters/{second.token}/edit"):
            page = other.get(url)
            assert page.status_code == 200
            seen.append(page.get_data(as_text=True))
        pdf = other.get(f"/letters/{second.token}.pdf")
        seen.append("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages))
        for leak in (first.token, first_confirm, "Alex Owner", "1 Owner Lane", "Alex's own"):
            assert not any(leak in part for part in seen), leak
        assert "Check your email" in seen[2]  # as for any letter waiting for its confirmation

        # The owner hears of it, with no confirmation link and nothing either letter says.
        (notice,) = _emails(fake, "notice", second)
        assert notice.payload["personalizations"][0]["to"] == [
            {"email": "  Alex.Owner+again@GoogleMail.com ".strip()}
        ]
        body = _body(notice)
        assert "You already wrote to Priya Nandakumar on 2 March 2026" in body
        assert f"{BASE}/letters/{second.token}?notice=" in body
        assert "/confirm/" not in body and not _emails(fake, "confirmation", second)
        for typed in ("Alex", "Owner Lane", "Bo Typist", "Bo's words"):
            assert typed not in body

        # Nothing confirms it: a confirmation link made for it, the confirmation itself,
        # or a reminder.
        claims = [str(second.id), second.confirmation_digest]
        forged = "/confirm/" + confirm_serializer().dumps(claims)
        assert "Send my letter" not in owner.get(forged).get_data(as_text=True)
        assert _press_send(owner, forged).status_code == 409
        assert not confirmation.confirm(second.id, second.confirmation_digest).confirmed
        assert not notices.send_confirmation(second.id, reminder=True)
        assert second.id not in sweeper.sweep(now=START + dt.timedelta(days=2)).to_remind
        assert _fresh(second).state == "awaiting_confirmation"


def test_from_the_notice_the_letter_page_says_why_it_waits(app, fake):
    with app.app_context():
        _confirmed(app.test_client(), fake, **OWNER)
        second = _write(app.test_client(), email=OWNER["email"])
        assert notices.send_confirmation(second.id)
        link = re.search(re.escape(BASE) + r"(/letters/\S+)", _body(_emails(fake, "notice")[0]))
        page = app.test_client().get(link.group(1)).get_data(as_text=True)
        assert "This letter will not be emailed" in page and "Check your email" not in page
        # Without the notice's own mark the page is like any other's.
        forged = app.test_client().get(f"/letters/{second.token}?notice=x").get_data(as_text=True)
        assert "This letter will not be emailed" not in forged


def _normalised(page: str, message: Message) -> str:
    for value in (message.token, message.sender_email, message.personal_note):
        page = page.replace(value, "…")
    return page


def test_a_letter_over_the_limit_looks_exactly_like_any_other(app, fake):
    with app.app_context():
        _confirmed(app.test_client(), fake, **OWNER)
        over = _write(app.test_client(), email=OWNER["email"], personal_note="b " * 300)
        fresh = _write(app.test_client(), email="someone@example.org", personal_note="c " * 300)
        assert over.over_weekly_limit and not fresh.over_weekly_limit
        assert notices.send_confirmation(over.id) and notices.send_confirmation(fresh.id)
        client = app.test_client()
        pages = [client.get(f"/letters/{m.token}").get_data(as_text=True) for m in (over, fresh)]
        assert _normalised(pages[0], _fresh(over)) == _normalised(pages[1], _fresh(fresh))


def test_an_unconfirmed_letter_blocks_nobody(app, fake):
    with app.app_context():
        unconfirmed = _write(app.test_client(), **OWNER)
        assert notices.send_confirmation(unconfirmed.id)
        # Anyone, the owner too, may write with the address: it gets a normal confirmation.
        again = _write(app.test_client(), email=OWNER["email"])
        assert not again.over_weekly_limit
        assert notices.send_confirmation(again.id)
        assert _emails(fake, "confirmation", again) and not _emails(fake, "notice")
        client = app.test_client()
        assert _press_send(client, _confirm_path(fake, again)).status_code == 303
        # Now one went: the first, still waiting, may no longer go as well (its page says so).
        late = _press_send(client, _confirm_path(fake, unconfirmed))
        assert late.status_code == 409
        assert "You already wrote to Priya Nandakumar this week" in late.get_data(as_text=True)
        assert _fresh(unconfirmed).state == "awaiting_confirmation"


def test_no_reminder_for_a_letter_whose_mailbox_has_since_sent_the_member_another(
    app: Flask, fake: FakeSendGrid
) -> None:
    with app.app_context():
        waiting = _write(app.test_client(), **OWNER)
        assert notices.send_confirmation(waiting.id)
        _confirmed(app.test_client(), fake, email=OWNER["email"])
        clock.advance(dt.timedelta(hours=app.config["CONFIRM_REMIND_AFTER_HOURS"] + 1))
        assert waiting.id in sweeper.sweep().to_remind
        # It could not go now: no link is sent for it, and its reminder is done.
        assert notices.send_confirmation(waiting.id, reminder=True) is False
        assert waiting.id not in sweeper.sweep().to_remind
        # Its page reads like any letter's a day on: it tells nobody that this one cannot go.
        page = app.test_client().get(f"/letters/{waiting.token}").get_data(as_text=True)
        assert f"We emailed the link to {OWNER['email']}, and a reminder." in page
    assert not _emails(fake, "reminder")


def test_a_letter_found_over_the_limit_while_its_link_is_made_gets_the_notice_instead(
    app: Flask, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        client = app.test_client()
        waiting = _write(client, **OWNER)
        other = _write(app.test_client(), email=OWNER["email"])
        assert notices.send_confirmation(other.id)
        other_digest = _fresh(other).confirmation_digest
        earlier_letter = notices.earlier_letter

        def other_went_meanwhile(letter: Message) -> Message | None:
            found = earlier_letter(letter)  # none yet: a link is made
            # Then the other letter is confirmed, and this one saved again as it was.
            assert confirmation.confirm(other.id, other_digest).confirmed
            edit = f"/letters/{waiting.token}/edit"
            assert (
                submit(client, edit, postcode="2001", delivery="email", **OWNER).status_code == 303
            )
            return found

        monkeypatch.setattr(notices, "earlier_letter", other_went_meanwhile)
        assert notices.send_confirmation(waiting.id) is False  # that link is not for it now
        monkeypatch.undo()
        assert notices.send_confirmation(waiting.id) is True  # the task the edit asked for
        assert not _emails(fake, "confirmation", waiting)
        assert len(_emails(fake, "notice", waiting)) == 1
        assert _fresh(waiting).over_weekly_limit


def test_confirming_refuses_only_a_second_letter_from_the_mailbox_to_the_member(app, fake):
    # Letters written before any went are each confirmable; the confirmation itself then
    # judges the week again, for the same mailbox and member only.
    with app.app_context():
        first = _write(app.test_client(), **OWNER)
        other_member = _write(
            app.test_client(), email=OWNER["email"], postcode="2002", division="Wattle"
        )
        other_mailbox = _write(app.test_client(), email="someone.else@example.org")
        same = _write(app.test_client(), email=OWNER["email"])
        for letter in (first, other_member, other_mailbox, same):
            assert not letter.over_weekly_limit
            assert notices.send_confirmation(letter.id)
        client = app.test_client()
        for letter in (first, other_member, other_mailbox):
            assert _press_send(client, _confirm_path(fake, letter)).status_code == 303
        assert _press_send(client, _confirm_path(fake, same)).status_code == 409
        assert _fresh(same).state == "awaiting_confirmation"


def test_the_confirmations_week_includes_its_first_instant(app, fake):
    app.config["CONFIRM_EXPIRE_AFTER_HOURS"] = 24 * 30  # the second stays confirmable
    with app.app_context():
        first = _write(app.test_client(), **OWNER)
        second = _write(app.test_client(), email=OWNER["email"])
        assert notices.send_confirmation(first.id) and notices.send_confirmation(second.id)
        client = app.test_client()
        assert _press_send(client, _confirm_path(fake, first)).status_code == 303
        week_later = _fresh(first).confirmed_at + dt.timedelta(days=7)
        clock.freeze(week_later)
        assert _press_send(client, _confirm_path(fake, second)).status_code == 409
        clock.freeze(week_later + dt.timedelta(microseconds=1))
        assert _press_send(client, _confirm_path(fake, second)).status_code == 303


def test_a_letter_held_for_a_letter_that_then_failed_gets_its_confirmation(app, fake):
    with app.app_context():
        first = _confirmed(app.test_client(), fake, **OWNER)
        second = _write(app.test_client(), email=OWNER["email"])
        assert second.over_weekly_limit
        # The first never reached the member after all: the second may go instead.
        db.session.execute(update(Message).where(Message.id == first.id).values(state="failed"))
        db.session.commit()
        assert notices.send_confirmation(second.id)
        assert _emails(fake, "confirmation", second) and not _emails(fake, "notice")
        assert not _fresh(second).over_weekly_limit
        assert _press_send(app.test_client(), _confirm_path(fake, second)).status_code == 303


@pytest.mark.parametrize(
    ("state", "counts"),
    [
        ("queued", True),
        ("sending", True),
        ("sent", True),
        ("delivered", True),
        ("bounced", True),
        ("dropped", True),
        ("spam_reported", True),
        ("draft", False),
        ("awaiting_confirmation", False),
        ("expired", False),
        ("failed", False),
    ],
)
def test_the_weekly_rule_counts_only_letters_that_went(app, fake, state, counts):
    with app.app_context():
        first = _confirmed(app.test_client(), fake, **OWNER)
        db.session.execute(update(Message).where(Message.id == first.id).values(state=state))
        db.session.commit()
        assert _write(app.test_client(), email=OWNER["email"]).over_weekly_limit is counts


def test_the_weekly_rule_looks_back_seven_days(app, fake):
    with app.app_context():
        _confirmed(app.test_client(), fake, **OWNER)
        clock.freeze(START + dt.timedelta(days=6, hours=23))
        assert _write(app.test_client(), email=OWNER["email"]).over_weekly_limit
        clock.freeze(START + dt.timedelta(days=8))
        assert not _write(app.test_client(), email=OWNER["email"]).over_weekly_limit


def test_the_weekly_rule_is_per_member(app, fake):
    with app.app_context():
        _confirmed(app.test_client(), fake, **OWNER)
        other_member = _write(
            app.test_client(), email=OWNER["email"], postcode="2002", division="Wattle"
        )
        assert other_member.member_name == "Harry Fernsby"
        assert not other_member.over_weekly_limit


def test_a_letter_in_another_campaign_does_not_count(make, fake, tmp_path):
    campaigns = campaigns_folder(tmp_path / "campaigns", "second-campaign")
    app = make(CAMPAIGNS_DIR=campaigns)
    with app.app_context():
        first = _confirmed(app.test_client(), fake, **OWNER)
        assert first.campaign_key == "tougher-on-tech"
        app.config["DEFAULT_CAMPAIGN"] = "second-campaign"
        elsewhere = _write(app.test_client(), email=OWNER["email"])
        assert elsewhere.campaign_key == "second-campaign"
        assert not elsewhere.over_weekly_limit
        app.config["DEFAULT_CAMPAIGN"] = "tougher-on-tech"
        assert _write(app.test_client(), email=OWNER["email"]).over_weekly_limit
        # Two written before either went: the confirmation keeps the campaigns apart too.
        here = _write(app.test_client(), email="pat@example.org")
        app.config["DEFAULT_CAMPAIGN"] = "second-campaign"
        there = _write(app.test_client(), email="pat@example.org")
        client = app.test_client()
        for letter in (here, there):
            assert notices.send_confirmation(letter.id)
            assert _press_send(client, _confirm_path(fake, letter)).status_code == 303


# --- a confirmation sends what its page showed --------------------------------------------


def test_an_edit_after_the_confirmation_needs_a_fresh_one(app, fake):
    with app.app_context():
        client = app.test_client()
        message = _write(client, **OWNER)
        assert notices.send_confirmation(message.id)
        old_link = _confirm_path(fake, message)
        assert "Priya Nandakumar" in client.get(old_link).get_data(as_text=True)

        edit = f"/letters/{message.token}/edit"
        changed = submit(
            client,
            edit,
            **{**OWNER, "postcode": "2002", "division": "Wattle", "personal_note": "New words."},
            delivery="email",
        )
        assert changed.status_code == 303
        assert notices.send_confirmation(message.id)  # the edit asked for a fresh one
        new_link = _confirm_path(fake, message)
        assert new_link != old_link

        for stale in (client.get(old_link), _press_send(client, old_link)):
            page = stale.get_data(as_text=True)
            assert stale.status_code == 409
            assert "This letter has changed" in page and "new" in page
            assert "Harry Fernsby" not in page and "New words." not in page
        assert _fresh(message).state == "awaiting_confirmation"

        assert "Harry Fernsby" in client.get(new_link).get_data(as_text=True)
        assert _press_send(client, new_link).status_code == 303
        assert sending.deliver(message.id).state == "sent"
    (sent,) = fake.letters()
    assert sent.payload["personalizations"][0]["to"][0]["name"] == "Harry Fernsby MP"
    assert "New words." in _body(sent)


def test_an_unconfirmed_letter_edited_to_be_printed_goes_back_to_a_draft(app, fake):
    with app.app_context():
        client = app.test_client()
        message = _write(client, **OWNER)
        assert notices.send_confirmation(message.id)
        old_link = _confirm_path(fake, message)
        edit = f"/letters/{message.token}/edit"

        assert submit(client, edit, **OWNER, delivery="pdf").status_code == 303
        row = _fresh(message)
        assert (row.state, row.delivery, row.confirmation_digest) == ("draft", "pdf", "")
        assert _press_send(client, old_link).status_code == 409  # a printed letter: no link
        assert _fresh(message).state == "draft"

        # And back to email: it waits for a fresh confirmation, for what it says now.
        assert submit(client, edit, **OWNER, delivery="email").status_code == 303
        assert _fresh(message).state == "awaiting_confirmation"
        assert notices.send_confirmation(message.id)
        assert _press_send(client, _confirm_path(fake, message)).status_code == 303
        assert _fresh(message).state == "queued"


def test_saving_a_letter_unchanged_keeps_its_link(app, fake):
    with app.app_context():
        client = app.test_client()
        message = _write(client)
        assert notices.send_confirmation(message.id)
        link = _confirm_path(fake, message)
        assert submit(client, f"/letters/{message.token}/edit", delivery="email").status_code == 303
        assert not notices.send_confirmation(message.id)  # nothing new to confirm
        assert _press_send(client, link).status_code == 303


def test_a_letter_that_changed_without_an_edit_is_asked_for_again(app, fake):
    with app.app_context():
        client = app.test_client()
        message = _write(client)
        assert notices.send_confirmation(message.id)
        link = _confirm_path(fake, message)
        # What the letter says changed under the link (as when the campaign's text changes).
        db.session.execute(
            update(Message).where(Message.id == message.id).values(personal_note="Other words.")
        )
        db.session.commit()
        page = _press_send(client, link)
        assert page.status_code == 409 and "This letter has changed" in page.get_data(as_text=True)
        assert _fresh(message).state == "awaiting_confirmation"
        assert notices.send_confirmation(message.id)
        assert _press_send(client, _confirm_path(fake, message)).status_code == 303


def test_a_letter_that_changes_while_its_link_is_made_gets_a_link_for_it_as_it_reads_now(
    app: Flask, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        client = app.test_client()
        message = _write(client)
        earlier_letter = notices.earlier_letter

        def changed_meanwhile(letter: Message) -> Message | None:
            # The letter changes under the link being made (as when the campaign's text does).
            db.session.execute(
                update(Message).where(Message.id == message.id).values(personal_note="Other.")
            )
            db.session.commit()
            assert confirmation.renew_confirmation(db.session.get(Message, message.id))
            return earlier_letter(letter)

        monkeypatch.setattr(notices, "earlier_letter", changed_meanwhile)
        assert notices.send_confirmation(message.id) is False  # that link was for the old text
        monkeypatch.undo()
        assert notices.send_confirmation(message.id) is True
        assert len(_emails(fake, "confirmation", message)) == 1
        assert _press_send(client, _confirm_path(fake, message)).status_code == 303
        row = _fresh(message)
        assert (row.state, row.personal_note) == ("queued", "Other.")


def test_no_reminder_for_a_letter_confirmed_while_the_reminder_was_made(
    app: Flask, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        message = _write(app.test_client())
        assert notices.send_confirmation(message.id)
        digest = _fresh(message).confirmation_digest
        earlier_letter = notices.earlier_letter

        def confirmed_meanwhile(letter: Message) -> Message | None:
            assert confirmation.confirm(message.id, digest).confirmed  # "Send my letter"
            return earlier_letter(letter)

        monkeypatch.setattr(notices, "earlier_letter", confirmed_meanwhile)
        assert notices.send_confirmation(message.id, reminder=True) is False
        assert _fresh(message).state == "queued"
    assert not _emails(fake, "reminder")


def test_a_reminder_for_a_letter_that_changed_without_an_edit_confirms_it_as_it_reads_now(
    app: Flask, fake: FakeSendGrid
) -> None:
    with app.app_context():
        client = app.test_client()
        message = _write(client)
        assert notices.send_confirmation(message.id)
        # What the letter says changed under the link (as when the campaign's text changes).
        db.session.execute(
            update(Message).where(Message.id == message.id).values(personal_note="Other words.")
        )
        db.session.commit()
        assert notices.send_confirmation(message.id, reminder=True)
        (reminder,) = _emails(fake, "reminder", message)
        link = re.search(re.escape(BASE) + r"(/confirm/\S+)", _body(reminder)).group(1)
        assert _press_send(client, link).status_code == 303
        row = _fresh(message)
        assert (row.state, row.personal_note) == ("queued", "Other words.")


def test_a_link_from_before_links_named_their_content_is_asked_for_again(app, fake):
    with app.app_context():
        client = app.test_client()
        message = _write(client)
        old_style = "/confirm/" + confirm_serializer().dumps(str(message.id))
        assert _press_send(client, old_style).status_code == 409
        assert _fresh(message).state == "awaiting_confirmation"
        assert notices.send_confirmation(message.id)
        assert _press_send(client, _confirm_path(fake, message)).status_code == 303


@pytest.mark.parametrize("delivery", ["email", "pdf"])
def test_an_edit_that_loses_the_race_with_its_confirmation_changes_nothing(
    app, fake, monkeypatch, delivery
):
    from letters.supporter import views

    with app.app_context():
        client = app.test_client()
        message = _write(client, **OWNER)
        assert notices.send_confirmation(message.id)
        resolve = views.resolve

        def confirmed_meanwhile(form, directory):
            # "Send my letter" is pressed in another tab while this edit is being read.
            if request.method == "POST":
                with db.engine.begin() as connection:
                    connection.execute(
                        update(Message).where(Message.id == message.id).values(state="queued")
                    )
            return resolve(form, directory)

        monkeypatch.setattr(views, "resolve", confirmed_meanwhile)
        edit = f"/letters/{message.token}/edit"
        response = submit(client, edit, **{**OWNER, "personal_note": "Edited."}, delivery=delivery)
        assert response.status_code == 303 and "locked=1" in response.headers["Location"]
        row = _fresh(message)
        assert row.state == "queued" and row.personal_note == OWNER["personal_note"]
        assert row.delivery == "email"


def test_a_letter_confirmed_while_saved_unchanged_is_not_its_own_earlier_letter(
    make: Callable[..., Flask], fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    from letters.supporter import views

    app = make(EMAILS_PER_ADDRESS_PER_DAY=1)  # its confirmation was the day's one email
    with app.app_context():
        client = app.test_client()
        message = _write(client, **OWNER)
        assert notices.send_confirmation(message.id)
        resolve = views.resolve

        def confirmed_meanwhile(form: WriteForm, directory: Directory | None) -> Resolution:
            # "Send my letter" is pressed in another tab while this save is being read.
            if request.method == "POST":
                with db.engine.begin() as connection:
                    connection.execute(
                        update(Message)
                        .where(Message.id == message.id)
                        .values(state="queued", confirmed_at=clock.now())
                    )
            return resolve(form, directory)

        monkeypatch.setattr(views, "resolve", confirmed_meanwhile)
        edit = f"/letters/{message.token}/edit"
        response = submit(client, edit, **OWNER, postcode="2001", delivery="email")
        # The page says the letter went, not that a notice about a second letter is due.
        assert response.status_code == 303 and "locked=1" in response.headers["Location"]
        assert _fresh(message).state == "queued"


# --- the confirmation email relays nothing; a few a day per address; the receipt -----------


def test_the_confirmation_email_carries_none_of_the_typed_text(app, fake):
    spam = "Cheap pills at pills.example"
    with app.app_context():
        message = _write(app.test_client(), name=spam, street=spam, suburb=spam, personal_note=spam)
        assert notices.send_confirmation(message.id)
        (sent,) = _emails(fake, "confirmation", message)
        assert sent.payload["personalizations"][0]["to"] == [{"email": "jane@example.org"}]
        everything = _body(sent) + sent.payload["subject"]
        assert "pills" not in everything and "Priya" not in everything
        assert "Nothing is sent until you confirm" in everything
        page = app.test_client().get(_confirm_path(fake, message)).get_data(as_text=True)
        assert spam in page  # the letter is on the confirmation page, behind the link


def test_emails_to_one_address_are_limited_per_day(make, fake):
    app = make(EMAILS_PER_ADDRESS_PER_DAY=3)
    spellings = ["jane.citizen@gmail.com", "Jane.Citizen+2@gmail.com", "janecitizen@googlemail.com"]
    with app.app_context():
        for address in spellings:  # from three browsers: the limit is the address's
            _write(app.test_client(), email=address)
        refused = submit(
            app.test_client(),
            postcode="2001",
            delivery="email",
            email="JANE.CITIZEN@gmail.com",
            personal_note="Still here after the refusal.",
        )
        page = refused.get_data(as_text=True)
        assert refused.status_code == 422
        assert "as many emails as we send one address in a day" in page
        assert "Still here after the refusal." in page and 'value="12 Example St"' in page
        assert db.session.scalar(select(func.count()).select_from(Message)) == 3
        # Printing needs no email; other addresses are not affected; tomorrow it may again.
        assert submit(app.test_client(), postcode="2001", email=spellings[0]).status_code == 303
        assert _write(app.test_client(), email="sam@example.org")
        clock.freeze(START + dt.timedelta(days=1, minutes=1))
        assert _write(app.test_client(), email=spellings[0])
        # Yesterday's are forgotten: only today's is counted, and kept.
        assert db.session.scalar(select(func.count()).select_from(AddressEmail)) == 1


def test_an_email_counts_toward_the_daily_limit_for_a_full_day(
    make: Callable[..., Flask], fake: FakeSendGrid
) -> None:
    app = make(EMAILS_PER_ADDRESS_PER_DAY=2)
    with app.app_context():
        _write(app.test_client(), email=OWNER["email"])
        day_later = clock.now() + dt.timedelta(days=1)
        clock.freeze(day_later)  # the first is a day old to the instant: it still counts
        _write(app.test_client(), email=OWNER["email"])
        refused = submit(app.test_client(), postcode="2001", delivery="email", email=OWNER["email"])
        assert refused.status_code == 422
        clock.freeze(day_later + dt.timedelta(microseconds=1))
        assert _write(app.test_client(), email=OWNER["email"])


def test_the_address_is_stored_only_as_a_hash_keyed_with_the_apps_secret(
    app: Flask, fake: FakeSendGrid
) -> None:
    with app.app_context():
        for secret in ("one secret", "another secret"):
            app.config["SECRET_KEY"] = secret
            message = _write(app.test_client(), email=OWNER["email"])
        stored = db.session.scalars(select(AddressEmail.address_hash)).all()
        assert OWNER["email"] not in stored and message.sender_email_key not in stored
        # The same mailbox under two secrets: without the secret, no list of addresses can
        # be hashed to find whose a stored hash is.
        assert len(stored) == 2 and len(set(stored)) == 2


def test_notices_count_toward_the_daily_limit(make, fake):
    app = make(EMAILS_PER_ADDRESS_PER_DAY=2)
    with app.app_context():
        _confirmed(app.test_client(), fake, **OWNER)  # the first email of the day
        assert _write(app.test_client(), email=OWNER["email"]).over_weekly_limit
        refused = submit(app.test_client(), postcode="2001", delivery="email", email=OWNER["email"])
        assert refused.status_code == 422


def test_the_supporter_gets_a_receipt_once_the_letter_went(app, fake):
    with app.app_context():
        message = _confirmed(app.test_client(), fake)
        outcome = sending.deliver(message.id)
        assert outcome.state == "sent" and outcome.send_receipt
        fake.answer(500)
        assert not notices.send_receipt(message.id)  # given back for the sweep
        later = START + dt.timedelta(minutes=5)
        assert sweeper.sweep(now=later).to_receipt == [message.id]
        assert notices.send_receipt(message.id)
        assert not notices.send_receipt(message.id)
        assert sweeper.sweep(now=later).to_receipt == []
    receipts = [r for r in _emails(fake, "receipt") if r.status == 202]
    assert len(receipts) == 1
    body = _body(receipts[0])
    assert receipts[0].payload["personalizations"][0]["to"] == [
        {"email": "jane@example.org", "name": "Jane Citizen"}
    ]
    assert "emailed to Priya Nandakumar MP, Member for Banksia" in body
    assert "Priya.Nandakumar.MP@aph.gov.au on 2 March 2026, 12:00 pm" in body
    assert "My niece is eleven" in body and "Dear Priya Nandakumar" in body


def test_no_receipt_before_the_letter_went(app, fake):
    with app.app_context():
        message = _confirmed(app.test_client(), fake)
        assert not notices.send_receipt(message.id)  # queued: nothing went yet
        assert not _emails(fake, "receipt")


def test_the_workers_send_the_receipt_right_after_the_letter(app, fake):
    from tasks import email as tasks

    with app.app_context():
        message = _confirmed(app.test_client(), fake)
        assert tasks.send_letters([str(message.id)]) == {str(message.id): "sent"}
        assert len(_emails(fake, "receipt")) == 1  # by the task that sent the letter
        clock.freeze(START + dt.timedelta(minutes=5))
        assert tasks.sweep()["to_receipt"] == 0
    assert [r.status for r in _emails(fake, "receipt")] == [202]  # and only once


def test_a_receipt_that_fails_with_its_letter_is_sent_by_the_sweep(app, fake, monkeypatch):
    from tasks import email as tasks

    woken: list[str] = []
    monkeypatch.setattr(tasks.send_receipt, "delay", woken.append)
    with app.app_context():
        message = _confirmed(app.test_client(), fake)
        fake.answer(default=500, kind="receipt")  # the letter goes; its receipt meets a 500
        assert tasks.send_letters([str(message.id)]) == {str(message.id): "sent"}
        assert [r.status for r in _emails(fake, "receipt")] == [500]
        clock.freeze(START + dt.timedelta(minutes=5))
        assert tasks.sweep()["to_receipt"] == 1  # the sweep offers it again
        assert woken == [str(message.id)]
        fake.answer()
        assert tasks.send_receipt(str(message.id))
        assert tasks.sweep()["to_receipt"] == 0
    assert [r.status for r in _emails(fake, "receipt")] == [500, 202]


def test_a_receipt_that_raises_does_not_undo_the_letters_task(app, fake, monkeypatch):
    from tasks import email as tasks

    def broken(message_id):
        raise RuntimeError("the receipt could not be made")

    monkeypatch.setattr(tasks.notices, "send_receipt", broken)
    with app.app_context():
        message = _confirmed(app.test_client(), fake)
        assert tasks.send_letters([str(message.id)]) == {str(message.id): "sent"}
        assert len(_emails(fake, "letter")) == 1
        clock.freeze(START + dt.timedelta(minutes=5))
        assert tasks.sweep()["to_receipt"] == 1  # left for the sweep
