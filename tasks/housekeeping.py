"""The periodic jobs' task: beat calls it with the jobs of each schedule (letters/queue.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="letters.housekeeping")
def housekeeping(jobs: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Periodic: run the named jobs of letters.housekeeping (all of them when None)."""
    from letters.housekeeping import run

    return run(jobs)
