"""Did the member reply? Asking the supporter after their letter went, and recording the answer.

An emailed letter that SendGrid accepted gets one question FOLLOWUP_AFTER_DAYS after it was
sent, one reminder FOLLOWUP_REMINDER_DAYS later if unanswered, and, after "no reply yet", one
more question FOLLOWUP_AGAIN_DAYS later. Nothing after an answer, after "don't ask me again",
or for a letter that never went (failed, bounced, expired, never confirmed) or whose details
were removed.

Each email is sent under a lease: one conditional UPDATE takes the row while its lease is free
or ran out, the email goes, then its column (asked_at...) is recorded and the lease cleared.
A worker killed between the two leaves a lease that runs out, and the next run sends again:
at least once, never "marked as sent" before it was.

Printed letters at events are not asked: attendees give no consent to be emailed afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum

from flask import current_app, render_template
from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from letters import clock
from letters.campaigns import get_campaign
from letters.domain.lifecycle import State
from letters.extensions import db
from letters.mail import Address, OutgoingEmail
from letters.mail.content import public_url
from letters.mail.mailer import get_mailer
from letters.models import FollowUp, Message

log = logging.getLogger(__name__)


class Answer(StrEnum):
    """What the supporter says came back."""

    REAL = "real"
    ACKNOWLEDGEMENT = "acknowledgement"
    NO_REPLY = "no_reply"
    RATHER_NOT_SAY = "rather_not_say"


ANSWER_LABELS: dict[Answer, str] = {
    Answer.REAL: "Yes, a real answer",
    Answer.ACKNOWLEDGEMENT: "Only an acknowledgement",
    Answer.NO_REPLY: "No reply yet",
    Answer.RATHER_NOT_SAY: "I'd rather not say",
}


class Ask(StrEnum):
    """The follow-up emails, each named by the column that records it."""

    FIRST = "asked_at"
    REMINDER = "reminded_at"
    AGAIN = "asked_again_at"


# Letters SendGrid took and did not hand back: a bounce or drop means it never arrived.
ASKED_STATES = (State.SENT.value, State.DELIVERED.value)
# One run sends at most this many; the next run (seconds or an hour later) takes the rest.
BATCH = 200
REPLY_LIMIT = 20_000


def _days(setting: str) -> dt.timedelta:
    return dt.timedelta(days=float(current_app.config[setting]))


def _still_asked() -> ColumnElement[bool]:
    """The letter can still be asked about: it went, and its sender's address is kept."""
    return exists().where(
        Message.id == FollowUp.message_id,
        Message.delivery == "email",
        Message.state.in_(ASKED_STATES),
        Message.sent_at.is_not(None),
        Message.scrubbed_at.is_(None),
        Message.sender_email != "",
    )


def _due(ask: Ask, now: dt.datetime) -> ColumnElement[bool]:
    """Whether a follow_up row is due for `ask` at `now` (the lease aside)."""
    open_question = and_(FollowUp.stop_asking.is_(False), _still_asked())
    if ask is Ask.FIRST:
        return and_(open_question, FollowUp.asked_at.is_(None), FollowUp.answer == "")
    if ask is Ask.REMINDER:
        return and_(
            open_question,
            FollowUp.answer == "",
            FollowUp.asked_at <= now - _days("FOLLOWUP_REMINDER_DAYS"),
            FollowUp.reminded_at.is_(None),
        )
    return and_(
        open_question,
        FollowUp.answer == Answer.NO_REPLY.value,
        FollowUp.answered_at <= now - _days("FOLLOWUP_AGAIN_DAYS"),
        FollowUp.asked_again_at.is_(None),
    )


def _lease_free(now: dt.datetime) -> ColumnElement[bool]:
    return or_(FollowUp.claimed_until.is_(None), FollowUp.claimed_until < now)


def _newly_due(now: dt.datetime) -> ColumnElement[bool]:
    """Letters whose first question is due and that have no follow_up row yet."""
    return and_(
        Message.delivery == "email",
        Message.state.in_(ASKED_STATES),
        Message.sent_at <= now - _days("FOLLOWUP_AFTER_DAYS"),
        Message.scrubbed_at.is_(None),
        Message.sender_email != "",
        ~exists().where(FollowUp.message_id == Message.id),
    )


def open_rows(now: dt.datetime) -> int:
    """Make the follow_up row of every letter whose first question is now due; how many."""
    statement = (
        insert(FollowUp)
        .from_select(
            ["message_id", "created_at"],
            select(Message.id, literal(now, FollowUp.created_at.type)).where(_newly_due(now)),
        )
        .returning(FollowUp.message_id)
    )
    try:
        made = len(db.session.execute(statement).all())
        db.session.commit()
    except IntegrityError:
        # Another run opened some of them in between; the next run opens any still missing.
        db.session.rollback()
        return 0
    return int(made)


@dataclass
class Pending:
    """How many follow-up emails are due now (what a run would send)."""

    first: int = 0
    reminders: int = 0
    again: int = 0


def pending(now: dt.datetime | None = None) -> Pending:
    """Count what is due, changing nothing (`letters housekeeping --dry-run`).

    Everything due: a run sends up to BATCH of it, and the next run the rest.
    """
    now = now or clock.now()
    new = db.session.scalar(select(func.count()).select_from(Message).where(_newly_due(now)))

    def count(ask: Ask) -> int:
        return int(
            db.session.scalar(
                select(func.count()).select_from(FollowUp).where(_due(ask, now), _lease_free(now))
            )
            or 0
        )

    return Pending(
        first=int(new or 0) + count(Ask.FIRST),
        reminders=count(Ask.REMINDER),
        again=count(Ask.AGAIN),
    )


def due(now: dt.datetime | None = None, limit: int = BATCH) -> list[tuple[uuid.UUID, Ask]]:
    """The follow-up emails due now whose lease is free, oldest letters first."""
    now = now or clock.now()
    found: list[tuple[uuid.UUID, Ask]] = []
    for ask in Ask:
        rows = db.session.scalars(
            select(FollowUp.message_id)
            .where(_due(ask, now), _lease_free(now))
            .order_by(FollowUp.created_at)
            .limit(limit - len(found))
        ).all()
        found.extend((message_id, ask) for message_id in rows)
        if len(found) >= limit:
            break
    db.session.commit()
    return found


def claim(message_id: uuid.UUID, ask: Ask, now: dt.datetime | None = None) -> bool:
    """Take the lease for one follow-up email, if it is still due and nobody holds it."""
    now = now or clock.now()
    lease = dt.timedelta(seconds=float(current_app.config["SEND_LEASE_SECONDS"]))
    taken = db.session.execute(
        update(FollowUp)
        .where(FollowUp.message_id == message_id, _due(ask, now), _lease_free(now))
        .values(claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return taken.rowcount == 1


def _finish(message_id: uuid.UUID, ask: Ask, *, sent: bool) -> None:
    """Record the email as sent (or give the lease back); the lease ends either way."""
    values: dict[str, object] = {"claimed_until": None}
    if sent:
        values[ask.value] = clock.now()
    db.session.execute(
        update(FollowUp)
        .where(FollowUp.message_id == message_id, getattr(FollowUp, ask.value).is_(None))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def followup_email(message: Message, ask: Ask) -> OutgoingEmail:
    """The short question, from the campaign, with one link per answer."""
    campaign = get_campaign(message.campaign_key)
    member = f"{message.member_name} MP" if message.member_name else "your MP"
    links = [
        (label, public_url("supporter.followup", token=message.token, answer=answer.value))
        for answer, label in ANSWER_LABELS.items()
    ]
    context = {
        "campaign": campaign,
        "member": member,
        "campaign_title": campaign.title,
        "sender_name": message.sender_name,
        "links": links,
        "ask": ask.name.lower(),
        "stop_url": public_url("supporter.followup_stop", token=message.token),
        "letter_url": public_url("supporter.letter", token=message.token),
    }
    reply_to = current_app.config["FOLLOWUP_REPLY_TO"]
    return OutgoingEmail(
        kind="followup",
        message_id=message.id,
        sender=Address(current_app.config["FROM_EMAIL"], campaign.title),
        to=(Address(message.sender_email, message.sender_name),),
        reply_to=Address(reply_to, campaign.title) if reply_to else None,
        subject=("Reminder: " if ask is Ask.REMINDER else "")
        + f"Did {member} reply to your letter about {campaign.title}?",
        text=render_template("email/followup.txt", **context),
        html="",
        category=campaign.key,
    )


def send_one(message_id: uuid.UUID, ask: Ask) -> bool:
    """Claim, send and record one follow-up email; False when not sent (now)."""
    message = db.session.get(Message, message_id)
    if message is None:
        return False
    try:
        email = followup_email(message, ask)
    except Exception:
        log.exception("could not build the follow-up for %s", message_id)
        return False
    if not claim(message_id, ask):
        return False
    try:
        result = get_mailer().send(email)
    except Exception:
        log.exception("follow-up for %s could not be sent", message_id)
        _finish(message_id, ask, sent=False)
        return False
    if not result.accepted:
        log.warning("follow-up for %s not sent: %s", message_id, result.reason)
    _finish(message_id, ask, sent=result.accepted)
    return result.accepted


@dataclass
class Run:
    """What one run of the follow-ups did."""

    opened: int = 0
    first: int = 0
    reminders: int = 0
    again: int = 0
    not_sent: int = 0


def send_due(now: dt.datetime | None = None) -> Run:
    """Periodic: open the rows now due and send every follow-up email due (up to BATCH)."""
    now = now or clock.now()
    run = Run(opened=open_rows(now))
    for message_id, ask in due(now):
        if not send_one(message_id, ask):
            run.not_sent += 1
        elif ask is Ask.FIRST:
            run.first += 1
        elif ask is Ask.REMINDER:
            run.reminders += 1
        else:
            run.again += 1
    return run


# --- Answers ------------------------------------------------------------------------------


def follow_up_of(message: Message) -> FollowUp | None:
    """The letter's follow-up row, if it was ever asked about."""
    return db.session.get(FollowUp, message.id)


def may_answer(row: FollowUp) -> bool:
    """Whether an answer can still be recorded: none yet, or only "no reply yet"."""
    return row.asked_at is not None and row.answer in ("", Answer.NO_REPLY.value)


def record_answer(
    message_id: uuid.UUID, answer: Answer, *, reply_text: str = "", share: bool = False
) -> bool:
    """Record the supporter's answer, once; True when this call recorded it.

    "No reply yet" is the one answer a later one may replace (the member may still reply);
    any other stands. One conditional UPDATE, so a double press records one answer.
    """
    reply_text = reply_text.strip()[:REPLY_LIMIT]
    open_answer = FollowUp.answer == ""
    if answer is not Answer.NO_REPLY:
        open_answer = or_(open_answer, FollowUp.answer == Answer.NO_REPLY.value)
    recorded = db.session.execute(
        update(FollowUp)
        .where(FollowUp.message_id == message_id, FollowUp.asked_at.is_not(None), open_answer)
        .values(
            answer=answer.value,
            answered_at=clock.now(),
            reply_text=reply_text,
            reply_shared=share and bool(reply_text),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return recorded.rowcount == 1


def stop_asking(message_id: uuid.UUID) -> bool:
    """ "Don't ask me again": no more follow-up emails about this letter. Idempotent."""
    stopped = db.session.execute(
        update(FollowUp)
        .where(FollowUp.message_id == message_id)
        .values(stop_asking=True)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return stopped.rowcount == 1
