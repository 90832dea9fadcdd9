"""Sending a confirmed letter to its member: claim under a lease, send once, record."""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import exists, or_, select, update

from letters import clock
from letters.domain.lifecycle import ACCEPTED_EVENTS, State
from letters.extensions import db
from letters.mail import Mailer, SendResult
from letters.mail.content import letter_email
from letters.mail.mailer import get_mailer
from letters.messages.states import move, transition
from letters.models import DeliveryEvent, Message

log = logging.getLogger(__name__)
RETRY_CAP_SECONDS = 3600.0


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt did; retry_in is set when the caller should try again later."""

    state: str
    retry_in: float | None = None
    notify_failure: bool = False
    send_receipt: bool = False


def claim(message_ids: list[uuid.UUID], now: dt.datetime | None = None) -> list[Message]:
    """queued -> sending under a lease, in one statement; returns only the rows this caller got."""
    now = now or clock.now()
    lease = dt.timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    claimed = db.session.scalars(
        transition(State.SENDING, sources={State.QUEUED})
        .where(
            Message.id.in_(message_ids),
            # A retry's wake-up may run a moment early on another machine's clock.
            or_(
                Message.next_attempt_at.is_(None),
                Message.next_attempt_at <= now + dt.timedelta(seconds=1),
            ),
        )
        .values(
            lease_expires_at=now + lease,
            attempts=Message.attempts + 1,
        )
        .returning(Message),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).all()
    db.session.commit()
    return list(claimed)


def already_accepted(message_id: uuid.UUID) -> bool:
    return db.session.scalar(
        select(
            exists().where(
                DeliveryEvent.message_id == message_id,
                DeliveryEvent.kind == "letter",
                DeliveryEvent.event.in_(ACCEPTED_EVENTS),
            )
        )
    )


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: half the step fixed, half random, capped."""
    step = min(
        current_app.config["SEND_RETRY_BASE_SECONDS"] * 2 ** (attempt - 1), RETRY_CAP_SECONDS
    )
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not secrecy


def deliver(message_id: uuid.UUID) -> DeliveryOutcome:
    """Send one queued letter (see deliver_many)."""
    outcome = deliver_many([message_id]).get(message_id)
    if outcome is None:  # someone else has it, or it is not due: report where it stands
        message = db.session.get(Message, message_id)
        return DeliveryOutcome(state=message.state if message else "")
    return outcome


def deliver_many(message_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeliveryOutcome]:
    """Claim the due letters among these, send each once, and record each as it goes."""
    outcomes: dict[uuid.UUID, DeliveryOutcome] = {}
    mailer = get_mailer()
    for message in claim(message_ids):
        outcomes[message.id] = _deliver_claimed(message, mailer)
    return outcomes


def _deliver_claimed(message: Message, mailer: Mailer) -> DeliveryOutcome:
    # Only a send SendGrid took stores its id, so a row that has one was sent by an earlier
    # attempt whose worker outlived its lease: the sweep had put the letter back in the queue
    # before the 202 came, and that worker could only keep the id (_record).
    if message.attempts > 1 and (message.provider_message_id or already_accepted(message.id)):
        # An earlier attempt reached SendGrid but its worker did not record it.
        move(
            message.id,
            State.SENT,
            sources={State.SENDING},
            sent_at=clock.now(),
            lease_expires_at=None,
            failure_reason="",
        )
        return DeliveryOutcome(state=State.SENT.value, send_receipt=True)
    if not message.recipient_email:
        return _fail(message, "no email address is known for this member")
    try:
        email = letter_email(message)
    except Exception:
        log.exception("could not build the email for %s", message.id)
        return _fail(message, "the letter could not be prepared for email")
    # Recorded (and committed) right after each send, so a worker killed mid-batch leaves
    # at most one letter whose fate only the delivery events can tell.
    return _record(message, mailer.send(email))


def _record(message: Message, result: SendResult) -> DeliveryOutcome:
    now = clock.now()
    if result.accepted:
        moved = move(
            message.id,
            State.SENT,
            sources={State.SENDING},
            sent_at=now,
            provider_message_id=result.provider_id[:100],
            lease_expires_at=None,
            failure_reason="",
        )
        if not moved:  # events overtook us (already delivered): keep the provider's id anyway
            _keep_provider_id(message.id, result.provider_id[:100])
        return DeliveryOutcome(state=State.SENT.value, send_receipt=True)
    if not result.retryable:
        return _fail(message, result.reason)
    if message.attempts >= current_app.config["SEND_MAX_ATTEMPTS"]:
        return _fail(message, f"gave up after {message.attempts} attempts; last: {result.reason}")
    delay = backoff_seconds(message.attempts)
    move(
        message.id,
        State.QUEUED,
        sources={State.SENDING},
        next_attempt_at=now + dt.timedelta(seconds=delay),
        lease_expires_at=None,
        failure_reason=f"retrying: {result.reason}"[:1000],
    )
    return DeliveryOutcome(state=State.QUEUED.value, retry_in=delay)


def _keep_provider_id(message_id: uuid.UUID, provider_id: str) -> None:
    """Store SendGrid's id for the message, whatever its state (no state changes)."""
    db.session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(provider_message_id=provider_id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _fail(message: Message, reason: str) -> DeliveryOutcome:
    move(
        message.id,
        State.FAILED,
        sources={State.SENDING},
        failed_at=clock.now(),
        failure_reason=reason[:1000],
        lease_expires_at=None,
    )
    return DeliveryOutcome(state=State.FAILED.value, notify_failure=True)
