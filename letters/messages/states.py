"""Moving a message from one state to another."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from letters.domain.lifecycle import State
from letters.extensions import db
from letters.models import Message


def move(message_id: uuid.UUID, sources: set[State] | frozenset[State], **values: Any) -> bool:
    """One conditional UPDATE: apply `values` only if the message is in one of `sources`."""
    result = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.state.in_([s.value for s in sources]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1
