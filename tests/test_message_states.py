"""The one gate for a message's state: only the moves lifecycle.TRANSITIONS names get through."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update

from letters.domain.lifecycle import INITIAL_STATES, TRANSITIONS, State
from letters.extensions import db
from letters.messages.states import RefusedTransition, move, start, transition
from letters.models import Message
from tests import factories

ROOT = Path(__file__).resolve().parents[1]
GATE = ROOT / "letters" / "messages" / "states.py"


def _bottom(node: ast.expr) -> ast.expr:
    """The start of a method chain: update(Message) in update(Message).where(...).values(...)."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return node


def _is_update_of_message(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "update"
        and any(isinstance(a, ast.Name) and a.id == "Message" for a in node.args)
    )


def _names_a_state(node: ast.expr) -> bool:
    """Whether an expression is a lifecycle state (State.X, State.X.value, target.value)."""
    return any(
        (isinstance(n, ast.Name) and n.id == "State")
        or (isinstance(n, ast.Attribute) and n.attr == "value")
        for n in ast.walk(node)
    )


def _state_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and _names_a_state(node.value):
                found += [
                    where for t in targets if isinstance(t, ast.Attribute) and t.attr == "state"
                ]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            chain = _bottom(node.func.value)
            if node.func.attr == "values" and _is_update_of_message(chain):
                found += [where for k in node.keywords if k.arg == "state"]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                is_state = isinstance(key, ast.Constant) and key.value == "state"
                if is_state and _names_a_state(value):
                    found.append(where)
    return found


def test_no_code_but_the_gate_writes_a_message_state():
    """Every state change is built by states.transition (a new letter's first by start)."""
    sources = [*(ROOT / "letters").rglob("*.py"), *(ROOT / "tasks").rglob("*.py")]
    writes = [
        w for p in sources if p != GATE and "migrations" not in p.parts for w in _state_writes(p)
    ]
    assert writes == []


def test_the_guard_sees_a_direct_write(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "message.state = State.QUEUED.value\n"
        "update(Message).where(x).values(state=State.SENT.value)\n"
        "values = {'state': target.value}\n"
        "job.state = 'queued'\n"  # a print run's, not a message's
        "update(BatchJob).values(state='done')\n"
    )
    assert _state_writes(sample) == ["sample.py:1", "sample.py:2", "sample.py:3"]


def test_a_caller_may_narrow_the_sources_but_never_widen_them():
    assert transition(State.SENT, sources={State.SENDING}) is not None
    with pytest.raises(RefusedTransition, match="a message in draft may not move to sent"):
        transition(State.SENT, sources={State.SENDING, State.DRAFT})
    with pytest.raises(RefusedTransition, match="the target state is the gate's to set"):
        move(None, State.SENT, state="sent")  # type: ignore[arg-type]


def test_a_refusal_names_each_state_refused_and_the_target_word_for_word():
    with pytest.raises(RefusedTransition) as widened:
        transition(State.SENT, sources={State.SENDING, State.EXPIRED, State.DRAFT})
    assert str(widened.value) == "a message in draft, expired may not move to sent"
    with pytest.raises(RefusedTransition) as own:
        move(None, State.SENT, state="sent")  # type: ignore[arg-type]
    assert str(own.value) == "the target state is the gate's to set"
    with pytest.raises(RefusedTransition) as late:
        start(Message(), State.QUEUED)
    assert str(late.value) == "a letter cannot start as queued"


def test_a_letter_starts_as_a_draft_or_waiting_for_its_confirmation():
    for state in State:
        letter = Message()
        if state in INITIAL_STATES:
            start(letter, state)
            assert letter.state == state.value
        else:
            with pytest.raises(RefusedTransition):
                start(letter, state)
    stored = Message(id=uuid.uuid4())
    with pytest.raises(RefusedTransition):
        start(stored, State.DRAFT)  # a stored letter moves only through transition()


def _row(message_id: uuid.UUID) -> dict[str, object]:
    return dict(
        db.session.execute(select(Message.__table__).where(Message.id == message_id)).one()._mapping
    )


def test_every_pair_of_states_passes_the_gate_only_as_transitions_allows(app):
    """From each state to each state: the allowed moves happen, every other leaves the row as
    it was (on PostgreSQL too, with LETTERS_TEST_DATABASE_URL)."""
    allowed = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}
    passed = set()
    with app.app_context():
        rows = {state: factories.message(delivery="email", state=state.value) for state in State}
        ids = {state: row.id for state, row in rows.items()}
        for target in State:
            for source in State:
                before = {s: _row(i) for s, i in ids.items()}
                moved = move(ids[source], target)
                after = {s: _row(i) for s, i in ids.items()}
                if moved:
                    passed.add((source, target))
                    assert after[source]["state"] == target.value
                    # Nothing else changed (but the row's own updated_at), here or elsewhere.
                    stamp = {"state": source.value, "updated_at": before[source]["updated_at"]}
                    assert {**after[source], **stamp} == before[source]
                    assert {s: r for s, r in after.items() if s is not source} == {
                        s: r for s, r in before.items() if s is not source
                    }
                    db.session.execute(
                        update(Message)  # set back for the next pair (a test's own setup)
                        .where(Message.id == ids[source])
                        .values(state=source.value)
                    )
                    db.session.commit()
                else:
                    assert after == before, (source, target)
                # Naming the source outright is refused before it reaches the database.
                if (source, target) not in allowed:
                    with pytest.raises(RefusedTransition):
                        move(ids[source], target, sources={source})
                    assert {s: _row(i) for s, i in ids.items()} == before
    assert passed == allowed
