"""Every periodic job, run once: what beat runs on its schedule and cron can run instead.

Each job finds for itself what is due at the current time (letters.clock), so running all of
them at any moment is safe, and running them twice does nothing more. `preview` counts what
a job would do without changing anything or sending anything (`letters housekeeping
--dry-run`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Job:
    """One periodic job: what it does, and how to count what it would do."""

    describe: str
    run: Callable[[], dict[str, int]]
    preview: Callable[[], dict[str, int]]


def _sweep() -> dict[str, int]:
    # The Celery adapter: the sweep hands the letters and emails it finds to the workers.
    from tasks.email import sweep

    return sweep()


def _sweep_preview() -> dict[str, int]:
    from letters.messages.sweeper import preview

    return preview()


def _followups() -> dict[str, int]:
    from letters.messages.followups import send_due

    return asdict(send_due())


def _followups_preview() -> dict[str, int]:
    from letters.messages.followups import pending

    return asdict(pending())


def _retention() -> dict[str, int]:
    from letters.retention import scrub, scrub_events

    return {"letters": scrub(), **asdict(scrub_events())}


def _retention_preview() -> dict[str, int]:
    from letters.retention import count_due, preview_events

    counts = {"letters": count_due(), **asdict(preview_events())}
    del counts["folders_removed"]  # found only by looking at the disk, as the run does
    return counts


def _print_runs() -> dict[str, int]:
    from letters.printing.runs import sweep_print_runs

    return asdict(sweep_print_runs())


def _print_runs_preview() -> dict[str, int]:
    from letters.printing.runs import preview_print_runs

    return asdict(preview_print_runs())


# In this order: the send sweep (with confirmation reminders and expiry) first, retention
# after the follow-ups, whose recent emails keep a letter's details a while longer.
JOBS: dict[str, Job] = {
    "sweep": Job(
        "letters to send, confirmations, reminders, expiry, receipts",
        _sweep,
        _sweep_preview,
    ),
    "followups": Job("did your MP reply? questions and reminders", _followups, _followups_preview),
    "retention": Job(
        "personal details past their retention period", _retention, _retention_preview
    ),
    "print_runs": Job("print runs that died or never started", _print_runs, _print_runs_preview),
}
# Beat's two schedules (letters/queue.py): the quick checks often, the slow ones hourly.
OFTEN = ("sweep", "print_runs")
HOURLY = ("followups", "retention")


def run(jobs: Iterable[str] | None = None, *, dry_run: bool = False) -> dict[str, dict[str, int]]:
    """Run (or, dry, count) the named jobs, all by default, in JOBS's order; their counts."""
    wanted = set(JOBS if jobs is None else jobs)
    unknown = wanted - set(JOBS)
    if unknown:
        raise ValueError(f"no such periodic job: {', '.join(sorted(unknown))}")
    return {
        name: (job.preview() if dry_run else job.run())
        for name, job in JOBS.items()
        if name in wanted
    }
