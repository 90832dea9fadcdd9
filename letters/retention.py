"""Keeping supporters' personal data no longer than needed.

A letter is finished when it is printed (a PDF draft nobody has touched since) or its email
has gone as far as it will (delivered, bounced, failed, expired...). Some weeks after that,
the supporter's name, email, street, suburb and own words are removed; what remains (campaign,
member, postcode, dates, delivery state) is what organisers count.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import and_, func, or_, update

from letters.domain.lifecycle import State
from letters.extensions import db
from letters.models import Message

REMOVED = "(removed)"
# States after which nothing more happens to an email letter (SENT: events may still come,
# but by the time the retention period has passed they will not).
FINISHED = (
    State.SENT.value,
    State.DELIVERED.value,
    State.BOUNCED.value,
    State.DROPPED.value,
    State.SPAM_REPORTED.value,
    State.FAILED.value,
    State.EXPIRED.value,
)


def scrub(now: dt.datetime | None = None) -> int:
    """Remove personal details from letters finished longer ago than the retention period."""
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(days=current_app.config["KEEP_PERSONAL_DATA_DAYS"])
    finished_at = func.coalesce(
        Message.delivered_at, Message.failed_at, Message.sent_at, Message.created_at
    )
    result = db.session.execute(
        update(Message)
        .where(
            Message.scrubbed_at.is_(None),
            or_(
                and_(Message.delivery == "pdf", Message.updated_at < cutoff),
                and_(Message.state.in_(FINISHED), finished_at < cutoff),
            ),
        )
        .values(
            sender_name=REMOVED,
            sender_email="",
            sender_street="",
            sender_suburb="",
            personal_note="",
            shingles=[],
            scrubbed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
