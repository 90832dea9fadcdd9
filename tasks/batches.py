"""Batch printing tasks: thin adapters that take a job id and call letters.organiser.printing."""

from __future__ import annotations

import logging
import subprocess
import sys

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="letters.render_batch")
def render_event_batch(job_id: str) -> str:
    """Render an event's print run (a wake-up: the job row says what to print)."""
    # A Celery pool process is daemonic and may not start the render pool that uses every
    # core, so the run happens in a fresh interpreter of ours that may. It sees the same
    # settings (the environment) and records progress and errors on the job row itself.
    result = subprocess.run(  # noqa: S603 - our own interpreter and module, the id is a UUID
        [sys.executable, "-m", "letters", "organiser", "render-job", job_id],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log.error("print run %s failed: %s", job_id, result.stderr[-2000:])
    return result.stdout.strip()
