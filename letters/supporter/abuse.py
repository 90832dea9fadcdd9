"""Checks against flooding and form letters: honeypot, fill time, repeats, near-copies."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from letters import clock
from letters.domain.lifecycle import State
from letters.domain.similarity import NEAR_IDENTICAL, shared_fraction
from letters.extensions import db
from letters.models import Message
from letters.supporter.forms import WriteForm

REPEAT_WINDOW = dt.timedelta(days=7)
SIMILARITY_WINDOW = dt.timedelta(weeks=4)
SIMILARITY_SAMPLE = 500  # the most recent letters to the member that a preview compares with
# Letters that never went anywhere do not count as a first letter.
NOT_SENT = (State.DRAFT.value, State.EXPIRED.value, State.FAILED.value)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="letters.write-started")


def started_token() -> str:
    """A signed note of when the form was shown."""
    return _serializer().dumps(int(clock.timestamp()))


def automated(form: WriteForm) -> str | None:
    """Why a submission looks like a bot's (honeypot filled, or faster than a person types)."""
    if form.website.data:
        return "Your letter could not be accepted. Please try again."
    minimum = current_app.config["MIN_FILL_SECONDS"]
    if minimum <= 0:
        return None
    try:
        shown_at = int(_serializer().loads(form.started.data or "", max_age=86_400))
    except (BadSignature, TypeError, ValueError):
        shown_at = None
    if shown_at is None or clock.timestamp() - shown_at < minimum:
        return "That was quick! Please read your letter over, then submit it again."
    return None


def earlier_letter(message: Message, sender_email: str, division: str) -> Message | None:
    """This supporter's letter to this member in this campaign within 7 days, if any."""
    since = clock.now() - REPEAT_WINDOW
    query = (
        select(Message)
        .where(
            Message.campaign_key == message.campaign_key,
            func.lower(Message.sender_email) == sender_email.lower(),
            Message.division == division,
            Message.created_at >= since,
            Message.delivery == "email",
            Message.state.not_in(NOT_SENT),
        )
        .order_by(Message.created_at)
        .limit(1)
    )
    if message.id is not None:
        query = query.where(Message.id != message.id)
    return db.session.scalars(query).first()


def share_with_others(message: Message) -> float:
    """How much of this letter other recent letters to the same member already say."""
    since = clock.now() - SIMILARITY_WINDOW
    others = db.session.scalars(
        select(Message.shingles)
        .where(
            Message.division == message.division,
            Message.campaign_key == message.campaign_key,
            Message.id != message.id,
            Message.created_at >= since,
        )
        .order_by(Message.created_at.desc())
        .limit(SIMILARITY_SAMPLE)
    ).all()
    return shared_fraction(message.shingles or (), others)


def near_identical(share: float) -> bool:
    """WriteToThem's line: half the text or more already sent by others."""
    return share >= NEAR_IDENTICAL
