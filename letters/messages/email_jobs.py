"""Each email a supporter gets about a letter is a job on the letter's row, done at least once
and, outside one narrow window, exactly once.

A worker claims a job with one conditional UPDATE that sets its lease (`*_claimed_until`), sends,
and only then records it as sent (`*_sent_at`), before any other work. A worker that dies
anywhere in between leaves a lease that runs out; the sweep then finds the job due again. So
nothing is ever marked sent before it was.

The window: a worker killed after SendGrid took the email but before the row records it. When
the lease has run out (SEND_LEASE_SECONDS, far longer than SendGrid usually takes to post its
`processed` event), the sweep first looks for that event: if SendGrid reported the email, the
job is recorded as done and not sent again. Only an email whose event has not arrived by then
is sent a second time (docs/RELIABILITY.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from letters import clock
from letters.extensions import db
from letters.mail import OutgoingEmail, SendResult
from letters.mail.mailer import get_mailer
from letters.models import DeliveryEvent, Message

log = logging.getLogger(__name__)

# SendGrid's events that mean it took an email (a bounce, too, means it was sent). Not opens
# and clicks: they come whenever the reader acts, so one received during a claim may be of an
# earlier email of the job (a confirmation renewed by an edit), not of the claim's own.
TAKEN_EVENTS = ("processed", "delivered", "deferred", "bounce", "dropped")


@dataclass(frozen=True)
class Job:
    """One kind of email about a letter, and the two columns that track it."""

    name: str
    sent: InstrumentedAttribute[Any]
    claimed: InstrumentedAttribute[Any]
    kinds: tuple[str, ...]  # the email kinds (custom_args) that do this job


CONFIRMATION = Job(
    "confirmation",
    Message.confirmation_sent_at,
    Message.confirmation_claimed_until,
    ("confirmation", "notice"),  # a letter over the weekly limit gets the notice instead
)
REMINDER = Job("reminder", Message.reminder_sent_at, Message.reminder_claimed_until, ("reminder",))
RECEIPT = Job("receipt", Message.receipt_sent_at, Message.receipt_claimed_until, ("receipt",))
FAILURE_NOTICE = Job(
    "failure notice",
    Message.failure_notice_sent_at,
    Message.failure_notice_claimed_until,
    ("failure",),
)
JOBS = (CONFIRMATION, REMINDER, RECEIPT, FAILURE_NOTICE)


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])


def claimable(job: Job, now: dt.datetime) -> ColumnElement[bool]:
    """Not done, and nobody holds it (or whoever did has run out of time)."""
    return and_(job.sent.is_(None), or_(job.claimed.is_(None), job.claimed < now))


def claim(
    job: Job, message_id: uuid.UUID, *conditions: ColumnElement[bool], **values: Any
) -> dt.datetime | None:
    """Take the job for this worker, if it is free and `conditions` hold; commits. Returns the
    lease, which names this claim: an edit may reset the job while the email is on its way, and
    a lease that is no longer the row's must not mark the new job done."""
    now = clock.now()
    held_until = now + lease()
    taken = db.session.execute(
        update(Message)
        .where(Message.id == message_id, claimable(job, now), *conditions)
        .values({job.claimed.key: held_until, **values})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return held_until if taken.rowcount == 1 else None


def _ours(job: Job, held_until: dt.datetime) -> ColumnElement[bool]:
    return job.claimed == held_until


def record(job: Job, message_id: uuid.UUID, held_until: dt.datetime) -> None:
    """SendGrid took it: done, and the lease is let go (only while the claim is still ours)."""
    db.session.execute(
        update(Message)
        .where(Message.id == message_id, job.sent.is_(None), _ours(job, held_until))
        .values({job.sent.key: clock.now(), job.claimed.key: None})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def release(job: Job, message_id: uuid.UUID, held_until: dt.datetime) -> None:
    """Give the job back at once (the send failed): the sweep offers it again."""
    db.session.execute(
        update(Message)
        .where(Message.id == message_id, job.sent.is_(None), _ours(job, held_until))
        .values({job.claimed.key: None})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def send(job: Job, email: OutgoingEmail, message_id: uuid.UUID, held_until: dt.datetime) -> bool:
    """Send a claimed job's email; record it when SendGrid took it, else give it back."""
    context = {"message_id": str(message_id)}
    try:
        result = get_mailer().send(email)
    except Exception:
        log.exception("%s email could not be sent", email.kind, extra=context)
        result = SendResult(accepted=False, reason="the email could not be sent")
    if result.accepted:
        record(job, message_id, held_until)
        return True
    log.warning("%s email not sent: %s", email.kind, result.reason, extra=context)
    release(job, message_id, held_until)
    return False


def taken_by_sendgrid(job: Job, since: dt.datetime | None = None) -> ColumnElement[bool]:
    """SendGrid reported an email of this job for the row (the webhook stored the event),
    received `since` then if given."""
    condition = exists().where(
        DeliveryEvent.message_id == Message.id,
        DeliveryEvent.kind.in_(job.kinds),
        DeliveryEvent.event.in_(TAKEN_EVENTS),
    )
    if since is not None:
        condition = condition.where(DeliveryEvent.received_at >= since)
    return condition


def settle_expired(now: dt.datetime) -> int:
    """Jobs whose lease ran out but whose email SendGrid reported: record them as sent, so
    the sweep does not send them again. Returns how many."""
    settled = 0
    for job in JOBS:
        rows = db.session.execute(
            select(Message.id, job.claimed).where(
                job.sent.is_(None), job.claimed < now, taken_by_sendgrid(job)
            )
        ).all()
        for message_id, held_until in rows:
            # Only an event that came after this claim began is this claim's email: a job that
            # is done again (a confirmation renewed by an edit) keeps the earlier email's events.
            claimed_from = held_until - lease()
            ours = db.session.scalar(
                select(Message.id).where(
                    Message.id == message_id, taken_by_sendgrid(job, since=claimed_from)
                )
            )
            if ours is not None:
                record(job, message_id, held_until)
                settled += 1
    return settled
