"""Taking in SendGrid's delivery events (the webhook): store each once, then move the letter."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from letters.domain.lifecycle import State, state_after_event
from letters.extensions import db
from letters.mail.sendgrid import KIND_ARG, MESSAGE_ID_ARG
from letters.messages.states import move
from letters.models import ContactStatus, DeliveryEvent, Message

LAST_TIMESTAMP = 253_402_300_799  # 9999-12-31, the last second a datetime can hold


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
    at = dt.datetime.fromtimestamp(event["occurred_at"], dt.UTC)
    values: dict[str, Any] = {"lease_expires_at": None}
    if target is State.SENT:
        values["sent_at"] = at
    elif target is State.DELIVERED:
        values["delivered_at"] = at
    elif target in (State.BOUNCED, State.DROPPED):
        values["failed_at"] = at
        values["failure_reason"] = event["reason"] or event["event"]
    # Any state the lifecycle lets move to the target: events come in any order.
    move(message.id, target, **values)
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
