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
