"""The periodic sweep: work nobody is doing (stale queues, expired leases, confirmations)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, select

from letters import clock
from letters.domain.lifecycle import State
from letters.extensions import db
from letters.messages import email_jobs
from letters.messages.email_jobs import CONFIRMATION, FAILURE_NOTICE, RECEIPT, REMINDER, claimable
from letters.messages.notices import FAILED_STATES, RECEIPT_RETRY_FOR, RECEIPT_STATES
from letters.messages.sending import already_accepted
from letters.messages.states import move, transition
from letters.models import Message


@dataclass
class SweepResult:
    """What the sweep found: letters to wake workers for, confirmations to (re)send."""

    to_send: list[uuid.UUID]
    to_confirm: list[uuid.UUID]
    to_remind: list[uuid.UUID]
    to_receipt: list[uuid.UUID] = field(default_factory=list)
    to_notify: list[uuid.UUID] = field(default_factory=list)
    recovered_as_sent: int = 0
    # Emails whose worker died after SendGrid took them: recorded, not sent again.
    emails_recovered_as_sent: int = 0
    expired: int = 0


def _expired_lease(now: dt.datetime) -> ColumnElement[bool]:
    return and_(Message.state == State.SENDING.value, Message.lease_expires_at < now)


def _stale_queued(stale: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Message.state == State.QUEUED.value,
        func.coalesce(Message.next_attempt_at, Message.queued_at) < stale,
    )


def _unconfirmed_too_long(expire_before: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Message.state == State.AWAITING_CONFIRMATION.value, Message.created_at < expire_before
    )


def _confirmation_not_sent(now: dt.datetime, stale: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Message.state == State.AWAITING_CONFIRMATION.value,
        claimable(CONFIRMATION, now),
        Message.created_at < stale,
    )


def _reminder_due(now: dt.datetime, remind_before: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Message.state == State.AWAITING_CONFIRMATION.value,
        Message.confirmation_sent_at < remind_before,
        claimable(REMINDER, now),
        Message.over_weekly_limit.is_(False),
    )


def _receipt_due(now: dt.datetime, stale: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Message.state.in_(RECEIPT_STATES),
        claimable(RECEIPT, now),
        Message.scrubbed_at.is_(None),
        Message.sent_at < stale,
        Message.sent_at >= now - RECEIPT_RETRY_FOR,
    )


def _failure_notice_due(now: dt.datetime, stale: dt.datetime) -> ColumnElement[bool]:
    # First asked for by whoever saw the failure; the sweep retries one that did not go.
    return and_(
        Message.state.in_(FAILED_STATES),
        claimable(FAILURE_NOTICE, now),
        Message.scrubbed_at.is_(None),
        Message.failed_at < stale,
        Message.failed_at >= now - RECEIPT_RETRY_FOR,
    )


@dataclass(frozen=True)
class _Moments:
    now: dt.datetime
    stale: dt.datetime
    expire_before: dt.datetime
    remind_before: dt.datetime


def _moments(now: dt.datetime) -> _Moments:
    config = current_app.config
    return _Moments(
        now=now,
        stale=now - dt.timedelta(seconds=config["SWEEP_QUEUED_AFTER_SECONDS"]),
        expire_before=now - dt.timedelta(hours=config["CONFIRM_EXPIRE_AFTER_HOURS"]),
        remind_before=now - dt.timedelta(hours=config["CONFIRM_REMIND_AFTER_HOURS"]),
    )


def preview(now: dt.datetime | None = None) -> dict[str, int]:
    """What sweep() would find now, as counts; changes nothing (`housekeeping --dry-run`)."""
    at = _moments(now or clock.now())

    def count(condition: ColumnElement[bool]) -> int:
        return int(db.session.scalar(select(func.count()).where(condition)) or 0)

    leases = count(_expired_lease(at.now))
    # The sweep expires letters first: those it expires get no confirmation or reminder.
    kept = ~_unconfirmed_too_long(at.expire_before)
    return {
        # A row back from an expired lease is woken too (or found sent): counted with these.
        "to_send": leases + count(_stale_queued(at.stale)),
        "to_confirm": count(and_(_confirmation_not_sent(at.now, at.stale), kept)),
        "to_remind": count(and_(_reminder_due(at.now, at.remind_before), kept)),
        "to_receipt": count(_receipt_due(at.now, at.stale)),
        "to_notify": count(_failure_notice_due(at.now, at.stale)),
        "expired_leases": leases,
        "expired": count(_unconfirmed_too_long(at.expire_before)),
    }


def sweep(now: dt.datetime | None = None) -> SweepResult:
    """Find work nobody is doing: stale queued rows, expired leases, confirmations, expiry."""
    at = _moments(now or clock.now())
    now = at.now
    result = SweepResult(to_send=[], to_confirm=[], to_remind=[])

    # Leases that ran out: the worker died or hung. If SendGrid already took the message
    # (an event names it), it was sent; otherwise it goes back to the queue.
    expired_leases = db.session.scalars(select(Message.id).where(_expired_lease(now))).all()
    for message_id in expired_leases:
        if already_accepted(message_id):
            if move(message_id, State.SENT, sources={State.SENDING}, sent_at=now):
                result.recovered_as_sent += 1
        elif move(
            message_id,
            State.QUEUED,
            sources={State.SENDING},
            lease_expires_at=None,
            next_attempt_at=None,
        ):
            result.to_send.append(message_id)

    stale_queued = db.session.scalars(select(Message.id).where(_stale_queued(at.stale))).all()
    # A row just put back from an expired lease is also stale-queued: wake it once.
    result.to_send = list(dict.fromkeys([*result.to_send, *stale_queued]))

    expired = db.session.execute(
        transition(State.EXPIRED, sources={State.AWAITING_CONFIRMATION}).where(
            Message.created_at < at.expire_before
        )
    )
    db.session.commit()
    result.expired = expired.rowcount

    # An email job whose worker died holds an expired lease: first record those SendGrid
    # reported taking; the rest are due again below, like jobs nobody took.
    result.emails_recovered_as_sent = email_jobs.settle_expired(now)
    result.to_confirm = list(
        db.session.scalars(select(Message.id).where(_confirmation_not_sent(at.now, at.stale))).all()
    )
    result.to_remind = list(
        db.session.scalars(select(Message.id).where(_reminder_due(at.now, at.remind_before))).all()
    )
    result.to_receipt = list(
        db.session.scalars(select(Message.id).where(_receipt_due(now, at.stale))).all()
    )
    result.to_notify = list(
        db.session.scalars(select(Message.id).where(_failure_notice_due(now, at.stale))).all()
    )
    return result
