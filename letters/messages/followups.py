"""Did the member reply? Asking the writer after their letter went, and recording the answer.

Two kinds of letter are asked about, through the same code: an emailed letter that SendGrid
accepted (a Message), and a letter printed at an event for an attendee who gave an email and
ticked that they may be asked (an Attendee). Each gets one question FOLLOWUP_AFTER_DAYS after
it was sent (or printed), one reminder FOLLOWUP_REMINDER_DAYS later if unanswered, and, after
"no reply yet", one more question FOLLOWUP_AGAIN_DAYS later. Nothing after an answer, after
"don't ask me again", for a letter that never went (failed, bounced, expired, never confirmed,
never printed), for an attendee who did not agree or gave no email, or once the writer's
details were removed.

Each email is sent under a lease: one conditional UPDATE takes the row while its lease is free
or ran out, the email goes, then its column (asked_at...) is recorded and the lease cleared.
A worker killed between the two leaves a lease that runs out, and the next run sends again:
at least once, never "marked as sent" before it was.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
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
from letters.models import Attendee, Event, FollowUp, Message, Organiser, new_token
from letters.retention import REMOVED

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


# Rows opened for printed letters per run (they are made in Python, each with its token).
OPEN_BATCH = 5_000


def _days(setting: str) -> dt.timedelta:
    return dt.timedelta(days=float(current_app.config[setting]))


def letter_askable() -> tuple[ColumnElement[bool], ...]:
    """An emailed letter that went, and whose sender's address is kept."""
    return (
        Message.delivery == "email",
        Message.state.in_(ASKED_STATES),
        Message.sent_at.is_not(None),
        Message.scrubbed_at.is_(None),
        Message.sender_email != "",
    )


def attendee_askable() -> tuple[ColumnElement[bool], ...]:
    """An attendee who agreed to be asked, gave an email that is still kept, and whose letter
    was printed."""
    return (
        Attendee.may_follow_up.is_(True),
        Attendee.email != "",
        Attendee.printed_at.is_not(None),
    )


def _still_asked() -> ColumnElement[bool]:
    """The row's letter can still be asked about."""
    return or_(
        exists().where(Message.id == FollowUp.message_id, *letter_askable()),
        exists().where(Attendee.id == FollowUp.attendee_id, *attendee_askable()),
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


def _newly_due_letters(now: dt.datetime) -> ColumnElement[bool]:
    """Emailed letters whose first question is due and that have no follow_up row yet."""
    return and_(
        *letter_askable(),
        Message.sent_at <= now - _days("FOLLOWUP_AFTER_DAYS"),
        ~exists().where(FollowUp.message_id == Message.id),
    )


def _newly_due_attendees(now: dt.datetime) -> ColumnElement[bool]:
    """Printed letters whose first question is due and that have no follow_up row yet."""
    return and_(
        *attendee_askable(),
        Attendee.printed_at <= now - _days("FOLLOWUP_AFTER_DAYS"),
        ~exists().where(FollowUp.attendee_id == Attendee.id),
    )


def _opened(make: Callable[[], int]) -> int:
    """Run one statement that opens rows, and commit; 0 when another run raced it."""
    try:
        made = make()
        db.session.commit()
    except IntegrityError:
        # Another run opened some of them in between; the next run opens any still missing.
        db.session.rollback()
        return 0
    return made


def open_rows(now: dt.datetime) -> int:
    """Make the follow_up row of every letter whose first question is now due; how many."""

    def letters() -> int:
        # A letter's row is named by the letter's id (models._follow_up_id).
        statement = (
            insert(FollowUp)
            .from_select(
                ["id", "message_id", "created_at"],
                select(Message.id, Message.id, literal(now, FollowUp.created_at.type)).where(
                    _newly_due_letters(now)
                ),
            )
            .returning(FollowUp.id)
        )
        return len(db.session.execute(statement).all())

    def printed() -> int:
        # Made here rather than by INSERT ... SELECT: each needs a random token of its own.
        attendees = db.session.scalars(
            select(Attendee.id)
            .where(_newly_due_attendees(now))
            .order_by(Attendee.printed_at, Attendee.id)
            .limit(OPEN_BATCH)
        ).all()
        if attendees:
            db.session.execute(
                insert(FollowUp),
                [
                    {"id": uuid.uuid4(), "attendee_id": a, "token": new_token(), "created_at": now}
                    for a in attendees
                ],
            )
        return len(attendees)

    return _opened(letters) + _opened(printed)


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
    new_letters = db.session.scalar(
        select(func.count()).select_from(Message).where(_newly_due_letters(now))
    )
    new_printed = db.session.scalar(
        select(func.count()).select_from(Attendee).where(_newly_due_attendees(now))
    )

    def count(ask: Ask) -> int:
        return int(
            db.session.scalar(
                select(func.count()).select_from(FollowUp).where(_due(ask, now), _lease_free(now))
            )
            or 0
        )

    return Pending(
        first=int(new_letters or 0) + int(new_printed or 0) + count(Ask.FIRST),
        reminders=count(Ask.REMINDER),
        again=count(Ask.AGAIN),
    )


def due(now: dt.datetime | None = None, limit: int = BATCH) -> list[tuple[uuid.UUID, Ask]]:
    """The follow-up emails due now whose lease is free (row ids), oldest rows first."""
    now = now or clock.now()
    found: list[tuple[uuid.UUID, Ask]] = []
    for ask in Ask:
        rows = db.session.scalars(
            select(FollowUp.id)
            .where(_due(ask, now), _lease_free(now))
            .order_by(FollowUp.created_at)
            .limit(limit - len(found))
        ).all()
        found.extend((follow_up_id, ask) for follow_up_id in rows)
        if len(found) >= limit:
            break
    db.session.commit()
    return found


def claim(follow_up_id: uuid.UUID, ask: Ask, now: dt.datetime | None = None) -> bool:
    """Take the lease for one follow-up email, if it is still due and nobody holds it."""
    now = now or clock.now()
    lease = dt.timedelta(seconds=float(current_app.config["SEND_LEASE_SECONDS"]))
    taken = db.session.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up_id, _due(ask, now), _lease_free(now))
        .values(claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return taken.rowcount == 1


def _finish(follow_up_id: uuid.UUID, ask: Ask, *, sent: bool) -> None:
    """Record the email as sent (or give the lease back); the lease ends either way."""
    values: dict[str, object] = {"claimed_until": None}
    if sent:
        values[ask.value] = clock.now()
    db.session.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up_id, getattr(FollowUp, ask.value).is_(None))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# --- Who is asked about what --------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A follow-up and its letter, whichever kind: what its emails and pages are made of."""

    row: FollowUp
    campaign_key: str
    member_name: str
    writer_name: str  # "" once removed
    writer_email: str  # "" once removed
    reply_to: str  # where a reply to the email goes; "" for none
    # The answer pages are named by `token`, under the endpoints that start with `pages`.
    token: str
    pages: str
    letter_token: str | None = None  # an emailed letter's own page
    event_name: str = ""

    @property
    def removed(self) -> bool:
        """The writer's address was removed (retention): nothing more is asked or answered."""
        return not self.writer_email

    def endpoint(self, page: str = "") -> str:
        """One of the answer pages: "" (the answer), "_answer", "_stop", "_stop_post"."""
        return self.pages + page


LETTER_PAGES = "supporter.followup"
PRINTED_PAGES = "supporter.printed_followup"


def asked_about(row: FollowUp) -> Asked | None:
    """The follow-up's letter and writer; None when the letter or attendee is gone."""
    if row.message_id is not None:
        message = db.session.get(Message, row.message_id)
        if message is None:
            return None
        return Asked(
            row=row,
            campaign_key=message.campaign_key,
            member_name=message.member_name,
            writer_name=message.sender_name if message.scrubbed_at is None else "",
            writer_email=message.sender_email if message.scrubbed_at is None else "",
            reply_to=current_app.config["FOLLOWUP_REPLY_TO"],
            token=message.token,
            pages=LETTER_PAGES,
            letter_token=message.token,
        )
    attendee = db.session.get(Attendee, row.attendee_id)
    event = db.session.get(Event, attendee.event_id) if attendee is not None else None
    if attendee is None or event is None or row.token is None:
        return None
    organiser = db.session.get(Organiser, event.organiser_id)
    return Asked(
        row=row,
        campaign_key=event.campaign_key,
        member_name=attendee.member_name,
        writer_name="" if attendee.name == REMOVED else attendee.name,
        writer_email=attendee.email,
        # The organiser who ran the event is who the attendee met, and who replies reach.
        reply_to=organiser.email if organiser is not None else "",
        token=row.token,
        pages=PRINTED_PAGES,
        event_name=event.name,
    )


def followup_email(asked: Asked, ask: Ask) -> OutgoingEmail:
    """The short question, from the campaign, with one link per answer."""
    campaign = get_campaign(asked.campaign_key)
    member = f"{asked.member_name} MP" if asked.member_name else "your MP"
    links = [
        (label, public_url(asked.endpoint(), token=asked.token, answer=answer.value))
        for answer, label in ANSWER_LABELS.items()
    ]
    context = {
        "campaign": campaign,
        "member": member,
        "campaign_title": campaign.title,
        "sender_name": asked.writer_name,
        "event_name": asked.event_name,
        "links": links,
        "ask": ask.name.lower(),
        "stop_url": public_url(asked.endpoint("_stop"), token=asked.token),
        "letter_url": public_url("supporter.letter", token=asked.letter_token)
        if asked.letter_token
        else "",
    }
    return OutgoingEmail(
        kind="followup",
        # A letter's row id is the letter's: the events SendGrid posts back name it.
        message_id=asked.row.id,
        sender=Address(current_app.config["FROM_EMAIL"], campaign.title),
        to=(Address(asked.writer_email, asked.writer_name),),
        reply_to=Address(asked.reply_to, campaign.title) if asked.reply_to else None,
        subject=("Reminder: " if ask is Ask.REMINDER else "")
        + f"Did {member} reply to your letter about {campaign.title}?",
        text=render_template("email/followup.txt", **context),
        html="",
        category=campaign.key,
    )


def send_one(follow_up_id: uuid.UUID, ask: Ask) -> bool:
    """Claim, send and record one follow-up email; False when not sent (now)."""
    row = db.session.get(FollowUp, follow_up_id)
    asked = asked_about(row) if row is not None else None
    if asked is None or asked.removed:
        return False
    try:
        email = followup_email(asked, ask)
    except Exception:
        log.exception("could not build the follow-up %s", follow_up_id)
        return False
    if not claim(follow_up_id, ask):
        return False
    try:
        result = get_mailer().send(email)
    except Exception:
        log.exception("follow-up %s could not be sent", follow_up_id)
        _finish(follow_up_id, ask, sent=False)
        return False
    if not result.accepted:
        log.warning("follow-up %s not sent: %s", follow_up_id, result.reason)
    _finish(follow_up_id, ask, sent=result.accepted)
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
    for follow_up_id, ask in due(now):
        if not send_one(follow_up_id, ask):
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
    return db.session.scalar(select(FollowUp).where(FollowUp.message_id == message.id))


def follow_up_named(token: str) -> FollowUp | None:
    """A printed letter's follow-up row, by the token its answer pages are named with."""
    return db.session.scalar(select(FollowUp).where(FollowUp.token == token))


def may_answer(row: FollowUp) -> bool:
    """Whether an answer can still be recorded: none yet, or only "no reply yet"."""
    return row.asked_at is not None and row.answer in ("", Answer.NO_REPLY.value)


def record_answer(
    follow_up_id: uuid.UUID, answer: Answer, *, reply_text: str = "", share: bool = False
) -> bool:
    """Record the writer's answer, once; True when this call recorded it.

    "No reply yet" is the one answer a later one may replace (the member may still reply);
    any other stands. One conditional UPDATE, so a double press records one answer.
    """
    reply_text = reply_text.strip()[:REPLY_LIMIT]
    open_answer = FollowUp.answer == ""
    if answer is not Answer.NO_REPLY:
        open_answer = or_(open_answer, FollowUp.answer == Answer.NO_REPLY.value)
    recorded = db.session.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up_id, FollowUp.asked_at.is_not(None), open_answer)
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


def stop_asking(follow_up_id: uuid.UUID) -> None:
    """ "Don't ask me again": no more follow-up emails about this letter. Idempotent."""
    db.session.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up_id)
        .values(stop_asking=True)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
