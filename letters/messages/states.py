"""The one gate every change of a message's state goes through, in the web and in the worker.

A state change is a single conditional UPDATE whose WHERE clause names the states
`lifecycle.TRANSITIONS` allows to move to the target (letters/state_gate.py): when two
workers, or a worker and the sweep, or a worker and a supporter's edit, race on one row, only
the first still finds it where it may leave from.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Update

from letters.domain.lifecycle import INITIAL_STATES, State, sources_of
from letters.models import Message
from letters.state_gate import Gate, RefusedTransition

__all__ = ["RefusedTransition", "move", "start", "transition"]

GATE: Gate[State] = Gate(Message, sources_of, "message")


def transition(target: State, *, sources: Iterable[State] | None = None) -> Update:
    """UPDATE message SET state = target WHERE state IN (the allowed sources); a send records
    sending -> sent, never queued -> sent, by naming its one source."""
    return GATE.transition(target, sources=sources)


def move(
    message_id: uuid.UUID,
    target: State,
    *,
    sources: Iterable[State] | None = None,
    commit: bool = True,
    **values: Any,
) -> bool:
    """Move one message to `target`, with `values`, if it is in an allowed source state.

    True when this caller moved it; False when the row was elsewhere (another worker won).
    """
    return GATE.move(Message.id == message_id, target, sources=sources, commit=commit, **values)


def start(message: Message, state: State) -> None:
    """Give a letter not yet stored the state it starts in."""
    if message.id is not None or state not in INITIAL_STATES:
        raise RefusedTransition(f"a letter cannot start as {state.value}")
    message.state = state.value
