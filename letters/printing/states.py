"""The one gate every change of a print run's state goes through (the BatchJob row).

As for messages (letters/messages/states.py): one conditional UPDATE whose WHERE clause names
the states `print_runs.TRANSITIONS` allows to move to the target, so a printer, the sweep, the
privacy clean-up and an organiser racing on one run cannot move it where it may not go.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Update, update

from letters.domain.print_runs import PrintRunState, sources_of
from letters.extensions import db
from letters.models import BatchJob


class RefusedTransition(ValueError):
    """Code asked for a move the print-run lifecycle does not allow (a bug, not a race)."""


def transition(target: PrintRunState, *, sources: Iterable[PrintRunState] | None = None) -> Update:
    """UPDATE batch_job SET state = target WHERE state IN (the allowed sources).

    The caller adds the rows and the other columns; `sources` may narrow the allowed sources
    for one step, never widen them.
    """
    allowed = sources_of(target)
    wanted = allowed if sources is None else frozenset(sources)
    if not wanted <= allowed:
        refused = ", ".join(sorted(s.value for s in wanted - allowed))
        raise RefusedTransition(f"a print run in {refused} may not move to {target.value}")
    return (
        update(BatchJob)
        .where(BatchJob.state.in_(sorted(s.value for s in wanted)))
        .values(state=target.value)
        .execution_options(synchronize_session=False)
    )


def move(
    job_id: uuid.UUID,
    target: PrintRunState,
    *,
    sources: Iterable[PrintRunState] | None = None,
    **values: Any,
) -> bool:
    """Move one run to `target` with `values` if it is in an allowed source; commits."""
    if "state" in values:
        raise RefusedTransition("the target state is the gate's to set")
    result = db.session.execute(
        transition(target, sources=sources).where(BatchJob.id == job_id).values(**values)
    )
    db.session.commit()
    return result.rowcount == 1
