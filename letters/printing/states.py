"""The one gate every change of a print run's state goes through (the BatchJob row).

As for messages (letters/state_gate.py): one conditional UPDATE whose WHERE clause names the
states `print_runs.TRANSITIONS` allows to move to the target, so a printer, the sweep, the
privacy clean-up and an organiser racing on one run cannot move it where it may not go.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Update

from letters.domain.print_runs import PrintRunState, sources_of
from letters.models import BatchJob
from letters.state_gate import Gate, RefusedTransition

__all__ = ["RefusedTransition", "move", "transition"]

GATE: Gate[PrintRunState] = Gate(BatchJob, sources_of, "print run")


def transition(target: PrintRunState, *, sources: Iterable[PrintRunState] | None = None) -> Update:
    """UPDATE batch_job SET state = target WHERE state IN (the allowed sources)."""
    return GATE.transition(target, sources=sources)


def move(
    job_id: uuid.UUID,
    target: PrintRunState,
    *,
    sources: Iterable[PrintRunState] | None = None,
    **values: Any,
) -> bool:
    """Move one run to `target` with `values` if it is in an allowed source; commits."""
    return GATE.move(BatchJob.id == job_id, target, sources=sources, **values)
