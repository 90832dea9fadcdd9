"""Print-run tasks: thin adapters that take a job id and call the print-run service (runs.py).

They run on the print queue (letters/queue.py routes them), whose workers are `letters
printer`: a print run holds its worker for minutes and every core, so the email queue's
workers are never among those it takes.

Why a child interpreter (`letters organiser render-job`) rather than the pool started from
the task itself: a Celery prefork pool process is daemonic and may not start the render pool;
with `-P solo` or threads the task could, but a hung render (alive, making no progress) could
then only be stopped by killing the worker with it, and the out-of-memory killer would take
the worker rather than the render. The child, in a process group of its own, is the unit that
can be stopped whole (render, fork server and pool) while the worker goes on. Celery's own
time limits would not help: the solo and thread pools do not enforce them, and a fixed limit
would have to outlast the longest run, where the sweep's progress timeout notices a hang in
minutes. There is one heartbeat: this task's, which lives exactly as long as the child it
waits for; the child only records progress.

A print run whose process dies is marked failed, and is not retried by itself. Celery's
acks_late and reject_on_worker_lost (letters/queue.py) still apply to these tasks: when a
worker dies mid-task its message may be delivered again, but claim() takes only a queued job,
so a redelivered message skips a run that had started (and starts one that had not). We do not
retry a run that died because its likely causes repeat: it renders on every core with much
memory, so it is most often stopped by the out-of-memory killer or by an operator stopping a
stuck worker, and a second attempt would most likely die the same way and take its printer
down with it again. The organiser is watching the progress page, which says the
run stopped and offers "Print again": one click, when they choose. Nor is redelivery a
dependable trigger for a retry: the file-system broker loses the message of a worker that is
killed outright, and Redis returns one only after its visibility timeout, an hour later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from typing import IO

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="letters.render_batch")
def render_event_batch(job_id: str) -> str:
    """Render an event's print run (a wake-up: the job row says what to print)."""
    from letters.printing.runs import (
        STOPPED_UNEXPECTEDLY,
        claim,
        fail_attempt,
        heartbeat,
        heartbeat_interval,
        render_wanted,
    )

    attempt = claim(uuid.UUID(job_id))
    if attempt is None:
        return "skipped"
    # The run happens in a fresh interpreter of ours (see above). It sees the same settings
    # (the environment) and records progress and errors on the job row itself; this process
    # beats for it from start-up to exit.
    with (
        heartbeat(uuid.UUID(job_id), attempt),
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
    ):
        returncode = _run_render(
            job_id,
            attempt,
            stdout,
            stderr,
            still_wanted=lambda: render_wanted(uuid.UUID(job_id), attempt),
            check_every=heartbeat_interval(),
        )
        stdout.seek(0)
        stderr.seek(0)
        output = stdout.read().decode(errors="replace").strip()
        errors = stderr.read()[-2000:].decode(errors="replace")
    if returncode != 0:
        # The render records its own errors and exits 0; anything else means it could not
        # (killed, out of memory, crashed): fail the attempt now rather than at the sweep.
        log.error("print run %s exited with %s: %s", job_id, returncode, errors)
        fail_attempt(uuid.UUID(job_id), attempt, STOPPED_UNEXPECTEDLY)
        return "failed"
    return output


def _run_render(
    job_id: str,
    attempt: int,
    stdout: IO[bytes],
    stderr: IO[bytes],
    *,
    still_wanted: Callable[[], bool],
    check_every: float,
) -> int:
    """Run `letters organiser render-job` to its end, or until its run is no longer wanted.

    The run stops being wanted when the sweep fails it (hung: alive but making no progress),
    when the event's details expire, or when it was replaced: the render is then stopped
    rather than left holding a worker and every core. Its exit code (negative: killed).

    The render gets a process group of its own, and whatever is left in that group when it
    ends is killed: a render killed mid-run leaves its pool processes (and their fork server)
    waiting for work for ever otherwise, each holding a renderer's memory. Its output goes to
    files rather than pipes for the same reason: those orphans would hold a pipe open, and
    reading it to its end would wait for them.
    """
    render = subprocess.Popen(  # noqa: S603 - our own interpreter and module; a UUID, an int
        [
            sys.executable,
            "-m",
            "letters",
            "organiser",
            "render-job",
            job_id,
            "--attempt",
            str(attempt),
        ],
        stdout=stdout,
        stderr=stderr,
        process_group=0,
    )
    try:
        while True:
            try:
                return render.wait(timeout=check_every)
            except subprocess.TimeoutExpired:
                if not still_wanted():
                    log.warning("print run %s is no longer wanted; stopping its render", job_id)
                    os.killpg(render.pid, signal.SIGKILL)
                    return render.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(render.pid, signal.SIGKILL)


@shared_task(name="letters.sweep_print_runs")
def sweep_print_runs() -> dict[str, int]:
    """Periodic: fail print runs whose process died, or that no worker ever started."""
    from dataclasses import asdict

    from letters.printing.runs import sweep_print_runs as sweep

    return asdict(sweep())
