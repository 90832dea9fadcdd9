"""Every change of a print run's state goes through letters/printing/states.py, which allows
only the moves print_runs.TRANSITIONS names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from letters.domain.print_runs import TRANSITIONS, PrintRunState
from letters.extensions import db
from letters.models import BatchJob
from letters.printing.states import RefusedTransition, move, transition
from tests import factories

ROOT = Path(__file__).resolve().parents[1]
GATE = ROOT / "letters" / "printing" / "states.py"
# A print run's state set by hand: `job.state = ...`, or state=PrintRunState... in values().
DIRECT_WRITE = re.compile(r"\bjob\.state\s*=[^=]|state\s*=\s*PrintRunState\.")


def _row(job_id) -> dict:
    db.session.expire_all()
    return dict(
        db.session.execute(select(BatchJob.__table__).where(BatchJob.id == job_id)).one()._mapping
    )


def test_every_pair_of_print_run_states_passes_the_gate_only_as_transitions_allows(app):
    allowed = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}
    passed = set()
    with app.app_context():
        event = factories.event()
        ids = {}
        for state in PrintRunState:
            job = BatchJob(event_id=event.id, state=state.value)
            db.session.add(job)
            db.session.commit()
            ids[state] = job.id
        for target in PrintRunState:
            for source in PrintRunState:
                before = {s: _row(i) for s, i in ids.items()}
                moved = move(ids[source], target)
                after = {s: _row(i) for s, i in ids.items()}
                if moved:
                    passed.add((source, target))
                    assert after[source]["state"] == target.value
                    assert {**after[source], "state": source.value} == before[source]
                    assert {s: r for s, r in after.items() if s is not source} == {
                        s: r for s, r in before.items() if s is not source
                    }
                    db.session.execute(  # set back for the next pair (the test's own setup)
                        update(BatchJob).where(BatchJob.id == ids[source]).values(state=source)
                    )
                    db.session.commit()
                else:
                    assert after == before, (source, target)
                if (source, target) not in allowed:
                    with pytest.raises(RefusedTransition):
                        move(ids[source], target, sources={source})
    assert passed == allowed


def test_a_caller_may_narrow_the_sources_but_never_widen_them():
    assert transition(PrintRunState.FAILED, sources={PrintRunState.RUNNING}) is not None
    with pytest.raises(RefusedTransition, match="a print run in queued may not move to done"):
        transition(PrintRunState.DONE, sources={PrintRunState.QUEUED})


def test_no_code_but_the_gate_writes_a_print_run_state():
    sources = [*(ROOT / "letters").rglob("*.py"), *(ROOT / "tasks").rglob("*.py")]
    writes = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        if path != GATE and "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DIRECT_WRITE.search(line)
    ]
    assert writes == []


def test_the_state_is_the_gates_to_set_never_a_callers():
    import uuid

    with pytest.raises(RefusedTransition, match="the target state is the gate's to set"):
        move(uuid.uuid4(), PrintRunState.QUEUED, state="done")
