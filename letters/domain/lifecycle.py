"""A message's states and the moves between them (see ARCHITECTURE.md's diagram)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a letter stands."""

    DRAFT = "draft"  # a PDF letter, or an email letter not yet submitted
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    EXPIRED = "expired"  # never confirmed within the confirmation window
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker, under a lease
    SENT = "sent"  # accepted by SendGrid
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    DROPPED = "dropped"
    SPAM_REPORTED = "spam_reported"
    FAILED = "failed"  # permanently: rejected request, or retries exhausted


# Where a new letter starts: printed letters as drafts, email letters waiting for their link.
INITIAL_STATES = frozenset({State.DRAFT, State.AWAITING_CONFIRMATION})

# Each state and where it may go next; letters/messages/states.py builds every state change
# from this table. Delivery events can arrive out of order (a `delivered` before its
# `processed`), so the delivery states only ever move forward. Until it is confirmed, an
# email letter may be edited into a printed one (back to a draft) and back again.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.AWAITING_CONFIRMATION}),
    State.AWAITING_CONFIRMATION: frozenset({State.DRAFT, State.QUEUED, State.EXPIRED}),
    State.EXPIRED: frozenset(),
    State.QUEUED: frozenset({State.SENDING, State.SENT, State.FAILED}),
    State.SENDING: frozenset(
        {State.SENT, State.QUEUED, State.FAILED, State.DELIVERED, State.BOUNCED, State.DROPPED}
    ),
    State.SENT: frozenset({State.DELIVERED, State.BOUNCED, State.DROPPED, State.SPAM_REPORTED}),
    State.DELIVERED: frozenset({State.BOUNCED, State.SPAM_REPORTED}),
    State.BOUNCED: frozenset(),
    State.DROPPED: frozenset(),
    State.SPAM_REPORTED: frozenset(),
    State.FAILED: frozenset(),
}

# SendGrid event -> the state it moves a message to (None: recorded, no move).
EVENT_STATES: dict[str, State | None] = {
    "processed": State.SENT,
    "deferred": None,
    "delivered": State.DELIVERED,
    "bounce": State.BOUNCED,
    "dropped": State.DROPPED,
    "spamreport": State.SPAM_REPORTED,
}

# Events that prove SendGrid accepted a message: seen one, never send that message again.
ACCEPTED_EVENTS = frozenset({"processed", "deferred", "delivered", "bounce", "dropped"})
UNDELIVERED = frozenset({State.BOUNCED, State.DROPPED, State.FAILED})


def sources_of(target: State | str) -> frozenset[State]:
    """The states a message may leave for `target`."""
    return frozenset(s for s, targets in TRANSITIONS.items() if State(target) in targets)


def can_move(current: State | str, target: State | str) -> bool:
    """Whether a message in `current` may move to `target`."""
    return State(target) in TRANSITIONS[State(current)]


def state_after_event(current: State | str, event: str) -> State | None:
    """The state a delivery event moves a message to, or None to leave it where it is."""
    target = EVENT_STATES.get(event)
    if target is None or not can_move(current, target):
        return None
    return target
