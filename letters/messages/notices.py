"""The emails a supporter gets about their letter: the confirmation link (or the weekly-limit
notice), the failure notice and the receipt. Each is sent once: a worker claims its column."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import update

from letters import clock
from letters.domain.lifecycle import State
from letters.extensions import db
from letters.mail import OutgoingEmail, SendResult
from letters.mail.content import (
    confirmation_email,
    failure_email,
    letter_digest,
    receipt_email,
    weekly_notice_email,
)
from letters.mail.mailer import get_mailer
from letters.messages.limits import earlier_letter
from letters.models import Message

log = logging.getLogger(__name__)
# A receipt goes once SendGrid has the letter; after a bounce the failure notice says more.
RECEIPT_STATES = (State.SENT.value, State.DELIVERED.value)
# The sweep retries a receipt that could not go for this long, then leaves it.
RECEIPT_RETRY_FOR = dt.timedelta(days=2)


def _send_or_release(email: OutgoingEmail, message_id: uuid.UUID, column: Any) -> bool:
    """Send an email whose job this worker claimed in `column`; give the job back if it fails."""
    try:
        result = get_mailer().send(email)
    except Exception:
        log.exception("%s email for %s could not be sent", email.kind, message_id)
        result = SendResult(accepted=False, reason="the email could not be sent")
    if result.accepted:
        return True
    # Give the job back: the sweep tries again later.
    log.warning("%s email for %s not sent: %s", email.kind, message_id, result.reason)
    db.session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values({column.key: None})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return False


def send_confirmation(message_id: uuid.UUID, *, reminder: bool = False) -> bool:
    """Email the address its confirmation link (once; or the one reminder).

    A letter over the weekly limit gets a notice instead, with no link: it cannot be confirmed.
    """
    column = Message.reminder_sent_at if reminder else Message.confirmation_sent_at
    message = db.session.get(Message, message_id)
    if message is None or message.state != State.AWAITING_CONFIRMATION:
        return False
    if getattr(message, column.key) is not None:
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
        log.exception("could not build the confirmation for %s", message_id)
        return False
    # Take the job, so two workers never both email the supporter; only for the letter as
    # it was read, or an edit in between would get this (older) link.
    taken = db.session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.state == State.AWAITING_CONFIRMATION.value,
            column.is_(None),
            Message.confirmation_digest == seen["digest"],
            Message.over_weekly_limit.is_(seen["over"]),
        )
        .values(
            {
                column.key: clock.now(),
                "confirmation_digest": digest,
                "over_weekly_limit": earlier is not None,
            }
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount != 1 or email is None:
        return False
    return _send_or_release(email, message_id, column)


def notify_failure(message_id: uuid.UUID) -> bool:
    """Tell the supporter, once, that their letter could not be emailed."""
    taken = db.session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.state.in_([State.FAILED.value, State.BOUNCED.value, State.DROPPED.value]),
            Message.failure_notice_sent_at.is_(None),
        )
        .values(failure_notice_sent_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount != 1:
        return False
    message = db.session.get(Message, message_id)
    assert message is not None
    return get_mailer().send(failure_email(message)).accepted


def send_receipt(message_id: uuid.UUID) -> bool:
    """Send the supporter, once, a copy of the letter that went: when, and to whom."""
    message = db.session.get(Message, message_id)
    if message is None or message.state not in RECEIPT_STATES or message.receipt_sent_at:
        return False
    if message.scrubbed_at is not None:
        return False
    try:
        email = receipt_email(message)
    except Exception:
        log.exception("could not build the receipt for %s", message_id)
        return False
    taken = db.session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.state.in_(RECEIPT_STATES),
            Message.receipt_sent_at.is_(None),
            Message.scrubbed_at.is_(None),
        )
        .values(receipt_sent_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount != 1:
        return False
    return _send_or_release(email, message_id, Message.receipt_sent_at)
