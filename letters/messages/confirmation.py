"""Confirming an email letter: the supporter's "Send my letter", and edits before it."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Update, bindparam, update

from letters import clock
from letters.domain.lifecycle import State
from letters.extensions import db
from letters.mail.content import letter_digest
from letters.messages.limits import REPEAT_WINDOW, repeats_a_letter
from letters.messages.states import move, transition
from letters.models import Message

EDITABLE_STATES = (State.DRAFT.value, State.AWAITING_CONFIRMATION.value)


@dataclass(frozen=True)
class ConfirmOutcome:
    """What pressing "Send my letter" did."""

    confirmed: bool
    state: str


def confirm(message_id: uuid.UUID, digest: str) -> ConfirmOutcome:
    """awaiting_confirmation -> queued, committed before anything is enqueued.

    One conditional UPDATE: only for the content the link was sent for (`digest`), never for
    a letter over the weekly limit, and never as this week's second letter to the member.
    """
    now = clock.now()
    moved = db.session.scalar(
        _confirming(),
        {"message_id": message_id, "digest": digest, "since": now - REPEAT_WINDOW, "now": now},
    )
    db.session.commit()
    if moved is not None:
        return ConfirmOutcome(confirmed=True, state=moved)
    message = db.session.get(Message, message_id)
    return ConfirmOutcome(confirmed=False, state=message.state if message else "")


@functools.cache
def _confirming() -> Update:
    """confirm()'s one statement, built once: building its self-join (an aliased table whose
    columns SQLAlchemy adapts) costs more than running it."""
    return (
        transition(State.QUEUED, sources={State.AWAITING_CONFIRMATION})
        .where(
            Message.id == bindparam("message_id"),
            Message.confirmation_digest == bindparam("digest"),
            Message.over_weekly_limit.is_(False),
            ~repeats_a_letter(bindparam("since")),
        )
        .values(confirmed_at=bindparam("now"), queued_at=bindparam("now"), next_attempt_at=None)
        .returning(Message.state)
    )


def renew_confirmation(message: Message) -> bool:
    """The letter no longer reads as its confirmation said (e.g. the campaign's text changed):
    ask for a confirmation of the letter as it is now. True when a new one is due."""
    renewed = db.session.execute(
        update(Message)
        .where(
            Message.id == message.id,
            Message.state == State.AWAITING_CONFIRMATION.value,
            Message.confirmation_digest == message.confirmation_digest,
            Message.over_weekly_limit.is_(False),
        )
        .values(
            confirmation_digest=letter_digest(message),
            confirmation_sent_at=None,
            confirmation_claimed_until=None,
            reminder_sent_at=None,
            reminder_claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return renewed.rowcount == 1


def hold_for_edit(message_id: uuid.UUID, target: State) -> bool:
    """Take the row for an edit in this transaction, only while it may still be edited, and
    move it to `target` (an email letter edited into a printed one, or back).

    Until the edit commits, a confirmation waits for it (PostgreSQL locks the row; SQLite the
    database), and then finds the content changed. False: it was confirmed first.
    """
    held = db.session.scalar(
        update(Message)
        .where(Message.id == message_id, Message.state.in_(EDITABLE_STATES))
        .values(updated_at=clock.now())
        .returning(Message.state)
        .execution_options(synchronize_session=False)
    )
    if held is None:
        return False
    if held == target:
        return True
    return move(message_id, target, sources={State(held)}, commit=False)


def confirmation_expired(message: Message, now: dt.datetime | None = None) -> bool:
    """Whether the confirmation window has closed for this message: after its last instant,
    as the sweep judges it (sweeper._unconfirmed_too_long), so the page and the sweep agree."""
    hours = current_app.config["CONFIRM_EXPIRE_AFTER_HOURS"]
    return (now or clock.now()) > message.created_at + dt.timedelta(hours=hours)


def too_late(message: Message) -> bool:
    """An unconfirmed letter whose confirmation window has closed (swept or not yet)."""
    return message.state == State.EXPIRED or (
        message.state == State.AWAITING_CONFIRMATION and confirmation_expired(message)
    )
