"""A worker killed at any point of any email's life strands nothing and sends nothing twice
(outside the one documented window): each email is claimed under a lease that the sweep
recovers, and marked sent only once SendGrid took it.

The worker's death is played in-process: at the chosen point the mailer (or the recording
step) raises an exception no code catches, so nothing after it runs, and the database holds
exactly what a SIGKILL there would leave (every step commits before the next). The sweep then
runs after the lease, as beat would, and does the jobs it finds, as the workers would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest

from letters import clock
from letters.mail import mailer as mailer_module
from letters.messages import email_jobs, notices, sending, sweeper
from letters.messages.confirmation import renew_confirmation
from letters.models import Message
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, event
from tests.helpers import csrf_token
from tests.test_email import _confirm_path, _refresh, _write_email_letter

LEASE_SECONDS = 120


class Killed(BaseException):
    """The worker process dies here: no `except Exception` catches it."""


@pytest.fixture
def app(make_app, fake, signer):
    app = make_app(
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_API_HOST=fake.url,
        SENDGRID_WEBHOOK_PUBLIC_KEY=signer.public_key,
        SEND_TIMEOUT_SECONDS=1.0,
        SEND_LEASE_SECONDS=LEASE_SECONDS,
        BASE_URL="https://letters.example.org",
    )
    load_fixture_members(app.config["DATA_DIR"])
    return app


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(clock.now())
    yield
    clock.unfreeze()


def _confirm(client, fake, message: Message) -> None:
    assert notices.send_confirmation(message.id)
    path = _confirm_path(fake)
    assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 303


def _due_confirmation(
    app, client, fake, email: str = "jane@example.org"
) -> tuple[Message, Callable[[], bool]]:
    message = _write_email_letter(client, email=email)
    return message, lambda: notices.send_confirmation(message.id)


def _due_reminder(
    app, client, fake, email: str = "jane@example.org"
) -> tuple[Message, Callable[[], bool]]:
    message = _write_email_letter(client, email=email)
    assert notices.send_confirmation(message.id)
    clock.advance(dt.timedelta(hours=app.config["CONFIRM_REMIND_AFTER_HOURS"] + 1))
    return message, lambda: notices.send_confirmation(message.id, reminder=True)


def _due_receipt(
    app, client, fake, email: str = "jane@example.org"
) -> tuple[Message, Callable[[], bool]]:
    message = _write_email_letter(client, email=email)
    _confirm(client, fake, message)
    assert sending.deliver(message.id).state == "sent"
    return message, lambda: notices.send_receipt(message.id)


def _due_failure_notice(
    app, client, fake, email: str = "jane@example.org"
) -> tuple[Message, Callable[[], bool]]:
    message = _write_email_letter(client, email=email)
    _confirm(client, fake, message)
    fake.answer(400)  # SendGrid refuses the letter for good
    assert sending.deliver(message.id).state == "failed"
    return message, lambda: notices.notify_failure(message.id)


EMAILS = {
    "confirmation": _due_confirmation,
    "reminder": _due_reminder,
    "receipt": _due_receipt,
    "failure": _due_failure_notice,
}


def _received(fake, kind: str) -> int:
    return sum(1 for r in fake.received if r.kind == kind and r.status == 202)


def _sweep_and_work() -> None:
    """One beat of the sweep, and the workers doing what it found."""
    found = sweeper.sweep()
    for message_id in found.to_confirm:
        notices.send_confirmation(message_id)
    for message_id in found.to_remind:
        notices.send_confirmation(message_id, reminder=True)
    for message_id in found.to_receipt:
        notices.send_receipt(message_id)
    for message_id in found.to_notify:
        notices.notify_failure(message_id)


def _die(monkeypatch, where: str) -> None:
    """Make the worker die at `where` in its next email."""
    real = mailer_module.get_mailer()

    class DyingMailer:
        def send(self, email):
            if where == "before the send":
                raise Killed
            result = real.send(email)
            if where == "after the 202":
                raise Killed
            return result

    monkeypatch.setattr(email_jobs, "get_mailer", DyingMailer)
    if where == "before the commit":
        monkeypatch.setattr(email_jobs, "record", lambda *args: (_ for _ in ()).throw(Killed))


def _dies_during(monkeypatch, where: str, work: Callable[[], object]) -> None:
    """Run `work` with the worker dying at `where` in its email (see _die)."""
    with monkeypatch.context() as patch:
        _die(patch, where)
        with pytest.raises(Killed):
            work()


def _report_taken(client, signer, message: Message, kind: str, name: str = "processed") -> None:
    """SendGrid's `processed` event (or another) for the email, posted to the webhook."""
    body = json.dumps([event(str(message.id), name, kind=kind)]).encode()
    response = client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body))
    assert response.status_code == 200


@pytest.mark.parametrize("kind", EMAILS)
@pytest.mark.parametrize("where", ["before the send", "after the 202", "before the commit"])
def test_a_killed_worker_strands_no_email_and_sends_none_twice(
    app, fake, signer, monkeypatch, kind, where
):
    client = app.test_client()
    with app.app_context():
        message, work = EMAILS[kind](app, client, fake)
        before = _received(fake, kind)
        _dies_during(monkeypatch, where, work)
        sent_before_death = _received(fake, kind) - before
        assert sent_before_death == (0 if where == "before the send" else 1)
        if sent_before_death:
            _report_taken(client, signer, message, kind)

        # Within the lease nobody takes the job: the dead worker might still be sending.
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS - 1))
        _sweep_and_work()
        assert _received(fake, kind) - before == sent_before_death

        clock.advance(dt.timedelta(seconds=2))
        _sweep_and_work()
        _sweep_and_work()  # and again: a job done stays done
        assert _received(fake, kind) - before == 1
        job = next(j for j in email_jobs.JOBS if kind in j.kinds)
        row = _refresh(message)
        assert getattr(row, job.sent.key) is not None
        assert getattr(row, job.claimed.key) is None


def test_the_window_sendgrid_took_it_but_no_event_came_is_sent_again(app, fake, monkeypatch):
    """The documented at-least-once window (docs/RELIABILITY.md): no event by the lease's end."""
    client = app.test_client()
    with app.app_context():
        message, work = _due_confirmation(app, client, fake)
        _dies_during(monkeypatch, "after the 202", work)
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        _sweep_and_work()
        assert _received(fake, "confirmation") == 2
        assert _refresh(message).confirmation_sent_at is not None


def test_a_failed_send_is_given_back_at_once_and_retried_by_the_sweep(app, fake):
    client = app.test_client()
    with app.app_context():
        message, work = _due_confirmation(app, client, fake)
        fake.answer(500)
        assert not work()
        row = _refresh(message)
        assert row.confirmation_sent_at is None and row.confirmation_claimed_until is None
        clock.advance(dt.timedelta(seconds=app.config["SWEEP_QUEUED_AFTER_SECONDS"] + 1))
        _sweep_and_work()
        assert _received(fake, "confirmation") == 1


def test_an_edit_while_the_old_link_is_on_its_way_still_gets_its_own_link(app, fake):
    """The old send finishing must not mark the new confirmation done."""
    client = app.test_client()
    with app.app_context():
        message = _write_email_letter(client)
        held = email_jobs.claim(email_jobs.CONFIRMATION, message.id)
        assert held is not None
        # The supporter edits their letter: a fresh confirmation is due.
        row = _refresh(message)
        row.personal_note += " And one more thing."
        assert renew_confirmation(row)
        # The first worker's send now completes and records against its old lease.
        email_jobs.record(email_jobs.CONFIRMATION, message.id, held)
        assert _refresh(message).confirmation_sent_at is None
        assert notices.send_confirmation(message.id)


# --- the edges of the lease rules (each fails on a small change to email_jobs.py) ------------


def test_a_failed_send_gives_back_only_its_own_letters_job(app, fake):
    client = app.test_client()
    with app.app_context():
        first, work = _due_confirmation(app, client, fake)
        second = _write_email_letter(client, email="someone.else@example.org")
        held = email_jobs.claim(email_jobs.CONFIRMATION, second.id)
        assert held is not None
        fake.answer(500)
        assert not work()  # the first letter's send fails and is given back...
        assert _refresh(second).confirmation_claimed_until == held  # ...and only it
        assert _refresh(first).confirmation_claimed_until is None


def test_an_event_for_one_letter_settles_no_other(app, fake, signer, monkeypatch):
    client = app.test_client()
    with app.app_context():
        reported, work = _due_confirmation(app, client, fake)
        _dies_during(monkeypatch, "after the 202", work)
        other = _write_email_letter(client, email="someone.else@example.org")
        assert email_jobs.claim(email_jobs.CONFIRMATION, other.id) is not None  # then died
        _report_taken(client, signer, reported, "confirmation")
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        assert sweeper.sweep().emails_recovered_as_sent == 1
        assert _refresh(reported).confirmation_sent_at is not None
        assert _refresh(other).confirmation_sent_at is None


def test_jobs_of_every_kind_settled_in_one_sweep_are_all_counted(app, fake, signer, monkeypatch):
    client = app.test_client()
    with app.app_context():
        for kind in ("receipt", "failure"):
            message, work = EMAILS[kind](app, client, fake, email=f"{kind}@example.org")
            fake.answer(default=202)
            _dies_during(monkeypatch, "after the 202", work)
            _report_taken(client, signer, message, kind)
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        assert sweeper.sweep().emails_recovered_as_sent == 2


def test_at_the_very_end_of_its_lease_a_job_is_still_held(app, fake, monkeypatch):
    client = app.test_client()
    with app.app_context():
        message, work = _due_confirmation(app, client, fake)
        _dies_during(monkeypatch, "before the send", work)
        held_until = _refresh(message).confirmation_claimed_until
        clock.freeze(held_until)
        assert message.id not in sweeper.sweep().to_confirm
        clock.freeze(held_until + dt.timedelta(microseconds=1))
        assert message.id in sweeper.sweep().to_confirm


def test_at_the_very_end_of_its_lease_a_reported_email_is_still_its_workers(
    app, fake, signer, monkeypatch
):
    client = app.test_client()
    with app.app_context():
        message, work = _due_confirmation(app, client, fake)
        _dies_during(monkeypatch, "after the 202", work)
        _report_taken(client, signer, message, "confirmation")
        held_until = _refresh(message).confirmation_claimed_until
        clock.freeze(held_until)
        assert sweeper.sweep().emails_recovered_as_sent == 0
        assert _refresh(message).confirmation_sent_at is None
        clock.freeze(held_until + dt.timedelta(microseconds=1))
        assert sweeper.sweep().emails_recovered_as_sent == 1
        assert _refresh(message).confirmation_sent_at is not None


def _renewed_confirmation(client, signer, after: dt.timedelta = dt.timedelta()) -> Message:
    """A letter whose first confirmation SendGrid reported taken, edited `after` later, so
    that a new confirmation is due."""
    message = _write_email_letter(client)
    assert notices.send_confirmation(message.id)
    _report_taken(client, signer, message, "confirmation")
    clock.advance(after)
    row = _refresh(message)
    row.personal_note += " And one more thing."
    assert renew_confirmation(row)
    return message


def test_a_renewed_confirmation_is_not_taken_as_sent_for_the_event_of_the_one_before(
    app, fake, signer
):
    client = app.test_client()
    with app.app_context():
        message = _renewed_confirmation(client, signer)
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        assert sweeper.sweep().emails_recovered_as_sent == 0
        assert _refresh(message).confirmation_sent_at is None
        _sweep_and_work()
        assert _received(fake, "confirmation") == 2


def test_a_renewed_confirmation_whose_worker_died_is_sent_again_not_settled_by_the_old_event(
    app, fake, signer, monkeypatch
):
    """Found by mutation testing: the first confirmation's `processed` event must not stand
    for the renewed one, which a worker claimed and died before sending."""
    client = app.test_client()
    with app.app_context():
        message = _renewed_confirmation(client, signer, after=dt.timedelta(minutes=5))
        _dies_during(monkeypatch, "before the send", lambda: notices.send_confirmation(message.id))
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        assert sweeper.sweep().emails_recovered_as_sent == 0
        assert _refresh(message).confirmation_sent_at is None
        _sweep_and_work()
        assert _received(fake, "confirmation") == 2  # the new link reached the supporter
        assert _refresh(message).confirmation_sent_at is not None


def test_a_renewed_confirmation_is_not_settled_by_another_letters_event_during_its_claim(
    app, fake, signer, monkeypatch
):
    """The other letter's email was taken while this one's claim ran; this one's only event
    came before its claim began: only the other is settled."""
    client = app.test_client()
    with app.app_context():
        renewed = _renewed_confirmation(client, signer, after=dt.timedelta(minutes=5))
        _dies_during(monkeypatch, "before the send", lambda: notices.send_confirmation(renewed.id))
        other, work = _due_confirmation(app, client, fake, email="someone.else@example.org")
        _dies_during(monkeypatch, "after the 202", work)
        _report_taken(client, signer, other, "confirmation")
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        assert sweeper.sweep().emails_recovered_as_sent == 1
        assert _refresh(renewed).confirmation_sent_at is None
        assert _refresh(other).confirmation_sent_at is not None


@pytest.mark.parametrize("reaction", ["spamreport", "open", "click"])
def test_a_reaction_to_the_confirmation_before_does_not_settle_the_renewed_one(
    app, fake, signer, monkeypatch, reaction
):
    """An open, a click or a spam report comes whenever its reader acts, long after SendGrid
    took that email: it says nothing of the renewed confirmation, claimed since and never sent."""
    client = app.test_client()
    with app.app_context():
        renewed = _renewed_confirmation(client, signer, after=dt.timedelta(minutes=5))
        _dies_during(monkeypatch, "before the send", lambda: notices.send_confirmation(renewed.id))
        _report_taken(client, signer, renewed, "confirmation", name=reaction)
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        assert sweeper.sweep().emails_recovered_as_sent == 0
        _sweep_and_work()
        assert _received(fake, "confirmation") == 2  # the new link reached the supporter


def test_a_lost_receipt_is_sent_again_though_the_letters_confirmation_was_reported(
    app, fake, signer, monkeypatch
):
    """Only an event of the receipt itself shows that SendGrid took the receipt."""
    client = app.test_client()
    with app.app_context():
        message, work = _due_receipt(app, client, fake)
        _report_taken(client, signer, message, "confirmation")
        _dies_during(monkeypatch, "before the send", work)
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        assert sweeper.sweep().emails_recovered_as_sent == 0
        _sweep_and_work()
        assert _received(fake, "receipt") == 1
        assert _refresh(message).receipt_sent_at is not None


def test_a_claim_takes_one_letters_job_once(app, fake):
    client = app.test_client()
    with app.app_context():
        first = _write_email_letter(client)
        second = _write_email_letter(client, email="someone.else@example.org")
        held = email_jobs.claim(email_jobs.CONFIRMATION, first.id)
        assert held is not None
        assert email_jobs.claim(email_jobs.CONFIRMATION, first.id) is None  # held: not again
        assert _refresh(second).confirmation_claimed_until is None  # the other is untouched


def test_a_worker_late_past_its_lease_gives_back_only_its_own_claim(app, fake):
    """Its send failed after its lease ran out and another worker took the job: that worker
    keeps it, so no third one sends the email at the same time."""
    client = app.test_client()
    with app.app_context():
        message = _write_email_letter(client)
        late = email_jobs.claim(email_jobs.CONFIRMATION, message.id)
        assert late is not None
        clock.advance(dt.timedelta(seconds=LEASE_SECONDS + 1))
        current = email_jobs.claim(email_jobs.CONFIRMATION, message.id)
        assert current is not None
        email_jobs.release(email_jobs.CONFIRMATION, message.id, late)
        assert _refresh(message).confirmation_claimed_until == current
        assert email_jobs.claim(email_jobs.CONFIRMATION, message.id) is None


def test_no_receipt_for_a_letter_gone_removed_or_whose_email_cannot_be_made(app, fake, caplog):
    import logging
    import uuid

    from tests import factories

    with app.app_context():
        assert not notices.send_receipt(uuid.uuid4())  # erased before its task ran
        assert not notices.notify_failure(uuid.uuid4())
        removed = factories.message(
            delivery="email", state="sent", sent_at=clock.now(), scrubbed_at=clock.now()
        )
        assert not notices.send_receipt(removed.id)
        broken = factories.message(
            delivery="email", state="sent", sent_at=clock.now(), campaign_key="since-removed"
        )
        with caplog.at_level(logging.ERROR, logger=notices.log.name):
            assert not notices.send_receipt(broken.id)
        assert broken.receipt_claimed_until is None  # nothing held: the sweep may try again
        # The log says which email and which letter, for whoever fixes the campaign file.
        (logged,) = [r for r in caplog.records if r.name == notices.log.name]
        assert logged.getMessage() == "could not build the receipt"
        assert logged.message_id == str(broken.id)
    assert _received(fake, "receipt") == 0


@pytest.mark.parametrize(
    "meanwhile", [{"state": "bounced"}, {"scrubbed_at": "now"}], ids=["bounced", "removed"]
)
def test_a_letter_that_bounces_or_is_removed_while_its_receipt_is_made_gets_none(
    app, fake, monkeypatch, meanwhile
):
    from sqlalchemy import update

    from letters.extensions import db
    from tests import factories

    with app.app_context():
        letter = factories.message(delivery="email", state="sent", sent_at=clock.now())
        build = notices.receipt_email

        def slow_build(message):
            email = build(message)
            values = {k: clock.now() if v == "now" else v for k, v in meanwhile.items()}
            db.session.execute(update(Message).where(Message.id == letter.id).values(values))
            db.session.commit()
            return email

        monkeypatch.setattr(notices, "receipt_email", slow_build)
        assert not notices.send_receipt(letter.id)
    assert _received(fake, "receipt") == 0


@pytest.mark.parametrize(
    ("job", "states", "at"),
    [("receipt", ("sent", "delivered"), "sent_at"), ("notice", ("failed", "bounced"), "failed_at")],
)
def test_the_sweep_retries_a_receipt_or_notice_from_when_it_is_stale_for_two_days(
    app, job, states, at
):
    from tests import factories

    now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    stale = now - dt.timedelta(seconds=app.config["SWEEP_QUEUED_AFTER_SECONDS"])
    window = now - notices.RECEIPT_RETRY_FOR
    second = dt.timedelta(seconds=1)
    with app.app_context():

        def letter(when: dt.datetime, state: str = states[0], **fields: object) -> Message:
            return factories.message(delivery="email", state=state, **{at: when}, **fields)

        due = [letter(stale - second), letter(window, state=states[1])]
        not_due = [
            letter(stale),  # its own worker may still be sending it
            letter(now),
            letter(window - second),  # tried for two days: left
            letter(stale - second, state="queued"),
            letter(stale - second, scrubbed_at=now),
            letter(stale - second, receipt_sent_at=now, failure_notice_sent_at=now),
        ]
        found = sweeper.sweep(now)
        listed = found.to_receipt if job == "receipt" else found.to_notify
        assert sorted(listed) == sorted(m.id for m in due)
        assert not {m.id for m in not_due} & set(found.to_receipt + found.to_notify)
