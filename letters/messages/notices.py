"""The emails a supporter gets about their letter: the confirmation link (or the weekly-limit
notice), the one reminder, the failure notice and the receipt. Each is a job on the letter's
row, claimed under a lease and recorded only once SendGrid took it (email_jobs.py)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

from letters.domain.lifecycle import State
from letters.extensions import db
from letters.mail import OutgoingEmail
from letters.mail.content import (
    confirmation_email,
    failure_email,
    letter_digest,
    receipt_email,
    weekly_notice_email,
)
from letters.messages import email_jobs
from letters.messages.email_jobs import CONFIRMATION, FAILURE_NOTICE, RECEIPT, REMINDER
from letters.messages.limits import earlier_letter
from letters.models import Message

log = logging.getLogger(__name__)
# A receipt goes once SendGrid has the letter; after a bounce the failure notice says more.
RECEIPT_STATES = (State.SENT.value, State.DELIVERED.value)
# The sweep retries a receipt that could not go for this long, then leaves it.
RECEIPT_RETRY_FOR = dt.timedelta(days=2)


# The states whose letter could not be emailed, which the supporter hears about once.
FAILED_STATES = (State.FAILED.value, State.BOUNCED.value, State.DROPPED.value)


def send_confirmation(message_id: uuid.UUID, *, reminder: bool = False) -> bool:
    """Email the address its confirmation link (once; or the one reminder).

    A letter over the weekly limit gets a notice instead, with no link: it cannot be confirmed.
    """
    job = REMINDER if reminder else CONFIRMATION
    message = db.session.get(Message, message_id)
    if message is None or message.state != State.AWAITING_CONFIRMATION:
        return False
    if getattr(message, job.sent.key) is not None:
        return False
    if reminder and (message.confirmation_sent_at is None or message.over_weekly_limit):
        return False
    seen = {"digest": message.confirmation_digest, "over": message.over_weekly_limit}
    # Built before the job is taken, so an email that cannot be built takes nothing: the
    # sweep finds the job again.
    try:
        digest = letter_digest(message)
        # Asked again now: the mailbox may have sent (or failed to send) a letter since.
        earlier = earlier_letter(message)
        if earlier is not None and reminder:
            email = None  # no reminder for a letter that cannot be sent; the job is done
        elif earlier is not None:
            email = weekly_notice_email(message, earlier)
        else:
            email = confirmation_email(message, digest, reminder=reminder)
    except Exception:
        log.exception("could not build the confirmation", extra={"message_id": str(message_id)})
        return False
    # Take the job, so two workers never both email the supporter; only for the letter as
    # it was read, or an edit in between would get this (older) link.
    taken = email_jobs.claim(
        job,
        message_id,
        Message.state == State.AWAITING_CONFIRMATION.value,
        Message.confirmation_digest == seen["digest"],
        Message.over_weekly_limit.is_(seen["over"]),
        confirmation_digest=digest,
        over_weekly_limit=earlier is not None,
    )
    if taken is None:
        return False
    if email is None:
        email_jobs.record(job, message_id, taken)  # nothing to send: the job is done
        return False
    return email_jobs.send(job, email, message_id, taken)


def _send_once(
    job: email_jobs.Job,
    message_id: uuid.UUID,
    states: tuple[str, ...],
    build: Callable[[Message], OutgoingEmail],
) -> bool:
    """An email about a letter in one of `states` whose details are kept, sent once."""
    message = db.session.get(Message, message_id)
    if message is None or message.state not in states or getattr(message, job.sent.key):
        return False
    if message.scrubbed_at is not None:
        return False
    try:
        email = build(message)
    except Exception:
        log.exception("could not build the %s", job.name, extra={"message_id": str(message_id)})
        return False
    taken = email_jobs.claim(
        job, message_id, Message.state.in_(states), Message.scrubbed_at.is_(None)
    )
    return taken is not None and email_jobs.send(job, email, message_id, taken)


def notify_failure(message_id: uuid.UUID) -> bool:
    """Tell the supporter, once, that their letter could not be emailed."""
    return _send_once(FAILURE_NOTICE, message_id, FAILED_STATES, failure_email)


def send_receipt(message_id: uuid.UUID) -> bool:
    """Send the supporter, once, a copy of the letter that went: when, and to whom."""
    return _send_once(RECEIPT, message_id, RECEIPT_STATES, receipt_email)
