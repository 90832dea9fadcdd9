"""How often one mailbox is written for: one email letter a week to a member, a few emails a day.

Both count by mailbox (letters.mail.address_keys), so respelling an address changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.orm import aliased

from letters import clock
from letters.domain.lifecycle import State
from letters.extensions import db
from letters.models import AddressEmail, Message

REPEAT_WINDOW = dt.timedelta(days=7)
# Letters that went, or are on their way, to the member. Drafts, letters never confirmed
# (awaiting, expired) and letters that failed before reaching anyone do not count: anyone can
# type someone else's address, and that must never stop its owner writing.
COUNTED = (
    State.QUEUED.value,
    State.SENDING.value,
    State.SENT.value,
    State.DELIVERED.value,
    State.BOUNCED.value,
    State.DROPPED.value,
    State.SPAM_REPORTED.value,
)
EMAIL_WINDOW = dt.timedelta(days=1)


def earlier_letter(message: Message) -> Message | None:
    """The letter this mailbox already sent this member in this campaign within 7 days."""
    if not message.sender_email_key:
        return None
    query = (
        select(Message)
        .where(
            Message.campaign_key == message.campaign_key,
            Message.sender_email_key == message.sender_email_key,
            func.lower(Message.division) == message.division.lower(),
            Message.delivery == "email",
            Message.state.in_(COUNTED),
            Message.confirmed_at >= clock.now() - REPEAT_WINDOW,
        )
        .order_by(Message.confirmed_at)
        .limit(1)
    )
    if message.id is not None:
        query = query.where(Message.id != message.id)
    return db.session.scalars(query).first()


def repeats_a_letter(since: Any) -> ColumnElement[bool]:
    """SQL: the message being updated would be this week's second letter (see earlier_letter),
    counting letters confirmed from `since` (the start of the window, or a bindparam for it)."""
    other = aliased(Message)
    return exists().where(
        other.campaign_key == Message.campaign_key,
        other.sender_email_key == Message.sender_email_key,
        func.lower(other.division) == func.lower(Message.division),
        other.delivery == "email",
        other.state.in_(COUNTED),
        other.confirmed_at >= since,
        other.id != Message.id,
    )


def _address_hash(key: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def emails_today(key: str) -> int:
    """How many confirmations and notices this mailbox was sent in the last 24 hours."""
    since = clock.now() - EMAIL_WINDOW
    return db.session.scalar(
        select(func.count())
        .select_from(AddressEmail)
        .where(AddressEmail.address_hash == _address_hash(key), AddressEmail.created_at >= since)
    )


def may_email(key: str) -> bool:
    """Whether the form may send this mailbox another email today."""
    return emails_today(key) < current_app.config["EMAILS_PER_ADDRESS_PER_DAY"]


def record_email(key: str, kind: str) -> None:
    """Count one email to this mailbox, in the caller's transaction; forget ones a day old."""
    now = clock.now()
    db.session.execute(delete(AddressEmail).where(AddressEmail.created_at < now - EMAIL_WINDOW))
    db.session.add(AddressEmail(address_hash=_address_hash(key), kind=kind, created_at=now))
