"""A gate that every change of a row's state goes through: one conditional UPDATE whose WHERE
clause names the states a lifecycle's TRANSITIONS allow to move to the target.

Two processes may race on one row (two workers, a worker and the sweep, a worker and a
person's edit): the database applies the UPDATEs one after the other, and only the first still
finds the row in an allowed state. Messages (letters/messages/states.py) and print runs
(letters/printing/states.py) each have one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Update, update

from letters.extensions import db

S = TypeVar("S", bound=StrEnum)


class RefusedTransition(ValueError):
    """Code asked for a move the lifecycle does not allow (a bug, not a race)."""


@dataclass(frozen=True)
class Gate(Generic[S]):
    """The gate of one table whose `state` column follows a lifecycle."""

    model: Any  # the mapped class, with `id` and `state` columns
    sources_of: Callable[[S], frozenset[S]]  # the states that may move to a target
    noun: str  # what a row is, for the refusal's message

    def transition(self, target: S, *, sources: Iterable[S] | None = None) -> Update:
        """UPDATE table SET state = target WHERE state IN (the allowed sources).

        The caller adds the rows (`.where(...)`) and the columns that change with the state
        (`.values(...)`), never `state` itself. `sources` narrows the allowed sources for one
        step; it cannot widen them.
        """
        allowed = self.sources_of(target)
        wanted = allowed if sources is None else frozenset(sources)
        if not wanted <= allowed:
            refused = ", ".join(sorted(s.value for s in wanted - allowed))
            raise RefusedTransition(f"a {self.noun} in {refused} may not move to {target.value}")
        return (
            update(self.model)
            .where(self.model.state.in_(sorted(s.value for s in wanted)))
            .values(state=target.value)
            .execution_options(synchronize_session=False)
        )

    def move(
        self,
        row: ColumnElement[bool],
        target: S,
        *,
        sources: Iterable[S] | None = None,
        commit: bool = True,
        **values: Any,
    ) -> bool:
        """Move the one row `row` selects to `target`, with `values`, if it is in an allowed
        source state. True when this caller moved it; False when it was elsewhere."""
        if "state" in values:
            raise RefusedTransition("the target state is the gate's to set")
        result = db.session.execute(
            self.transition(target, sources=sources).where(row).values(**values)
        )
        if commit:
            db.session.commit()
        return result.rowcount == 1
