"""Email letters in-process: confirmation, sending through a fake SendGrid, events, sweep."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from letters import clock
from letters.extensions import db
from letters.mail import Address, OutgoingEmail, SendResult, header_text, mailer
from letters.mail.outbox import to_mime
from letters.messages import confirmation, notices, sending, sweeper
from letters.models import ContactStatus, DeliveryEvent, Message
from tests import factories
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, FakeSendGrid, WebhookSigner, event
from tests.helpers import csrf_token, submit


def _with_data(app):
    load_fixture_members(app.config["DATA_DIR"])
    return app


@pytest.fixture
def app(make_app, fake, signer):
    """An app sending through the fake SendGrid, with member data loaded."""
    return _with_data(
        make_app(
            SENDGRID_API_KEY=API_KEY,
            SENDGRID_API_HOST=fake.url,
            SENDGRID_WEBHOOK_PUBLIC_KEY=signer.public_key,
            SEND_TIMEOUT_SECONDS=1.0,
            SEND_RETRY_BASE_SECONDS=5.0,
            SEND_MAX_ATTEMPTS=3,
            BASE_URL="https://letters.example.org",
        )
    )


@pytest.fixture
def client(app):
    return app.test_client()


def _write_email_letter(client, **changes) -> Message:
    response = submit(client, postcode="2001", delivery="email", **changes)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    token = response.headers["Location"].rsplit("/", 1)[1]
    return db.session.scalar(select(Message).where(Message.token == token))


def _confirm_path(fake) -> str:
    confirmation = [r for r in fake.received if r.kind == "confirmation"][-1]
    text = confirmation.payload["content"][0]["value"]
    url = re.search(r"https://letters\.example\.org(/confirm/\S+)", text)
    assert url, text
    return url.group(1)


def _refresh(message: Message) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message.id)


def _confirmed(app, client, fake, email: str = "jane@example.org") -> Message:
    with app.app_context():
        message = _write_email_letter(client, email=email)
        assert notices.send_confirmation(message.id)
        path = _confirm_path(fake)
        response = client.post(path, data={"csrf_token": csrf_token(client, path)})
        assert response.status_code == 303
        return _refresh(message)


def test_email_letter_waits_for_confirmation(app, client, fake):
    with app.app_context():
        message = _write_email_letter(client)
        assert message.state == "awaiting_confirmation"
        assert message.recipient_email == "Priya.Nandakumar.MP@aph.gov.au"
        assert not message.recipient_email_verified
        page = client.get(f"/letters/{message.token}").get_data(as_text=True)
        assert "Check your email" in page and "Waiting for you to confirm" in page
        assert fake.letters() == []


def test_confirmation_email_has_an_expiring_link_and_not_the_letter(app, client, fake):
    with app.app_context():
        message = _write_email_letter(client)
        assert notices.send_confirmation(message.id)
        assert not notices.send_confirmation(message.id)  # only once
        (sent,) = [r for r in fake.received if r.kind == "confirmation"]
        # Only the address: the name was typed by whoever filled in the form.
        assert sent.payload["personalizations"][0]["to"] == [{"email": "jane@example.org"}]
        text = sent.payload["content"][0]["value"]
        assert "Nothing is sent until you confirm" in text and "/confirm/" in text
        # The letter is behind the link, on the confirmation page (test_supporter_privacy.py).
        assert "Dear Priya Nandakumar" not in text and "My niece" not in text


def test_no_confirmation_goes_for_a_letter_gone_or_no_longer_waiting_for_one(
    app: Flask, fake: FakeSendGrid
) -> None:
    with app.app_context():
        expired = factories.message(delivery="email", state="expired")
        for message_id in (uuid.uuid4(), expired.id):
            assert notices.send_confirmation(message_id) is False
            assert notices.send_confirmation(message_id, reminder=True) is False
    assert fake.received == []


def test_no_reminder_goes_before_the_confirmation_it_reminds_of(
    app: Flask, client: FlaskClient, fake: FakeSendGrid
) -> None:
    with app.app_context():
        message = _write_email_letter(client)
        assert notices.send_confirmation(message.id, reminder=True) is False
        assert notices.send_confirmation(message.id) is True
    assert [r.kind for r in fake.received] == ["confirmation"]


def test_a_scanner_following_the_link_sends_nothing(app, client, fake):
    with app.app_context():
        message = _write_email_letter(client)
        notices.send_confirmation(message.id)
        path = _confirm_path(fake)
        for _ in range(3):  # link checkers, previews, the supporter's own first look
            page = client.get(path)
            assert page.status_code == 200
            assert "Send my letter" in page.get_data(as_text=True)
        assert _refresh(message).state == "awaiting_confirmation"
        assert sweeper.sweep().to_send == []
        assert fake.letters() == []


def test_confirm_post_without_csrf_is_refused(app, client, fake):
    with app.app_context():
        message = _write_email_letter(client)
        notices.send_confirmation(message.id)
        assert client.post(_confirm_path(fake)).status_code == 400
        assert _refresh(message).state == "awaiting_confirmation"


def test_confirmed_letter_is_sent_with_the_right_envelope(app, client, fake):
    message = _confirmed(app, client, fake)
    with app.app_context():
        assert message.state == "queued"
        outcome = sending.deliver(message.id)
        assert outcome.state == "sent"
        message = _refresh(message)
        assert message.state == "sent" and message.provider_message_id.startswith("fake-")
    (sent,) = fake.letters()
    body = sent.payload
    assert body["from"] == {
        "email": "letters@localhost",
        "name": "Jane Citizen via Tougher on Tech",
    }
    assert body["reply_to"] == {"email": "jane@example.org", "name": "Jane Citizen"}
    assert body["personalizations"] == [
        {"to": [{"email": "Priya.Nandakumar.MP@aph.gov.au", "name": "Priya Nandakumar MP"}]}
    ]
    assert body["custom_args"] == {"letters_message_id": str(message.id), "letters_kind": "letter"}
    assert body["categories"] == ["tougher-on-tech"]
    text, html = (c["value"] for c in body["content"])
    assert "Dear Priya Nandakumar," in text and "Yours sincerely," in text
    assert "40,000 reports" in text and "My niece is eleven" in text
    assert "Dear Priya Nandakumar," in html
    assert "PO Box 6022" not in text  # an email needs no postal block for the member


def test_confirming_twice_sends_once(app, client, fake):
    message = _confirmed(app, client, fake)
    with app.app_context():
        assert not confirmation.confirm(message.id, message.confirmation_digest).confirmed
        sending.deliver(message.id)
        sending.deliver(message.id)
    assert len(fake.letters()) == 1


def test_429_is_retried_with_backoff(app, client, fake):
    message = _confirmed(app, client, fake)
    fake.answer(429)
    with app.app_context():
        first = sending.deliver(message.id)
        assert first.state == "queued" and 2.5 <= first.retry_in <= 5.0
        assert sending.deliver(message.id).state == "queued"  # too early: not claimed
        assert len(fake.received) == 2  # confirmation + the 429
        _make_due(message)
        assert sending.deliver(message.id).state == "sent"
        assert _refresh(message).attempts == 2
    assert len(fake.letters()) == 1


def _make_due(message: Message) -> None:
    row = _refresh(message)
    row.next_attempt_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.session.commit()


def test_server_errors_give_up_and_tell_the_supporter(app, client, fake):
    message = _confirmed(app, client, fake)
    fake.answer(default=500)
    with app.app_context():
        delays = []
        for _ in range(3):
            outcome = sending.deliver(message.id)
            if outcome.retry_in:
                delays.append(outcome.retry_in)
                _make_due(message)
        assert outcome.state == "failed" and outcome.notify_failure
        # Half of each step is fixed and half jitter: attempt n waits between base * 2**(n-1) / 2
        # and base * 2**(n-1), so the second wait can never be below the first's floor doubled.
        base = app.config["SEND_RETRY_BASE_SECONDS"]
        assert base / 2 <= delays[0] <= base
        assert base <= delays[1] <= 2 * base
        message = _refresh(message)
        assert "gave up after 3 attempts" in message.failure_reason
        fake.answer(default=202)
        assert notices.notify_failure(message.id)
        assert not notices.notify_failure(message.id)
        page = client.get(f"/letters/{message.token}").get_data(as_text=True)
        assert "Not delivered" in page and "print it and post it" in page
    notice = [r for r in fake.received if r.kind == "failure"]
    assert len(notice) == 1
    assert "could not email your letter" in notice[0].payload["content"][0]["value"]


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_permanent_errors_fail_at_once(app, client, fake, status):
    message = _confirmed(app, client, fake)
    fake.answer(status)
    with app.app_context():
        outcome = sending.deliver(message.id)
        assert outcome.state == "failed" and outcome.retry_in is None
        message = _refresh(message)
        assert message.failure_reason.startswith(f"HTTP {status}")
        assert message.attempts == 1
        assert message.lease_expires_at is None  # a finished letter holds no send lease


def test_a_slow_server_times_out_and_is_retried(app, client, fake):
    message = _confirmed(app, client, fake)
    fake.answer(("slow", 3.0))
    with app.app_context():
        outcome = sending.deliver(message.id)
        assert outcome.state == "queued" and outcome.retry_in
        assert "connection" in _refresh(message).failure_reason


# --- the webhook ---------------------------------------------------------------------------


def _post(client, signer, batch, *, timestamp=None, key=None):
    body = json.dumps(batch).encode()
    headers = (key or signer).headers(body, timestamp)
    return client.post("/webhooks/sendgrid", data=body, headers=headers)


def test_signed_events_move_the_letter_on(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    with app.app_context():
        sending.deliver(message.id)
        batch = [event(str(message.id), "processed"), event(str(message.id), "delivered")]
        response = _post(client, signer, batch)
        assert response.status_code == 200 and response.get_json()["stored"] == 2
        message = _refresh(message)
        assert message.state == "delivered" and message.delivered_at
        page = client.get(f"/letters/{message.token}").get_data(as_text=True)
        assert "Delivered to the member" in page


def test_forged_stale_and_unsigned_webhooks_are_refused(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    batch = [event(str(message.id), "delivered")]
    with app.app_context():
        assert _post(client, signer, batch, key=WebhookSigner()).status_code == 403
        stale = int(dt.datetime.now(dt.UTC).timestamp()) - 11 * 60
        assert _post(client, signer, batch, timestamp=stale).status_code == 403
        body = json.dumps(batch).encode()
        assert client.post("/webhooks/sendgrid", data=body).status_code == 403
        tampered = signer.headers(body)
        assert (
            client.post(
                "/webhooks/sendgrid",
                data=body.replace(b"delivered", b"bounce   "),
                headers=tampered,
            ).status_code
            == 403
        )
        assert db.session.scalar(select(DeliveryEvent.id)) is None
        assert _refresh(message).state == "queued"


def test_replayed_and_duplicated_events_are_stored_once(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    with app.app_context():
        sending.deliver(message.id)
        one = event(str(message.id), "delivered", timestamp=1_800_000_000)
        assert _post(client, signer, [one]).get_json()["stored"] == 1
        replay = _post(client, signer, [one]).get_json()
        assert replay["stored"] == 0 and replay["duplicates"] == 1
        same_content = dict(one, sg_event_id="another-id")
        assert _post(client, signer, [same_content]).get_json()["duplicates"] == 1
        assert len(db.session.scalars(select(DeliveryEvent)).all()) == 1


def test_hard_bounce_marks_the_contact_failing(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    with app.app_context():
        sending.deliver(message.id)
        bounce = event(str(message.id), "bounce", type="bounce", reason="550 no such user")
        _post(client, signer, [bounce])
        message = _refresh(message)
        assert message.state == "bounced" and "550" in message.failure_reason
        status = db.session.get(ContactStatus, "Banksia")
        assert status.failing and status.email == "Priya.Nandakumar.MP@aph.gov.au"


def test_confirmation_events_do_not_move_the_letter(app, client, fake, signer):
    with app.app_context():
        message = _write_email_letter(client)
        _post(client, signer, [event(str(message.id), "delivered", kind="confirmation")])
        assert _refresh(message).state == "awaiting_confirmation"


def test_malformed_event_batches(app, client, signer):
    with app.app_context():
        body = b"not json"
        response = client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body))
        assert response.status_code == 400
        result = _post(client, signer, [{"event": "delivered"}, "x", event("not-a-uuid", "open")])
        assert result.get_json() == {"stored": 1, "duplicates": 0, "unmatched": 1, "invalid": 2}


# --- the sweep, reminders, expiry ---------------------------------------------------------


def test_sweep_recovers_an_expired_lease_without_sending_twice(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    with app.app_context():
        # A worker claimed it, got it to SendGrid, and died before recording that.
        assert sending.claim([message.id])
        _post(client, signer, [event(str(message.id), "processed")])
        assert _refresh(message).state == "sent"  # the event itself already says so

        other = _confirmed(app, client, fake, email="sam@example.org")
        assert sending.claim([other.id])  # this one died before reaching SendGrid
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        found = sweeper.sweep(now=later)
        assert found.to_send == [other.id]
        assert sending.deliver(other.id).state == "sent"
    assert len(fake.letters()) == 1


def test_sweep_never_resends_a_letter_sendgrid_took_while_its_row_was_still_sending(
    app, client, fake, signer
):
    message = _confirmed(app, client, fake)
    with app.app_context():
        # The worker's request reached SendGrid, which reported the letter deferred (accepted,
        # delivery delayed: an event that moves no state), and then the worker died.
        assert sending.claim([message.id])
        assert _post(client, signer, [event(str(message.id), "deferred")]).status_code == 200
        assert _refresh(message).state == "sending"
        found = sweeper.sweep(now=clock.now() + dt.timedelta(hours=1))
        assert (found.to_send, found.recovered_as_sent) == ([], 1)
        assert _refresh(message).state == "sent"
        assert sending.deliver(message.id).state == "sent"
    assert fake.letters() == []


def test_a_retry_is_not_sent_when_sendgrid_took_the_earlier_attempt(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    fake.answer(500)  # ...though SendGrid had in fact accepted it, as its event then says
    with app.app_context():
        assert sending.deliver(message.id).state == "queued"
        assert _post(client, signer, [event(str(message.id), "deferred")]).status_code == 200
        _make_due(message)
        assert sending.deliver(message.id).state == "sent"
    # The first attempt's request only: no second copy went to SendGrid.
    assert [r.status for r in fake.received if r.kind == "letter"] == [500]


@pytest.mark.parametrize(
    ("name", "state"),
    [("dropped", "dropped"), ("spamreport", "spam_reported"), ("deferred", "queued")],
)
def test_other_events_move_the_letter_as_sendgrid_means_them(
    app, client, fake, signer, name, state
):
    message = _confirmed(app, client, fake)
    with app.app_context():
        if state != "queued":
            sending.deliver(message.id)
        kind = {"reason": "Bounced Address"} if name == "dropped" else {}
        assert _post(client, signer, [event(str(message.id), name, **kind)]).status_code == 200
        message = _refresh(message)
        assert message.state == state
        stored = db.session.scalars(select(DeliveryEvent.event)).all()
        assert stored == [name]
        if name == "dropped":
            assert message.failure_reason == "Bounced Address"
        # Only a hard bounce says the address is wrong.
        assert db.session.get(ContactStatus, "Banksia") is None


def test_a_blocked_bounce_does_not_mark_the_contact_failing(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    with app.app_context():
        sending.deliver(message.id)
        blocked = event(str(message.id), "bounce", type="blocked", reason="554 blocked as spam")
        _post(client, signer, [blocked])
        assert _refresh(message).state == "bounced"
        assert db.session.get(ContactStatus, "Banksia") is None


def test_sweep_finds_queued_rows_nobody_took(app, client, fake):
    message = _confirmed(app, client, fake)
    with app.app_context():
        assert sweeper.sweep().to_send == []  # too fresh: its own task is on the way
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        assert sweeper.sweep(now=later).to_send == [message.id]


def test_reminder_after_a_day_and_expiry_after_a_week(app, client, fake):
    with app.app_context():
        message = _write_email_letter(client)
        notices.send_confirmation(message.id)
        path = _confirm_path(fake)
        now = dt.datetime.now(dt.UTC)
        assert sweeper.sweep(now=now + dt.timedelta(hours=23)).to_remind == []
        assert sweeper.sweep(now=now + dt.timedelta(hours=25)).to_remind == [message.id]
        assert notices.send_confirmation(message.id, reminder=True)
        assert sweeper.sweep(now=now + dt.timedelta(hours=26)).to_remind == []
        reminders = [r for r in fake.received if r.kind == "reminder"]
        assert reminders[0].payload["subject"].startswith("Reminder:")

        assert sweeper.sweep(now=now + dt.timedelta(days=7, minutes=1)).expired == 1
        late = client.get(path)
        assert late.status_code == 410 and "This link has expired" in late.get_data(as_text=True)
        token = csrf_token(client, "/write")
        assert client.post(path, data={"csrf_token": token}).status_code == 410
        assert _refresh(message).state == "expired"
    assert fake.letters() == []


def test_a_confirmation_that_cannot_be_built_stays_for_the_sweep(app, client, monkeypatch):
    with app.app_context():
        message = _write_email_letter(client)

        def broken(*args, **kwargs):
            raise ValueError("cannot build this email")

        monkeypatch.setattr(notices, "confirmation_email", broken)
        assert not notices.send_confirmation(message.id)
        assert _refresh(message).confirmation_sent_at is None
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        assert sweeper.sweep(now=later).to_confirm == [message.id]
        monkeypatch.undo()
        assert notices.send_confirmation(message.id)


def test_a_confirmation_that_cannot_be_made_is_logged_naming_the_letter(
    app: Flask, fake: FakeSendGrid, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with app.app_context():
        broken = factories.message(delivery="email", campaign_key="since-removed")
        with caplog.at_level(logging.ERROR, logger=notices.log.name):
            assert notices.send_confirmation(broken.id) is False
        # Which email and which letter, for whoever fixes the campaign file.
        (logged,) = [r for r in caplog.records if r.name == notices.log.name]
        assert logged.getMessage() == "could not build the confirmation"
        assert getattr(logged, "message_id", None) == str(broken.id)
        assert logged.exc_info is not None
    assert fake.received == []


def test_a_confirmation_whose_sending_raises_is_given_back(app, client, monkeypatch):
    with app.app_context():
        message = _write_email_letter(client)

        def raises(email):
            raise UnicodeEncodeError("ascii", "josé", 3, 4, "not ascii")

        monkeypatch.setattr(mailer.get_mailer(), "send", raises)
        assert not notices.send_confirmation(message.id)
        assert _refresh(message).confirmation_sent_at is None
        monkeypatch.undo()
        assert notices.send_confirmation(message.id)


def test_an_email_that_could_not_go_is_logged_with_its_kind_reason_and_letter(
    app: Flask, client: FlaskClient, fake: FakeSendGrid, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from letters.messages import email_jobs

    def logged() -> list[tuple[int, str, str | None, bool]]:
        records = [r for r in caplog.records if r.name == email_jobs.log.name]
        caplog.clear()
        return [
            (r.levelno, r.getMessage(), getattr(r, "message_id", None), r.exc_info is not None)
            for r in records
        ]

    with app.app_context(), caplog.at_level(logging.WARNING, logger=email_jobs.log.name):
        message = _write_email_letter(client)
        letter = str(message.id)
        fake.answer(500)  # SendGrid refuses
        assert not notices.send_confirmation(message.id)
        assert logged() == [
            (
                logging.WARNING,
                'confirmation email not sent: HTTP 500: {"errors": [{"message": "scripted 500"}]}',
                letter,
                False,
            )
        ]

        def raises(outgoing: OutgoingEmail) -> SendResult:
            raise ConnectionResetError("reset by peer")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(mailer.get_mailer(), "send", raises)
            assert not notices.send_confirmation(message.id)
        assert logged() == [
            (logging.ERROR, "confirmation email could not be sent", letter, True),
            (
                logging.WARNING,
                "confirmation email not sent: the email could not be sent",
                letter,
                False,
            ),
        ]


def test_tampered_confirm_link_is_404(app, client):
    assert client.get("/confirm/not-a-real-token").status_code == 404


def test_confirmed_letters_can_no_longer_be_edited(app, client, fake):
    message = _confirmed(app, client, fake)
    response = client.get(f"/letters/{message.token}/edit")
    assert response.status_code == 303 and "locked=1" in response.headers["Location"]


# --- the outbox (no SendGrid key) and header safety --------------------------------------


def test_without_a_key_mail_goes_to_the_outbox(make_app, tmp_path):
    app = _with_data(make_app(OUTBOX_DIR=tmp_path / "outbox"))
    client = app.test_client()
    with app.app_context():
        message = _write_email_letter(client)
        page = client.get(f"/letters/{message.token}").get_data(as_text=True)
        assert "no email service set up" in page
        assert notices.send_confirmation(message.id)
        (confirmation,) = (tmp_path / "outbox").glob("*-confirmation-*.eml")
        parsed = email.message_from_bytes(confirmation.read_bytes(), policy=email.policy.default)
        path = re.search(r"/confirm/\S+", parsed.get_body(("plain",)).get_content()).group(0)
        client.post(path, data={"csrf_token": csrf_token(client, path)})
        assert sending.deliver(message.id).state == "sent"
        (letter,) = (tmp_path / "outbox").glob("*-letter-*.eml")
        parsed = email.message_from_bytes(letter.read_bytes(), policy=email.policy.default)
        assert parsed["To"] == "Priya Nandakumar MP <Priya.Nandakumar.MP@aph.gov.au>"
        assert parsed["Reply-To"] == "Jane Citizen <jane@example.org>"
        assert "Dear Priya Nandakumar" in parsed.get_body(("plain",)).get_content()


def test_header_injection_is_impossible():
    nasty = "Jane\r\nBcc: victim@example.org\r\nSubject: spam"
    mail = OutgoingEmail(
        kind="letter",
        message_id=uuid.uuid4(),
        sender=Address("letters@localhost", f"{nasty} via Campaign"),
        to=(Address("member@example.org", nasty),),
        reply_to=Address("jane@example.org", nasty),
        subject=nasty,
        text="Body",
        html="<p>Body</p>",
    )
    raw = to_mime(mail).as_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "\r\nBcc:" not in headers
    assert headers.count("\r\nSubject:") == 1
    assert header_text(nasty) == "Jane Bcc: victim@example.org Subject: spam"


def test_a_lease_shorter_than_the_send_timeout_is_refused(make_app):
    from letters.settings import ConfigError

    with pytest.raises(ConfigError, match="must be longer than"):
        make_app(SEND_LEASE_SECONDS=5.0, SEND_TIMEOUT_SECONDS=10.0)


def test_a_batch_repeating_an_event_stores_it_once(app, client, fake, signer):
    message = _confirmed(app, client, fake)
    with app.app_context():
        sending.deliver(message.id)
        one = event(str(message.id), "delivered")
        result = _post(client, signer, [one, one, dict(one, sg_event_id="other")]).get_json()
        assert result["stored"] == 1 and result["duplicates"] == 2
        assert _refresh(message).state == "delivered"


def test_the_contacts_file_wins_over_the_derived_address(make_app, fake, signer, tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "\ufeffdivision,email,salutation,office_address\n"
        "banksia,priya.office@example.org,Ms Nandakumar,1 Office Rd\n",
        encoding="utf-8",
    )
    app = _with_data(
        make_app(
            SENDGRID_API_KEY=API_KEY,
            SENDGRID_API_HOST=fake.url,
            CONTACTS_FILE=contacts,
        )
    )
    client = app.test_client()
    with app.app_context():
        message = _write_email_letter(client)
        assert message.recipient_email == "priya.office@example.org"
        assert message.recipient_email_verified
        page = client.get(f"/letters/{message.token}").get_data(as_text=True)
        assert "Dear Ms Nandakumar," in page
        assert "not been confirmed for this member" not in page


def test_typed_markup_is_inert_in_the_email(app, client, fake):
    payload = '<script>alert(1)</script><img src="file:///etc/passwd">'
    with app.app_context():
        message = _write_email_letter(client, personal_note=payload, street=payload)
        notices.send_confirmation(message.id)
        path = _confirm_path(fake)
        client.post(path, data={"csrf_token": csrf_token(client, path)})
        sending.deliver(message.id)
    (sent,) = fake.letters()
    text, html = (c["value"] for c in sent.payload["content"])
    assert payload in text  # plain text shows exactly what was typed
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- what each event records, whatever way it comes in -------------------------------------


def _sending_letter(**fields) -> Message:
    """An email letter a worker claimed (and died holding): only events can tell its fate."""
    return factories.message(
        delivery="email", state="sending", lease_expires_at=clock.now(), **fields
    )


def test_events_date_the_letter_by_when_sendgrid_saw_it(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        processed, bounced = 1_800_000_000, 1_800_003_600
        record_events([event(str(letter.id), "processed", timestamp=processed)])
        letter = _refresh(letter)
        assert letter.state == "sent" and letter.lease_expires_at is None
        assert letter.sent_at == dt.datetime.fromtimestamp(processed, dt.UTC)
        record_events([event(str(letter.id), "bounce", timestamp=bounced, reason="550 gone")])
        letter = _refresh(letter)
        assert letter.state == "bounced" and letter.failure_reason == "550 gone"
        assert letter.failed_at == dt.datetime.fromtimestamp(bounced, dt.UTC)


def test_a_drop_without_a_reason_says_it_was_dropped(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        record_events([event(str(letter.id), "dropped")])
        letter = _refresh(letter)
        assert letter.state == "dropped" and letter.failure_reason == "dropped"


def test_each_hard_bounce_updates_the_members_one_contact_status(app):
    from letters.messages.events import record_events

    with app.app_context():
        first, second = _sending_letter(), _sending_letter()
        bounce = event(str(first.id), "bounce", type="bounce", reason="550 no such user")
        record_events([bounce])
        status = db.session.get(ContactStatus, "Banksia")
        assert status.failing and status.reason == "550 no such user"
        assert status.email == first.recipient_email
        # Fixed in the contacts file, then failing again: the same row says so.
        status.failing = False
        db.session.commit()
        record_events([event(str(second.id), "bounce", type="bounce")])
        db.session.expire_all()
        (status,) = db.session.scalars(select(ContactStatus)).all()
        assert status.failing and status.reason == "hard bounce"


def test_an_event_for_the_confirmation_does_not_count_as_the_letter_sent(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        record_events([event(str(letter.id), "processed", kind="confirmation")])
        found = sweeper.sweep(now=clock.now() + dt.timedelta(hours=1))
        assert found.to_send == [letter.id] and found.recovered_as_sent == 0
        assert _refresh(letter).state == "queued"


# --- sending: backoff, and a worker that outlived its lease ---------------------------------


def test_a_retry_waits_between_half_and_all_of_its_doubling_step(app, monkeypatch):
    with app.app_context():
        base = app.config["SEND_RETRY_BASE_SECONDS"]
        monkeypatch.setattr(sending.random, "uniform", lambda low, high: low)
        assert [sending.backoff_seconds(n) for n in (1, 2, 3)] == [base / 2, base, 2 * base]
        monkeypatch.setattr(sending.random, "uniform", lambda low, high: high)
        assert [sending.backoff_seconds(n) for n in (1, 2, 3)] == [base, 2 * base, 4 * base]
        assert sending.backoff_seconds(30) == sending.RETRY_CAP_SECONDS


class _Refusing:
    """A mailer that refuses (for good, unless `retryable`), after `before_answer` ran (a slow
    answer, say)."""

    def __init__(self, reason: str = "HTTP 400", before_answer=None, retryable=False) -> None:
        self.reason, self.before_answer, self.retryable = reason, before_answer, retryable

    def send(self, email):
        if self.before_answer:
            self.before_answer()
        return SendResult(accepted=False, retryable=self.retryable, reason=self.reason)


def test_a_refusal_too_long_to_keep_is_cut_short(app, monkeypatch):
    with app.app_context():
        letter = factories.message(delivery="email", state="queued", queued_at=clock.now())
        monkeypatch.setattr(sending, "get_mailer", lambda: _Refusing(reason="x" * 5000))
        assert sending.deliver(letter.id).state == "failed"
        assert _refresh(letter).failure_reason == "x" * 1000


def test_a_letter_waiting_for_its_retry_holds_no_lease_and_a_reason_cut_short(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        letter = factories.message(delivery="email", state="queued", queued_at=clock.now())
        refusing = _Refusing(reason="x" * 5000, retryable=True)
        monkeypatch.setattr(sending, "get_mailer", lambda: refusing)
        assert sending.deliver(letter.id).state == "queued"
        row = _refresh(letter)
        assert (row.failure_reason, row.lease_expires_at) == ("retrying: " + "x" * 990, None)


def test_a_worker_that_outlived_its_lease_does_not_fail_the_letter_it_lost(app, monkeypatch):
    with app.app_context():
        clock.freeze(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
        letter = factories.message(delivery="email", state="queued", queued_at=clock.now())
        lease = dt.timedelta(seconds=app.config["SEND_LEASE_SECONDS"])

        def slow_answer():
            clock.advance(lease + dt.timedelta(minutes=1))
            assert sweeper.sweep().to_send == [letter.id]  # back in the queue for another

        monkeypatch.setattr(sending, "get_mailer", lambda: _Refusing(before_answer=slow_answer))
        sending.deliver(letter.id)
        assert _refresh(letter).state == "queued"


# SendGrid's id is ~22 characters; the column keeps 100 of a longer one, whatever records it.
LONG_ID_PREFIX = "x" * 120 + "-"


def test_a_letter_sent_on_its_retry_keeps_sendgrids_id_and_neither_lease_nor_retry_reason(
    app: Flask, client: FlaskClient, fake: FakeSendGrid
) -> None:
    message = _confirmed(app, client, fake)
    fake.answer(429)
    fake.id_prefix = LONG_ID_PREFIX
    with app.app_context():
        assert sending.deliver(message.id).state == "queued"
        assert _refresh(message).failure_reason.startswith("retrying: HTTP 429")
        _make_due(message)
        assert sending.deliver(message.id).state == "sent"
        row = _refresh(message)
        assert (row.provider_message_id, row.failure_reason, row.lease_expires_at) == (
            LONG_ID_PREFIX[:100],
            "",
            None,
        )
    assert len(fake.letters()) == 1


def test_a_worker_late_past_its_lease_leaves_the_letter_it_lost_to_sendgrids_event(
    app: Flask, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SendGrid took the letter only after the sweep had put it back in the queue: the late
    worker no longer holds it, so it keeps SendGrid's id and nothing else; SendGrid's event
    records it sent, and the sweep's wake-up then finds nothing to send."""
    from letters.messages.events import record_events

    with app.app_context():
        clock.freeze(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
        letter = factories.message(delivery="email", state="queued", queued_at=clock.now())
        fake.id_prefix = LONG_ID_PREFIX
        _sent_by_a_worker_past_its_lease(app, monkeypatch, letter)
        row = _refresh(letter)
        assert (row.state, row.sent_at, row.provider_message_id) == (
            "queued",
            None,
            LONG_ID_PREFIX[:100],
        )
        record_events([event(str(letter.id), "processed")])
        assert _refresh(letter).state == "sent"
        assert sending.deliver(letter.id) == sending.DeliveryOutcome(state="sent")
    assert len(fake.letters()) == 1


def _sent_by_a_worker_past_its_lease(
    app: Flask, monkeypatch: pytest.MonkeyPatch, letter: Message
) -> None:
    """A worker claims the letter and stalls past its lease, the sweep puts the letter back in
    the queue, and only then does the worker's send reach SendGrid."""
    lease = dt.timedelta(seconds=app.config["SEND_LEASE_SECONDS"])
    real_mailer = sending.get_mailer()

    class LateMailer:
        def send(self, outgoing: OutgoingEmail) -> SendResult:
            clock.advance(lease + dt.timedelta(minutes=1))
            assert sweeper.sweep().to_send == [letter.id]  # back in the queue for another
            return real_mailer.send(outgoing)

    with monkeypatch.context() as patched:
        patched.setattr(sending, "get_mailer", LateMailer)
        sending.deliver(letter.id)


def test_a_letter_sendgrid_took_from_a_worker_past_its_lease_is_not_sent_again(
    app: Flask, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the next claim comes before SendGrid's event: the id the late worker kept
    shows SendGrid has the letter, so it is recorded sent (with its receipt) and not sent again."""
    with app.app_context():
        clock.freeze(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
        letter = factories.message(delivery="email", state="queued", queued_at=clock.now())
        _sent_by_a_worker_past_its_lease(app, monkeypatch, letter)
        provider_id = _refresh(letter).provider_message_id
        assert provider_id and _refresh(letter).state == "queued"
        clock.advance(dt.timedelta(seconds=5))
        outcome = sending.deliver(letter.id)
        assert outcome == sending.DeliveryOutcome(state="sent", send_receipt=True)
        row = _refresh(letter)
        assert (row.state, row.sent_at, row.provider_message_id, row.lease_expires_at) == (
            "sent",
            clock.now(),
            provider_id,
            None,
        )
    assert len(fake.letters()) == 1


def _queued_retry(**fields) -> Message:
    """An email letter whose first attempt went to SendGrid, due for its second."""
    return factories.message(
        delivery="email", state="queued", queued_at=clock.now(), attempts=1, **fields
    )


def test_a_retry_sendgrid_took_before_is_recorded_sent_then_and_gets_its_receipt(app, fake):
    from letters.messages.events import record_events

    with app.app_context():
        clock.freeze(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
        letter = _queued_retry()
        record_events([event(str(letter.id), "deferred")])  # the first attempt's answer was lost
        clock.advance(dt.timedelta(minutes=5))
        outcome = sending.deliver(letter.id)
        assert outcome == sending.DeliveryOutcome(state="sent", send_receipt=True)
        row = _refresh(letter)
        assert (row.state, row.sent_at, row.attempts) == ("sent", clock.now(), 2)
    assert fake.letters() == []


def test_a_retry_whose_claim_the_sweep_took_back_is_left_to_the_next_claim(app, fake, monkeypatch):
    """Its worker stalled past the lease, the sweep put the letter back, and only then did
    SendGrid's event for the first attempt come: the stalled worker no longer holds the letter,
    so it records nothing; whoever claims it next finds the event and records it sent."""
    from letters.messages.events import record_events

    with app.app_context():
        clock.freeze(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
        letter = _queued_retry()
        lease = dt.timedelta(seconds=app.config["SEND_LEASE_SECONDS"])
        accepted = sending.already_accepted

        def stalled(message_id):
            clock.advance(lease + dt.timedelta(minutes=1))
            assert sweeper.sweep().to_send == [letter.id]  # back in the queue for another
            record_events([event(str(letter.id), "deferred")])
            return accepted(message_id)

        monkeypatch.setattr(sending, "already_accepted", stalled)
        sending.deliver(letter.id)
        row = _refresh(letter)
        assert (row.state, row.sent_at) == ("queued", None)
        monkeypatch.undo()
        assert sending.deliver(letter.id).state == "sent"
        assert _refresh(letter).sent_at == clock.now()
    assert fake.letters() == []


def test_a_letter_with_no_address_for_its_member_fails_at_once_and_says_why(app, fake):
    with app.app_context():
        letter = factories.message(
            delivery="email", state="queued", queued_at=clock.now(), recipient_email=""
        )
        outcome = sending.deliver(letter.id)
        assert outcome == sending.DeliveryOutcome(state="failed", notify_failure=True)
        row = _refresh(letter)
        assert (row.state, row.failure_reason, row.lease_expires_at) == (
            "failed",
            "no email address is known for this member",
            None,
        )
    assert fake.letters() == []


def test_a_letter_whose_email_cannot_be_made_fails_and_the_log_names_it(app, fake, caplog):
    import logging

    with app.app_context():
        letter = factories.message(
            delivery="email", state="queued", queued_at=clock.now(), campaign_key="since-removed"
        )
        with caplog.at_level(logging.ERROR, logger=sending.log.name):
            outcome = sending.deliver(letter.id)
        assert outcome == sending.DeliveryOutcome(state="failed", notify_failure=True)
        row = _refresh(letter)
        assert (row.state, row.failure_reason) == (
            "failed",
            "the letter could not be prepared for email",
        )
        (logged,) = [r for r in caplog.records if r.name == sending.log.name]
        assert logged.getMessage() == f"could not build the email for {letter.id}"
    assert fake.letters() == []


def test_a_letter_not_due_is_reported_where_it_stands_and_one_gone_as_nowhere(app, fake):
    with app.app_context():
        held = factories.message(
            delivery="email",
            state="sending",
            lease_expires_at=clock.now() + dt.timedelta(minutes=1),
        )
        assert sending.deliver(held.id) == sending.DeliveryOutcome(state="sending")
        assert sending.deliver(uuid.uuid4()) == sending.DeliveryOutcome(state="")
    assert fake.letters() == []


def test_sending_a_letter_claims_that_letter_alone(app: Flask, fake: FakeSendGrid) -> None:
    with app.app_context():
        asked, other = (
            factories.message(delivery="email", state="queued", queued_at=clock.now())
            for _ in range(2)
        )
        assert sending.deliver_many([asked.id]) == {
            asked.id: sending.DeliveryOutcome(state="sent", send_receipt=True)
        }
        assert (_refresh(other).state, _refresh(other).attempts) == ("queued", 0)
        assert [r.message_id for r in fake.letters()] == [str(asked.id)]


def test_a_retry_is_claimed_from_one_second_before_its_time_and_no_sooner(
    app: Flask, fake: FakeSendGrid
) -> None:
    """A retry's wake-up may run a moment early on another machine's clock."""
    with app.app_context():
        clock.freeze(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
        second = dt.timedelta(seconds=1)
        due = _queued_retry(next_attempt_at=clock.now() + second)
        early = _queued_retry(next_attempt_at=clock.now() + 1.5 * second)
        assert sending.deliver(due.id).state == "sent"
        assert sending.deliver(early.id) == sending.DeliveryOutcome(state="queued")
        assert _refresh(early).attempts == 1
        assert [r.message_id for r in fake.letters()] == [str(due.id)]


def test_a_letter_in_a_workers_hands_is_left_to_it_until_its_lease_runs_out(
    app: Flask, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        clock.freeze(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
        letter = factories.message(delivery="email", state="queued", queued_at=clock.now())
        lease = dt.timedelta(seconds=app.config["SEND_LEASE_SECONDS"])
        real_mailer = sending.get_mailer()

        class SweptMidSend:
            def send(self, outgoing: OutgoingEmail) -> SendResult:
                clock.advance(lease)  # the sweep runs at the lease's last instant
                assert sweeper.sweep().to_send == []
                return real_mailer.send(outgoing)

        monkeypatch.setattr(sending, "get_mailer", SweptMidSend)
        assert sending.deliver(letter.id).state == "sent"
    assert len(fake.letters()) == 1


# --- confirmations renewed, and letters held for an edit -----------------------------------


def _awaiting(**fields) -> Message:
    now = clock.now()
    values = {
        "confirmation_digest": "the letter as it read before",
        "confirmation_sent_at": now,
        "reminder_sent_at": now,
        "reminder_claimed_until": now,
        **fields,
    }
    return factories.message(delivery="email", **values)


def test_a_renewed_confirmation_is_due_again_for_the_letter_as_it_reads_now(app):
    from letters.mail.content import letter_digest

    with app.app_context():
        letter, other = _awaiting(), _awaiting()
        second_page = Session(db.engine)  # another request, which read the letter meanwhile
        stale_copy = second_page.get(Message, letter.id)
        assert confirmation.renew_confirmation(letter)
        renewed = _refresh(letter)
        assert renewed.confirmation_digest == letter_digest(renewed)
        assert renewed.confirmation_sent_at is None and renewed.confirmation_claimed_until is None
        assert renewed.reminder_sent_at is None and renewed.reminder_claimed_until is None
        # Asked once: a second page holding the old digest finds it renewed already.
        assert not confirmation.renew_confirmation(stale_copy)
        second_page.close()
        untouched = _refresh(other)  # the same old digest, but another letter
        assert untouched.confirmation_digest == "the letter as it read before"
        assert untouched.confirmation_sent_at is not None


@pytest.mark.parametrize(
    "fields", [{"state": "queued"}, {"over_weekly_limit": True}], ids=["confirmed", "over-limit"]
)
def test_no_new_confirmation_for_a_letter_confirmed_or_over_the_limit(app, fields):
    with app.app_context():
        letter = _awaiting(**fields)
        assert not confirmation.renew_confirmation(letter)
        kept = _refresh(letter)
        assert kept.confirmation_digest == "the letter as it read before"
        assert kept.confirmation_sent_at is not None


def test_holding_a_letter_for_an_edit_holds_that_letter_alone_until_the_edit_commits(app):
    from letters.domain.lifecycle import State

    with app.app_context():
        before = clock.now() - dt.timedelta(hours=1)
        printed = factories.message(updated_at=before)
        emailed = factories.message(delivery="email", updated_at=before)
        assert confirmation.hold_for_edit(emailed.id, State.DRAFT)
        db.session.rollback()  # the edit failed: nothing it began stays
        assert _refresh(emailed).state == "awaiting_confirmation"
        assert confirmation.hold_for_edit(emailed.id, State.DRAFT)
        db.session.commit()
        assert _refresh(emailed).state == "draft"
        assert _refresh(printed).updated_at == before


def test_the_page_and_the_sweep_agree_on_a_confirmations_last_instant(app):
    # The sweep keeps a letter unconfirmed for exactly the window (test_housekeeping.py); the
    # page must still take its confirmation then, and neither may a second later.
    from letters.messages.confirmation import confirmation_expired, too_late
    from tests import factories

    with app.app_context():
        letter = factories.message(delivery="email")
        window = dt.timedelta(hours=app.config["CONFIRM_EXPIRE_AFTER_HOURS"])
        last = letter.created_at + window
        assert not confirmation_expired(letter, last)
        assert confirmation_expired(letter, last + dt.timedelta(seconds=1))
        with clock.frozen(last):
            assert not too_late(letter)


class _AcceptingAfter:
    """Takes the letter, after something else happened meanwhile (a webhook, say)."""

    really_sends = True

    def __init__(self, meanwhile) -> None:
        self.meanwhile = meanwhile

    def send(self, email):
        self.meanwhile()
        return SendResult(accepted=True, status=202, provider_id="sg-overtaken-1")


def test_a_delivery_event_that_overtakes_the_send_keeps_the_state_and_gains_the_id(
    app, monkeypatch
):
    from letters.domain.lifecycle import State
    from letters.messages.states import move

    with app.app_context():
        letter = factories.message(delivery="email", state="queued", queued_at=clock.now())

        def delivered_first():  # SendGrid's event reached the webhook before the 202 did
            assert move(letter.id, State.DELIVERED, sources={State.SENDING})

        monkeypatch.setattr(sending, "get_mailer", lambda: _AcceptingAfter(delivered_first))
        sending.deliver(letter.id)
        row = _refresh(letter)
        assert (row.state, row.provider_message_id) == ("delivered", "sg-overtaken-1")


# --- the sweep's waits, to the instant --------------------------------------------------------


def _sweep_wait(app) -> dt.timedelta:
    return dt.timedelta(seconds=app.config["SWEEP_QUEUED_AFTER_SECONDS"])


def test_a_new_letters_confirmation_is_left_to_its_own_task_for_the_sweeps_wait(app):
    with app.app_context():
        written = clock.now()
        letter = factories.message(delivery="email", created_at=written)
        wait = _sweep_wait(app)
        assert sweeper.sweep(now=written).to_confirm == []  # its own task is on the way
        assert sweeper.sweep(now=written + wait).to_confirm == []
        later = written + wait + dt.timedelta(microseconds=1)
        assert sweeper.sweep(now=later).to_confirm == [letter.id]


def test_a_workers_lease_holds_to_its_last_instant(app):
    with app.app_context():
        held_until = clock.now() + dt.timedelta(seconds=app.config["SEND_LEASE_SECONDS"])
        letter = factories.message(
            delivery="email", state="sending", queued_at=clock.now(), lease_expires_at=held_until
        )
        for moment in (clock.now(), held_until):
            found = sweeper.sweep(now=moment)
            assert found.to_send == [] and _refresh(letter).state == "sending"
        found = sweeper.sweep(now=held_until + dt.timedelta(microseconds=1))
        assert found.to_send == [letter.id] and _refresh(letter).state == "queued"


def test_a_reminder_is_due_only_once_its_whole_wait_is_over(app):
    with app.app_context():
        linked = clock.now()  # the confirmation went then
        letter = factories.message(delivery="email", created_at=linked, confirmation_sent_at=linked)
        wait = dt.timedelta(hours=app.config["CONFIRM_REMIND_AFTER_HOURS"])
        assert sweeper.sweep(now=linked + wait).to_remind == []
        later = linked + wait + dt.timedelta(microseconds=1)
        assert sweeper.sweep(now=later).to_remind == [letter.id]


def test_a_queued_letter_is_woken_once_the_sweeps_wait_is_over(app):
    with app.app_context():
        queued = clock.now()
        letter = factories.message(delivery="email", state="queued", queued_at=queued)
        wait = _sweep_wait(app)
        assert sweeper.sweep(now=queued + wait).to_send == []
        assert sweeper.sweep(now=queued + wait + dt.timedelta(microseconds=1)).to_send == [
            letter.id
        ]


def test_a_retry_is_woken_by_the_sweep_only_after_its_own_time(app):
    with app.app_context():
        queued = clock.now() - dt.timedelta(hours=1)  # queued long ago, then retried
        retry_at = clock.now() + dt.timedelta(minutes=10)
        letter = factories.message(
            delivery="email", state="queued", queued_at=queued, next_attempt_at=retry_at
        )
        wait = _sweep_wait(app)
        assert sweeper.sweep(now=clock.now()).to_send == []  # its backoff is not over
        assert sweeper.sweep(now=retry_at + wait).to_send == []
        assert sweeper.sweep(now=retry_at + wait + dt.timedelta(seconds=1)).to_send == [letter.id]


def test_letters_the_sweep_finds_sent_are_dated_counted_once_and_not_found_again(app):
    from letters.messages.events import record_events

    with app.app_context():
        # Two workers died after SendGrid took their letters (it said so: deferred).
        letters = [_sending_letter(), _sending_letter()]
        record_events([event(str(letter.id), "deferred") for letter in letters])
        later = clock.now() + dt.timedelta(hours=1)
        found = sweeper.sweep(now=later)
        assert (found.to_send, found.recovered_as_sent) == ([], 2)
        for letter in letters:
            row = _refresh(letter)
            assert (row.state, row.sent_at) == ("sent", later)
        # Nothing is left for the next sweep, nor for its preview.
        preview = sweeper.preview(later + dt.timedelta(minutes=1))
        assert (preview["to_send"], preview["expired_leases"]) == (0, 0)
        assert sweeper.sweep(now=later + dt.timedelta(minutes=1)).recovered_as_sent == 0


def test_a_letter_put_back_from_a_dead_workers_lease_stays_due_to_every_sweep(make_app, fake):
    # A lease shorter than the sweep's wait: the letter it puts back is not "fresh".
    app = make_app(SEND_LEASE_SECONDS=30.0, SEND_TIMEOUT_SECONDS=1.0)
    with app.app_context():
        claimed = clock.now()  # a retry, claimed when it fell due
        letter = factories.message(
            delivery="email",
            state="sending",
            queued_at=claimed - dt.timedelta(hours=1),
            next_attempt_at=claimed,
            lease_expires_at=claimed + dt.timedelta(seconds=30),
        )
        first = claimed + dt.timedelta(seconds=31)
        assert sweeper.sweep(now=first).to_send == [letter.id]
        # That wake-up was lost (the broker restarted): the next sweep wakes it again.
        assert sweeper.sweep(now=first + dt.timedelta(seconds=1)).to_send == [letter.id]


# --- what the webhook takes from each event ----------------------------------------------------


def _stored() -> list[DeliveryEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(DeliveryEvent).order_by(DeliveryEvent.id)))


def test_an_event_without_its_id_or_name_is_refused(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        good = event(str(letter.id), "deferred")
        without_id = {k: v for k, v in good.items() if k != "sg_event_id"}
        bad = [
            without_id,
            {**good, "sg_event_id": ""},
            {**good, "sg_event_id": "\x00"},  # nothing left once the NUL is taken out
            {**good, "event": 5},
        ]
        assert record_events(bad).invalid == 4
        assert _stored() == []


def test_any_timestamp_a_date_can_hold_is_taken_and_no_other(app):
    from letters.messages.events import LAST_TIMESTAMP, record_events

    with app.app_context():
        letter = _sending_letter()
        moments = [-1, 0, LAST_TIMESTAMP, LAST_TIMESTAMP + 1]
        result = record_events([event(str(letter.id), "deferred", timestamp=t) for t in moments])
        assert (result.stored, result.invalid) == (2, 2)
        assert sorted(e.occurred_at for e in _stored()) == [0, LAST_TIMESTAMP]


def test_an_events_fields_are_kept_within_what_each_column_holds(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        long = event(
            str(letter.id),
            "d" * 40,
            kind="k" * 40,
            sg_event_id="i" * 150,
            reason="r" * 1500,
            type="t" * 40,
        )
        assert record_events([long]).stored == 1
        (row,) = _stored()
        assert (len(row.sg_event_id), len(row.event), len(row.kind)) == (100, 30, 20)
        assert (len(row.reason), len(row.bounce_type)) == (1000, 30)


def test_an_events_text_loses_its_nul_characters_and_nothing_else(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        record_events([event(str(letter.id), "bounce", reason="550\x00 gone", type="bounce")])
        (row,) = _stored()
        assert (row.reason, row.bounce_type) == ("550 gone", "bounce")
        assert _refresh(letter).failure_reason == "550 gone"


def test_an_event_without_a_reason_or_with_an_odd_kind_stores_none(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        record_events([event(str(letter.id), "deferred", kind=5)])
        (row,) = _stored()
        assert (row.kind, row.reason, row.bounce_type) == ("", "", "")
        assert _refresh(letter).state == "sending"  # not an event about the letter


def test_a_bounce_that_gives_only_the_servers_response_keeps_it_as_the_reason(app):
    from letters.messages.events import record_events

    with app.app_context():
        letter = _sending_letter()
        record_events([event(str(letter.id), "bounce", response="550 5.1.1 no such user")])
        (row,) = _stored()
        assert row.reason == "550 5.1.1 no such user"
        assert _refresh(letter).failure_reason == "550 5.1.1 no such user"


def test_each_event_for_no_letter_of_ours_is_counted(app):
    from letters.messages.events import record_events

    with app.app_context():
        strangers = [event(str(uuid.uuid4()), "delivered") for _ in range(3)]
        result = record_events([*strangers, event("not-a-uuid", "open")])
        assert (result.stored, result.unmatched, result.invalid) == (4, 4, 0)
