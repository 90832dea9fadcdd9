"""The one gate every change of a message's state goes through, in the web and in the worker.

A state change is a single conditional UPDATE whose WHERE clause names the states
`lifecycle.TRANSITIONS` allows to move to the target. Two workers (or a worker and the sweep,
or a worker and a supporter's edit) may race on one row: the database applies the UPDATEs
one after the other, and only the first still finds the row in an allowed state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Update, update

from letters.domain.lifecycle import INITIAL_STATES, State, sources_of
from letters.extensions import db
from letters.models import Message


class RefusedTransition(ValueError):
    """Code asked for a move the lifecycle does not allow (a bug, not a race)."""


def transition(target: State, *, sources: Iterable[State] | None = None) -> Update:
    """UPDATE message SET state = target WHERE state IN (the allowed sources).

    The caller adds the rows (`.where(...)`) and the columns that change with the state
    (`.values(...)`), never `state` itself. `sources` narrows the allowed sources for one
    step (a send records sending -> sent, never queued -> sent); it cannot widen them.
    """
    allowed = sources_of(target)
    wanted = allowed if sources is None else frozenset(sources)
    if not wanted <= allowed:
        refused = ", ".join(sorted(s.value for s in wanted - allowed))
        raise RefusedTransition(f"a message in {refused} may not move to {target.value}")
    return (
        update(Message)
        .where(Message.state.in_(sorted(s.value for s in wanted)))
        .values(state=target.value)
        .execution_options(synchronize_session=False)
    )


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
    if "state" in values:
        raise RefusedTransition("the target state is the gate's to set")
    result = db.session.execute(
        transition(target, sources=sources).where(Message.id == message_id).values(**values)
    )
    if commit:
        db.session.commit()
    return result.rowcount == 1


def start(message: Message, state: State) -> None:
    """Give a letter not yet stored the state it starts in."""
    if message.id is not None or state not in INITIAL_STATES:
        raise RefusedTransition(f"a letter cannot start as {state.value}")
    message.state = state.value
