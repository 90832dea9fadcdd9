"""A print run's states: the `state` of its BatchJob row (letters/printing/runs.py moves it)."""

from __future__ import annotations

from enum import StrEnum


class PrintRunState(StrEnum):
    """Where a print run stands."""

    QUEUED = "queued"  # waiting for a printer to claim it
    RUNNING = "running"  # claimed: one attempt is rendering it
    DONE = "done"  # its files are ready to download
    FAILED = "failed"  # stopped (died, hung, never started, or the event's details went)
    EXPIRED = "expired"  # done, and its files since removed for privacy


# Runs whose render is still to come or under way: the privacy clean-up stops them.
UNFINISHED = frozenset({PrintRunState.QUEUED, PrintRunState.RUNNING})
# What the organiser may print again ("Start again" when it is still queued).
REPRINTABLE = frozenset({PrintRunState.FAILED, PrintRunState.QUEUED, PrintRunState.EXPIRED})

# Where a run may go from each state; letters/printing/states.py lets no other move happen.
TRANSITIONS: dict[PrintRunState, frozenset[PrintRunState]] = {
    # Claimed by a printer; failed by the sweep or the privacy clean-up; or queued once more
    # by the organiser's "Start again" (a new attempt of a run no printer took).
    PrintRunState.QUEUED: frozenset(
        {PrintRunState.RUNNING, PrintRunState.FAILED, PrintRunState.QUEUED}
    ),
    PrintRunState.RUNNING: frozenset({PrintRunState.DONE, PrintRunState.FAILED}),
    PrintRunState.DONE: frozenset({PrintRunState.EXPIRED}),  # its files removed
    PrintRunState.FAILED: frozenset({PrintRunState.QUEUED}),  # "Print again"
    PrintRunState.EXPIRED: frozenset({PrintRunState.QUEUED}),
}


def sources_of(target: PrintRunState) -> frozenset[PrintRunState]:
    """The states a run may move to `target` from."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)
