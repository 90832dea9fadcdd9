"""Moving email letters through their lifecycle; the database row is always the truth.

Every step is a conditional UPDATE on the message's state, so two workers (or a worker and
the sweep) can race and at most one of them wins each step.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from letters import clock
from letters.domain.lifecycle import ACCEPTED_EVENTS, TRANSITIONS, State, state_after_event
from letters.extensions import db
from letters.mail import Mailer, OutgoingEmail, SendResult
from letters.mail.content import (
    confirmation_email,
    failure_email,
    letter_digest,
    letter_email,
    receipt_email,
    weekly_notice_email,
)
from letters.mail.limits import earlier_letter, repeats_a_letter
from letters.mail.outbox import OutboxMailer
from letters.mail.sendgrid import KIND_ARG, MESSAGE_ID_ARG, SendGridMailer
from letters.models import ContactStatus, DeliveryEvent, Message

log = logging.getLogger(__name__)
MAILER_KEY = "letters.mailer"
RETRY_CAP_SECONDS = 3600.0
# A receipt goes once SendGrid has the letter; after a bounce the failure notice says more.
RECEIPT_STATES = (State.SENT.value, State.DELIVERED.value)
EDITABLE_STATES = (State.DRAFT.value, State.AWAITING_CONFIRMATION.value)
# The sweep retries a receipt that could not go for this long, then leaves it.
RECEIPT_RETRY_FOR = dt.timedelta(days=2)
LAST_TIMESTAMP = 253_402_300_799  # 9999-12-31, the last second a datetime can hold


def utcnow() -> dt.datetime:
    return clock.now()


def get_mailer() -> Mailer:
    """The process's mailer: SendGrid when a key is set, else the local outbox."""
    mailer = current_app.extensions.get(MAILER_KEY)
    if mailer is None:
        config = current_app.config
        if config["SENDGRID_API_KEY"]:
            mailer = SendGridMailer(
                config["SENDGRID_API_KEY"],
                config["SENDGRID_API_HOST"],
                config["SEND_TIMEOUT_SECONDS"],
            )
        else:
            mailer = OutboxMailer(config["OUTBOX_DIR"])
        current_app.extensions[MAILER_KEY] = mailer
    return mailer


def _move(message_id: uuid.UUID, sources: set[State] | frozenset[State], **values: Any) -> bool:
    """One conditional UPDATE: apply `values` only if the message is in one of `sources`."""
    result = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.state.in_([s.value for s in sources]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


# --- confirmation ----------------------------------------------------------------------


def _send_or_release(email: OutgoingEmail, message_id: uuid.UUID, column: Any) -> bool:
    """Send an email whose job this worker claimed in `column`; give the job back if it fails."""
    try:
        result = get_mailer().send(email)
    except Exception:
        log.exception(
            "%s email could not be sent", email.kind, extra={"message_id": str(message_id)}
        )
        result = SendResult(accepted=False, reason="the email could not be sent")
    if result.accepted:
        return True
    # Give the job back: the sweep tries again later.
    log.warning(
        "%s email not sent: %s", email.kind, result.reason, extra={"message_id": str(message_id)}
    )
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
                column.key: utcnow(),
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
    now = utcnow()
    moved = db.session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.state == State.AWAITING_CONFIRMATION.value,
            Message.confirmation_digest == digest,
            Message.over_weekly_limit.is_(False),
            ~repeats_a_letter(),
        )
        .values(state=State.QUEUED.value, confirmed_at=now, queued_at=now, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    message = db.session.get(Message, message_id)
    return ConfirmOutcome(confirmed=moved.rowcount == 1, state=message.state if message else "")


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
            reminder_sent_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return renewed.rowcount == 1


def hold_for_edit(message_id: uuid.UUID) -> bool:
    """Take the row for an edit in this transaction, only while it may still be edited.

    Until the edit commits, a confirmation waits for it (PostgreSQL locks the row; SQLite the
    database), and then finds the content changed. False: it was confirmed first.
    """
    held = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.state.in_(EDITABLE_STATES))
        .values(state=Message.state)
        .execution_options(synchronize_session=False)
    )
    return held.rowcount == 1


def confirmation_expired(message: Message, now: dt.datetime | None = None) -> bool:
    """Whether the confirmation window has closed for this message."""
    hours = current_app.config["CONFIRM_EXPIRE_AFTER_HOURS"]
    return (now or utcnow()) >= message.created_at + dt.timedelta(hours=hours)


# --- sending ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt did; retry_in is set when the caller should try again later."""

    state: str
    retry_in: float | None = None
    notify_failure: bool = False
    send_receipt: bool = False


def claim(message_ids: list[uuid.UUID], now: dt.datetime | None = None) -> list[Message]:
    """queued -> sending under a lease, in one statement; returns only the rows this caller got."""
    now = now or utcnow()
    lease = dt.timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    claimed = db.session.scalars(
        update(Message)
        .where(
            Message.id.in_(message_ids),
            Message.state == State.QUEUED.value,
            # A retry's wake-up may run a moment early on another machine's clock.
            or_(
                Message.next_attempt_at.is_(None),
                Message.next_attempt_at <= now + dt.timedelta(seconds=1),
            ),
        )
        .values(
            state=State.SENDING.value,
            lease_expires_at=now + lease,
            attempts=Message.attempts + 1,
        )
        .returning(Message),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).all()
    db.session.commit()
    return list(claimed)


def _already_accepted(message_id: uuid.UUID) -> bool:
    return db.session.scalar(
        select(
            exists().where(
                DeliveryEvent.message_id == message_id,
                DeliveryEvent.kind == "letter",
                DeliveryEvent.event.in_(ACCEPTED_EVENTS),
            )
        )
    )


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: half the step fixed, half random, capped."""
    step = min(
        current_app.config["SEND_RETRY_BASE_SECONDS"] * 2 ** (attempt - 1), RETRY_CAP_SECONDS
    )
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not secrecy


def deliver(message_id: uuid.UUID) -> DeliveryOutcome:
    """Send one queued letter (see deliver_many)."""
    outcome = deliver_many([message_id]).get(message_id)
    if outcome is None:  # someone else has it, or it is not due: report where it stands
        message = db.session.get(Message, message_id)
        return DeliveryOutcome(state=message.state if message else "")
    return outcome


def deliver_many(message_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeliveryOutcome]:
    """Claim the due letters among these, send each once, and record each as it goes."""
    outcomes: dict[uuid.UUID, DeliveryOutcome] = {}
    mailer = get_mailer()
    for message in claim(message_ids):
        outcomes[message.id] = _deliver_claimed(message, mailer)
    return outcomes


def _deliver_claimed(message: Message, mailer: Mailer) -> DeliveryOutcome:
    if message.attempts > 1 and _already_accepted(message.id):
        # An earlier attempt reached SendGrid but its worker died before recording it.
        _move(message.id, {State.SENDING}, state=State.SENT.value, sent_at=utcnow())
        return DeliveryOutcome(state=State.SENT.value, send_receipt=True)
    if not message.recipient_email:
        return _fail(message, "no email address is known for this member")
    try:
        email = letter_email(message)
    except Exception:
        log.exception("could not build the email for %s", message.id)
        return _fail(message, "the letter could not be prepared for email")
    # Recorded (and committed) right after each send, so a worker killed mid-batch leaves
    # at most one letter whose fate only the delivery events can tell.
    return _record(message, mailer.send(email))


def _record(message: Message, result: SendResult) -> DeliveryOutcome:
    now = utcnow()
    if result.accepted:
        moved = _move(
            message.id,
            {State.SENDING},
            state=State.SENT.value,
            sent_at=now,
            provider_message_id=result.provider_id[:100],
            lease_expires_at=None,
            failure_reason="",
        )
        if not moved:  # events overtook us (already delivered): keep the provider's id anyway
            _move(message.id, set(State), provider_message_id=result.provider_id[:100])
        return DeliveryOutcome(state=State.SENT.value, send_receipt=True)
    if not result.retryable:
        return _fail(message, result.reason)
    if message.attempts >= current_app.config["SEND_MAX_ATTEMPTS"]:
        return _fail(message, f"gave up after {message.attempts} attempts; last: {result.reason}")
    delay = backoff_seconds(message.attempts)
    _move(
        message.id,
        {State.SENDING},
        state=State.QUEUED.value,
        next_attempt_at=now + dt.timedelta(seconds=delay),
        lease_expires_at=None,
        failure_reason=f"retrying: {result.reason}"[:1000],
    )
    return DeliveryOutcome(state=State.QUEUED.value, retry_in=delay)


def _fail(message: Message, reason: str) -> DeliveryOutcome:
    _move(
        message.id,
        {State.SENDING},
        state=State.FAILED.value,
        failed_at=utcnow(),
        failure_reason=reason[:1000],
        lease_expires_at=None,
    )
    return DeliveryOutcome(state=State.FAILED.value, notify_failure=True)


def notify_failure(message_id: uuid.UUID) -> bool:
    """Tell the supporter, once, that their letter could not be emailed."""
    taken = db.session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.state.in_([State.FAILED.value, State.BOUNCED.value, State.DROPPED.value]),
            Message.failure_notice_sent_at.is_(None),
        )
        .values(failure_notice_sent_at=utcnow())
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
        .values(receipt_sent_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount != 1:
        return False
    return _send_or_release(email, message_id, Message.receipt_sent_at)


# --- the periodic sweep ----------------------------------------------------------------


@dataclass
class SweepResult:
    """What the sweep found: letters to wake workers for, confirmations to (re)send."""

    to_send: list[uuid.UUID]
    to_confirm: list[uuid.UUID]
    to_remind: list[uuid.UUID]
    to_receipt: list[uuid.UUID] = field(default_factory=list)
    recovered_as_sent: int = 0
    expired: int = 0


def sweep(now: dt.datetime | None = None) -> SweepResult:
    """Find work nobody is doing: stale queued rows, expired leases, confirmations, expiry."""
    now = now or utcnow()
    config = current_app.config
    stale = now - dt.timedelta(seconds=config["SWEEP_QUEUED_AFTER_SECONDS"])
    result = SweepResult(to_send=[], to_confirm=[], to_remind=[])

    # Leases that ran out: the worker died or hung. If SendGrid already took the message
    # (an event names it), it was sent; otherwise it goes back to the queue.
    expired_leases = db.session.scalars(
        select(Message.id).where(
            Message.state == State.SENDING.value, Message.lease_expires_at < now
        )
    ).all()
    for message_id in expired_leases:
        if _already_accepted(message_id):
            if _move(message_id, {State.SENDING}, state=State.SENT.value, sent_at=now):
                result.recovered_as_sent += 1
        elif _move(
            message_id,
            {State.SENDING},
            state=State.QUEUED.value,
            lease_expires_at=None,
            next_attempt_at=None,
        ):
            result.to_send.append(message_id)

    stale_queued = db.session.scalars(
        select(Message.id).where(
            Message.state == State.QUEUED.value,
            func.coalesce(Message.next_attempt_at, Message.queued_at) < stale,
        )
    ).all()
    # A row just put back from an expired lease is also stale-queued: wake it once.
    result.to_send = list(dict.fromkeys([*result.to_send, *stale_queued]))

    expire_before = now - dt.timedelta(hours=config["CONFIRM_EXPIRE_AFTER_HOURS"])
    expired = db.session.execute(
        update(Message)
        .where(
            Message.state == State.AWAITING_CONFIRMATION.value,
            Message.created_at < expire_before,
        )
        .values(state=State.EXPIRED.value)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    result.expired = expired.rowcount

    result.to_confirm = list(
        db.session.scalars(
            select(Message.id).where(
                Message.state == State.AWAITING_CONFIRMATION.value,
                Message.confirmation_sent_at.is_(None),
                Message.created_at < stale,
            )
        ).all()
    )
    remind_before = now - dt.timedelta(hours=config["CONFIRM_REMIND_AFTER_HOURS"])
    result.to_remind = list(
        db.session.scalars(
            select(Message.id).where(
                Message.state == State.AWAITING_CONFIRMATION.value,
                Message.confirmation_sent_at < remind_before,
                Message.reminder_sent_at.is_(None),
                Message.over_weekly_limit.is_(False),
            )
        ).all()
    )
    result.to_receipt = list(
        db.session.scalars(
            select(Message.id).where(
                Message.state.in_(RECEIPT_STATES),
                Message.receipt_sent_at.is_(None),
                Message.scrubbed_at.is_(None),
                Message.sent_at < stale,
                Message.sent_at >= now - RECEIPT_RETRY_FOR,
            )
        ).all()
    )
    return result


# --- delivery events (the SendGrid webhook) ---------------------------------------------


@dataclass
class EventsResult:
    """How a webhook batch was taken in."""

    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    invalid: int = 0


def _text(value: object, limit: int) -> str:
    """An event's field as storable text: PostgreSQL refuses NUL, and lengths are bounded."""
    return str(value or "").replace("\x00", "")[:limit]


def _parse_event(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    sg_event_id, event, timestamp = raw.get("sg_event_id"), raw.get("event"), raw.get("timestamp")
    if not (isinstance(sg_event_id, str) and _text(sg_event_id, 100) and isinstance(event, str)):
        return None
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        return None
    if not 0 <= timestamp <= LAST_TIMESTAMP:
        return None
    try:
        message_id = uuid.UUID(str(raw.get(MESSAGE_ID_ARG, "")))
    except ValueError:
        message_id = None
    kind = raw.get(KIND_ARG)
    return {
        "sg_event_id": _text(sg_event_id, 100),
        "event": _text(event, 30),
        "occurred_at": timestamp,
        "message_id": message_id,
        "kind": _text(kind, 20) if isinstance(kind, str) else "",
        "reason": _text(raw.get("reason") or raw.get("response"), 1000),
        "bounce_type": _text(raw.get("type"), 30),
    }


def record_events(batch: list[object]) -> EventsResult:
    """Store each event once (a few statements per batch, so SendGrid gets its 2xx quickly)."""
    outcome = EventsResult()
    events = []
    for raw in batch:
        parsed = _parse_event(raw)
        if parsed is None:
            outcome.invalid += 1
        else:
            events.append(parsed)
    wanted = {e["message_id"] for e in events if e["message_id"] is not None}
    known = (
        set(db.session.scalars(select(Message.id).where(Message.id.in_(wanted))))
        if wanted
        else set()
    )
    for item in events:
        if item["message_id"] not in known:
            item["message_id"] = None
            outcome.unmatched += 1
    if not events:
        return outcome
    # SendGrid retries batches and may repeat an event under a new id: the unique
    # constraints decide, and ON CONFLICT DO NOTHING skips what is already stored.
    inserted = set(
        db.session.scalars(
            _insert_for_dialect()
            .values(events)
            .on_conflict_do_nothing()
            .returning(DeliveryEvent.sg_event_id)
        )
    )
    db.session.commit()
    outcome.stored = len(inserted)
    outcome.duplicates = len(events) - len(inserted)
    for item in sorted(events, key=lambda e: e["occurred_at"]):
        if item["sg_event_id"] in inserted and item["message_id"] and item["kind"] == "letter":
            _apply_event(item)
    return outcome


def _insert_for_dialect():
    """INSERT with ON CONFLICT support on PostgreSQL and SQLite alike."""
    if db.engine.dialect.name == "postgresql":
        return postgresql_insert(DeliveryEvent)
    return sqlite_insert(DeliveryEvent)


def _apply_event(event: dict[str, Any]) -> None:
    message = db.session.get(Message, event["message_id"])
    if message is None:
        return
    target = state_after_event(message.state, event["event"])
    if target is None:
        return
    sources = {s for s, targets in TRANSITIONS.items() if target in targets}
    at = dt.datetime.fromtimestamp(event["occurred_at"], dt.UTC)
    values: dict[str, Any] = {"state": target.value, "lease_expires_at": None}
    if target is State.SENT:
        values["sent_at"] = at
    elif target is State.DELIVERED:
        values["delivered_at"] = at
    elif target in (State.BOUNCED, State.DROPPED):
        values["failed_at"] = at
        values["failure_reason"] = event["reason"] or event["event"]
    _move(message.id, sources, **values)
    if target is State.BOUNCED and event["bounce_type"] != "blocked":
        _mark_contact_failing(message, event["reason"])


def _mark_contact_failing(message: Message, reason: str) -> None:
    status = db.session.get(ContactStatus, message.division)
    if status is None:
        status = ContactStatus(division=message.division, email=message.recipient_email)
        db.session.add(status)
    status.email = message.recipient_email
    status.failing = True
    status.reason = reason or "hard bounce"
    db.session.commit()
