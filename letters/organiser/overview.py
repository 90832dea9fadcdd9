"""What organisers see of supporters' letters: per member, counts and form-letter share,
and what supporters told us came back (follow-up answers, and the replies they shared).

Only counts and states, never a supporter's details: organisers don't own these letters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, func, or_, select, union_all

from letters import clock
from letters.contacts import contact_for
from letters.domain.lifecycle import State
from letters.extensions import db
from letters.messages.own_words import form_letter, per_letter_overlap
from letters.models import Attendee, ContactStatus, Event, FollowUp, Message

WINDOW = dt.timedelta(weeks=4)
UNDELIVERED = {State.BOUNCED.value, State.DROPPED.value, State.FAILED.value}


@dataclass
class MemberRow:
    """One member's letters in the last four weeks."""

    division: str
    member: str
    letters: int = 0
    printed: int = 0
    emailed: int = 0
    delivered: int = 0
    undelivered: int = 0
    near_identical: int = 0
    email: str = ""
    email_verified: bool = False
    email_failing: str = ""  # why, when a hard bounce marked the address as failing

    @property
    def near_identical_share(self) -> float:
        return self.near_identical / self.letters if self.letters else 0.0


def members_overview(now: dt.datetime | None = None) -> list[MemberRow]:
    """Every member written to in the last four weeks, most letters first."""
    since = (now or clock.now()) - WINDOW
    rows: dict[str, MemberRow] = {}
    overlaps = per_letter_overlap(since)
    for division, member, delivery, state, copied in db.session.execute(
        select(
            Message.division,
            Message.member_name,
            Message.delivery,
            Message.state,
            case((form_letter(overlaps), True), else_=False),
        )
        .outerjoin(overlaps, overlaps.c.message_id == Message.id)
        .where(Message.created_at >= since, Message.state != State.EXPIRED.value)
    ):
        row = rows.setdefault(division, MemberRow(division=division, member=member))
        row.letters += 1
        row.printed += delivery == "pdf"
        row.emailed += delivery == "email" and state not in (State.AWAITING_CONFIRMATION.value,)
        row.delivered += state == State.DELIVERED.value
        row.undelivered += state in UNDELIVERED
        row.near_identical += bool(copied)
    failing = {c.division: c for c in db.session.scalars(select(ContactStatus)).all() if c.failing}
    contacts_file = current_app.config["CONTACTS_FILE"]
    for division, row in rows.items():
        contact = contact_for(contacts_file, division, row.member)
        row.email, row.email_verified = contact.email, contact.verified
        if division in failing:
            row.email_failing = failing[division].reason or "hard bounce"
    return sorted(rows.values(), key=lambda r: (-r.letters, r.division))


# --- Replies per member (issue 11): what supporters told us came back -----------------------

# Below this many answers a rate says more about chance than about the member: counts only.
RATE_FROM_ANSWERS = 10


@dataclass
class ReplyRow:
    """One member's follow-up answers, over every letter ever written to them."""

    division: str
    member: str
    letters: int = 0
    asked: int = 0
    answered: int = 0
    real: int = 0
    acknowledgements: int = 0
    no_reply: int = 0
    shared: int = 0
    median_days: float | None = None  # from sending to the supporter's report of a real reply

    @property
    def telling(self) -> int:
        """Answers that say what came back ("I'd rather not say" says nothing)."""
        return self.real + self.acknowledgements + self.no_reply

    @property
    def real_rate(self) -> float | None:
        """The share of telling answers that report a real reply; None below the threshold."""
        if self.telling < RATE_FROM_ANSWERS:
            return None
        return self.real / self.telling


def _days_between(start: Any, end: Any) -> Any:
    """end - start in days, as a number, on the database in use."""
    if db.engine.dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return func.extract("epoch", end - start) / 86400.0


def replies_by_member() -> list[ReplyRow]:
    """Every member written to, with their follow-up answers; counted and ranked in SQL."""
    from letters.messages.followups import Answer

    def answered(*answers: Answer) -> Any:
        return func.count(case((FollowUp.answer.in_([a.value for a in answers]), 1)))

    member = (Message.division, Message.member_name)
    counts = db.session.execute(
        select(
            *member,
            func.count(Message.id),
            func.count(FollowUp.asked_at),
            func.count(case((FollowUp.answer != "", 1))),
            answered(Answer.REAL),
            answered(Answer.ACKNOWLEDGEMENT),
            answered(Answer.NO_REPLY),
            func.count(case((and_(FollowUp.reply_shared, FollowUp.reply_text != ""), 1))),
        )
        .select_from(Message)
        .outerjoin(FollowUp, FollowUp.message_id == Message.id)
        .where(Message.state != State.EXPIRED.value)
        .group_by(*member)
    ).all()

    # The median: each member's real replies numbered in order of days, and the middle one
    # (or the mean of the middle two) taken, in a window query both databases run.
    days = _days_between(Message.sent_at, FollowUp.answered_at).label("days")
    ranked = (
        select(
            *member,
            days,
            func.row_number().over(partition_by=member, order_by=days).label("n"),
            func.count().over(partition_by=member).label("total"),
        )
        .join(FollowUp, FollowUp.message_id == Message.id)
        .where(FollowUp.answer == Answer.REAL.value, Message.sent_at.is_not(None))
        .subquery()
    )
    middle = or_(ranked.c.n == (ranked.c.total + 1) // 2, ranked.c.n == (ranked.c.total + 2) // 2)
    medians = {
        (division, name): float(median)
        for division, name, median in db.session.execute(
            select(ranked.c.division, ranked.c.member_name, func.avg(ranked.c.days))
            .where(middle)
            .group_by(ranked.c.division, ranked.c.member_name)
        )
    }
    rows = [
        ReplyRow(division, name, *numbers, median_days=medians.get((division, name)))
        for division, name, *numbers in counts
    ]
    return sorted(rows, key=lambda r: (-r.answered, -r.letters, r.division))


@dataclass(frozen=True)
class SharedReply:
    """A member's reply a supporter pasted and chose to share: the text and whose it was."""

    division: str
    member: str
    answer: str
    answered_on: dt.date | None  # in the site's time zone
    text: str


def shared_replies(
    division: str | None = None, organiser_id: int | None = None
) -> list[SharedReply]:
    """Replies writers shared with the campaign, newest first; no writer's details.

    Supporters' replies, and those of attendees at `organiser_id`'s own events (who met that
    organiser, as the dashboard counts only an organiser's own events).
    """
    letters = (
        select(
            Message.division,
            Message.member_name,
            FollowUp.answer,
            FollowUp.answered_at,
            FollowUp.reply_text,
        )
        .join(FollowUp, FollowUp.message_id == Message.id)
        .where(FollowUp.reply_shared.is_(True), FollowUp.reply_text != "")
    )
    printed = (
        select(
            Attendee.division,
            Attendee.member_name,
            FollowUp.answer,
            FollowUp.answered_at,
            FollowUp.reply_text,
        )
        .join(FollowUp, FollowUp.attendee_id == Attendee.id)
        .join(Event, Event.id == Attendee.event_id)
        .where(
            FollowUp.reply_shared.is_(True),
            FollowUp.reply_text != "",
            Event.organiser_id == organiser_id,
        )
    )
    if division:
        letters = letters.where(Message.division == division)
        printed = printed.where(Attendee.division == division)
    both = union_all(letters, printed).subquery()
    query = select(both).order_by(both.c.answered_at.desc())
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return [
        SharedReply(division, member, answer, at.astimezone(zone).date() if at else None, text)
        for division, member, answer, at, text in db.session.execute(query)
    ]
