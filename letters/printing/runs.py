"""The print-run service: an event's letters from the database to PDF files, on a BatchJob row.

A run is claimed (one conditional UPDATE), rendered by render_batch() with its progress on
the row, and finished or failed only while its attempt is still the live one; the sweep fails
runs whose process died, hung or never started. The organiser pages, the Celery tasks
(tasks.py) and `letters organiser render-job` call it; nothing here retries by itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Engine, and_, func, select, update

from letters import clock
from letters.campaigns import EXTENSION_KEY
from letters.domain.attendees import letter_for_attendee, print_order
from letters.domain.campaign import Campaign
from letters.domain.compose import format_date
from letters.domain.print_runs import PrintRunState
from letters.extensions import db
from letters.models import Attendee, BatchJob, Event
from letters.printing.batch import render_batch
from letters.printing.plan import BatchOptions, Electorate, Targets, electorates
from letters.printing.states import transition

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 0.5
# What the organiser reads on a print run that the sweep or the task found dead.
STOPPED_UNEXPECTEDLY = (
    "The print run stopped unexpectedly before it finished (its process ended or stopped "
    "responding). Print again to start it over."
)
HUNG = (
    "The print run stopped making progress, so it was stopped. Print again to start it over; "
    "if it stops again, tell whoever runs this site."
)
NEVER_STARTED = (
    "No worker started this print run in time. Check that the workers are running, "
    "then print again."
)
FILE_NAMES = {
    "pdf": "letters.pdf",
    "zip": "letters-by-electorate.zip",
    "labels": "labels.pdf",
    "envelopes": "envelopes.pdf",
}


def attendees_in_print_order(event_id: int) -> list[Attendee]:
    """The event's attendees by state, division and surname (then as they were added)."""
    attendees = db.session.scalars(select(Attendee).where(Attendee.event_id == event_id)).all()
    return sorted(attendees, key=lambda a: (*print_order(a), a.id))


def event_campaign(event: Event) -> Campaign:
    """The event's campaign; a LookupError when its file has since been removed."""
    campaigns: dict[str, Campaign] = current_app.extensions[EXTENSION_KEY]
    campaign = campaigns.get(event.campaign_key)
    if campaign is None:
        raise LookupError(f"the campaign {event.campaign_key!r} is no longer installed")
    return campaign


def event_heading(event: Event) -> str:
    """What each cover sheet says about the event."""
    parts = [event.name, format_date(event.date)]
    if event.venue:
        parts.append(event.venue)
    return " · ".join(parts)


def event_electorates(
    event: Event, campaign: Campaign, attendees: Sequence[Attendee], blank: int = 0
) -> list[Electorate]:
    """The letters grouped by electorate, dated the day of the event."""
    letters = (letter_for_attendee(campaign, attendee, event.date) for attendee in attendees)
    return electorates(letters, blank)


def job_folder(job_id: uuid.UUID) -> Path:
    """Where a job's files live (web and workers must share the instance folder)."""
    return Path(current_app.config["INSTANCE_DIR"]) / "batches" / str(job_id)


def attempt_folder(job_id: uuid.UUID, attempt: int) -> Path:
    """One attempt's files, inside the job's folder.

    Each attempt writes its own folder, so a run presumed dead that is in fact still writing
    can never mix its pages into the files of the attempt that replaced it.
    """
    return job_folder(job_id) / str(attempt)


def targets_for(folder: Path, options: dict[str, object]) -> Targets:
    """The files a job with these options writes."""
    return Targets(
        pdf=folder / FILE_NAMES["pdf"],
        zip=folder / FILE_NAMES["zip"] if options.get("zip") else None,
        labels=folder / FILE_NAMES["labels"] if options.get("labels") else None,
        envelopes=folder / FILE_NAMES["envelopes"] if options.get("envelopes") else None,
    )


def heartbeat_interval() -> float:
    """How often a running job says it is alive: several times within the timeout."""
    return min(15.0, current_app.config["BATCH_HEARTBEAT_TIMEOUT_SECONDS"] / 4)


def claim(job_id: uuid.UUID) -> int | None:
    """Mark a queued job running (one conditional UPDATE); its new attempt number, or None.

    Only a queued job is taken: a running one belongs to a live process, or the sweep will
    fail it when its heartbeat stops. So a duplicate or redelivered task message is harmless.
    """
    now = clock.now()
    attempt = db.session.execute(
        transition(PrintRunState.RUNNING)
        .where(BatchJob.id == job_id)
        .values(
            attempt=BatchJob.attempt + 1,
            started_at=now,
            heartbeat_at=now,
            progress_at=now,
            finished_at=None,
            done=0,
            stage="letters",
            error="",
        )
        .returning(BatchJob.attempt)
    ).scalar_one_or_none()
    db.session.commit()
    return attempt


def _ours(job_id: uuid.UUID, attempt: int) -> tuple[Any, ...]:
    """The WHERE clause of every write a run makes: only while its attempt is the live one."""
    return (
        BatchJob.id == job_id,
        BatchJob.attempt == attempt,
        BatchJob.state == PrintRunState.RUNNING,
    )


def _beat(engine: Engine, job_id: uuid.UUID, attempt: int) -> bool:
    """Record that the attempt is alive; False once it no longer is the job's live attempt."""
    with engine.begin() as connection:
        result = connection.execute(
            update(BatchJob).where(*_ours(job_id, attempt)).values(heartbeat_at=clock.now())
        )
        return bool(result.rowcount)


@contextmanager
def heartbeat(job_id: uuid.UUID, attempt: int) -> Iterator[None]:
    """Update the job's heartbeat from a thread while the body runs.

    Progress reports also beat, but a long stage (labels, envelopes, one big electorate) can go
    minutes without one. The thread dies with its process, which is what the sweep detects.
    """
    engine, interval = db.engine, heartbeat_interval()
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            try:
                if not _beat(engine, job_id, attempt):
                    return  # failed by the sweep, expired, or retried: nothing left to keep alive
            except Exception:
                log.exception("heartbeat of print run %s failed; trying again", job_id)

    thread = threading.Thread(target=run, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def render_wanted(job_id: uuid.UUID, attempt: int) -> bool:
    """Whether this attempt's render should go on: it is the job's current attempt, running
    (or just done: it is exiting). Not when the sweep failed it, its event's details went,
    or a retry replaced it."""
    db.session.rollback()  # a fresh read, not what this session saw before
    state = db.session.execute(
        select(BatchJob.state).where(BatchJob.id == job_id, BatchJob.attempt == attempt)
    ).scalar_one_or_none()
    return state in (PrintRunState.RUNNING, PrintRunState.DONE)


def fail_attempt(job_id: uuid.UUID, attempt: int, error: str) -> bool:
    """Mark this attempt failed, if it is still the live one, and remove its partial files."""
    db.session.rollback()
    failed = db.session.execute(
        transition(PrintRunState.FAILED, sources={PrintRunState.RUNNING})
        .where(*_ours(job_id, attempt))
        .values(
            error=error[:2000],
            stage="",
            finished_at=clock.now(),
        )
    )
    db.session.commit()
    if not failed.rowcount:  # type: ignore[attr-defined]
        return False  # another attempt is live (and owns the job's files), or none is
    shutil.rmtree(attempt_folder(job_id, attempt), ignore_errors=True)
    return True


def run_batch_job(job_id: uuid.UUID, workers: int | None = None, attempt: int | None = None) -> str:
    """Render a job's files and record the outcome on its row; returns what happened.

    With no attempt the job is claimed here, and this process beats for it. The Celery task
    claims it first and passes the attempt, so that it can fail the attempt if this process
    dies; the task's process then beats for it, and this one only records progress.
    """
    if attempt is not None:
        return _render(job_id, attempt, workers)
    attempt = claim(job_id)
    if attempt is None:
        return "skipped"
    with heartbeat(job_id, attempt):
        return _render(job_id, attempt, workers)


# Ids per UPDATE: under every database's limit on bound parameters.
_MARK_CHUNK = 500


def mark_printed(attendee_ids: Sequence[int], now: dt.datetime) -> None:
    """Record that these attendees' letters were printed, keeping the first time for each
    (a follow-up counts its days from then; printing again does not restart it). The caller
    commits."""
    for start in range(0, len(attendee_ids), _MARK_CHUNK):
        db.session.execute(
            update(Attendee)
            .where(
                Attendee.id.in_(attendee_ids[start : start + _MARK_CHUNK]),
                Attendee.printed_at.is_(None),
            )
            .values(printed_at=now)
            .execution_options(synchronize_session=False)
        )


def _render(job_id: uuid.UUID, attempt: int, workers: int | None) -> str:
    job = db.session.get(BatchJob, job_id)
    if job is None or (job.attempt, job.state) != (attempt, PrintRunState.RUNNING):
        return "skipped"  # no longer this attempt's to run
    event = db.session.get(Event, job.event_id)
    folder = attempt_folder(job.id, attempt)
    try:
        if event is None:
            raise LookupError("the event was deleted")
        campaign = event_campaign(event)
        attendees = attendees_in_print_order(event.id)
        # Taken now: the progress commits below expire the rows, and reading them again
        # would cost a query each.
        printed = [a.id for a in attendees]
        unsettled = sum(1 for a in attendees if not a.settled)
        if unsettled:
            raise ValueError(f"{unsettled} attendees still need their division chosen")
        if not attendees:
            raise ValueError("the event has no attendees")
        options = dict(job.options)
        blank = int(options.get("blank", 0) or 0)  # type: ignore[call-overload]
        groups = event_electorates(event, campaign, attendees, blank)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        last = 0.0

        def progress(done: int, total: int, stage: str) -> None:
            nonlocal last
            if stage != "done" and time.monotonic() - last < PROGRESS_EVERY_SECONDS:
                return
            last = time.monotonic()
            now = clock.now()
            db.session.execute(
                update(BatchJob)
                .where(*_ours(job_id, attempt))
                .values(done=done, total=total, stage=stage, heartbeat_at=now, progress_at=now)
            )
            db.session.commit()

        result = render_batch(
            groups,
            targets_for(folder, options),
            BatchOptions(
                heading=event_heading(event),
                address_per=str(options.get("address_per") or "letter"),
                title=f"Letters from {event.name}",
            ),
            workers=workers or current_app.config.get("BATCH_WORKERS") or None,
            progress=progress,
        )
    except Exception as exc:
        log.exception("batch job %s failed", job_id)
        fail_attempt(job_id, attempt, str(exc) or type(exc).__name__)
        return "failed"
    finished = db.session.execute(
        transition(PrintRunState.DONE)
        .where(*_ours(job_id, attempt))
        .values(
            done=result.letters,
            total=result.letters,
            stage="done",
            files=[path.name for path in result.files],
            finished_at=clock.now(),
        )
    )
    if finished.rowcount:  # type: ignore[attr-defined]
        # In the same commit as the run's success: these letters are now on paper.
        mark_printed(printed, clock.now())
    db.session.commit()
    if not finished.rowcount:  # type: ignore[attr-defined]
        # Failed by the sweep or expired meanwhile: nobody will be offered these files.
        shutil.rmtree(folder, ignore_errors=True)
        return "abandoned"
    # Earlier attempts' folders (left by a process that died) hold nothing anyone can fetch.
    for other in job_folder(job_id).iterdir():
        if other != folder:
            shutil.rmtree(other, ignore_errors=True)
    return "done"


@dataclass
class Sweep:
    """What one sweep of print runs found."""

    stalled: int = 0  # running, but the heartbeat stopped
    hung: int = 0  # running and beating, but nothing done for too long
    never_started: int = 0  # queued for longer than a worker should take to start it


def _sweep_rules(now: dt.datetime) -> dict[str, tuple[str, ColumnElement[bool]]]:
    """Each kind of run the sweep fails: its error and the WHERE clause that finds it."""
    config = current_app.config
    last_sign = func.coalesce(BatchJob.heartbeat_at, BatchJob.created_at)

    def older_than(moment: ColumnElement[dt.datetime], setting: str) -> ColumnElement[bool]:
        return moment < now - dt.timedelta(seconds=config[setting])

    return {
        "stalled": (
            STOPPED_UNEXPECTEDLY,
            and_(
                BatchJob.state == PrintRunState.RUNNING,
                older_than(last_sign, "BATCH_HEARTBEAT_TIMEOUT_SECONDS"),
            ),
        ),
        # The render's process is alive (its heartbeat goes on) but stuck; its task sees the
        # row fail and stops it (letters/printing/tasks.py).
        "hung": (
            HUNG,
            and_(
                BatchJob.state == PrintRunState.RUNNING,
                older_than(
                    func.coalesce(BatchJob.progress_at, BatchJob.started_at),
                    "BATCH_PROGRESS_TIMEOUT_SECONDS",
                ),
            ),
        ),
        "never_started": (
            NEVER_STARTED,
            and_(
                BatchJob.state == PrintRunState.QUEUED,
                older_than(last_sign, "BATCH_QUEUED_TIMEOUT_SECONDS"),
            ),
        ),
    }


def preview_print_runs(now: dt.datetime | None = None) -> Sweep:
    """What sweep_print_runs would fail now, as counts; changes nothing."""
    rules = _sweep_rules(now or clock.now())

    def count(kind: str) -> int:
        condition = rules[kind][1]
        return int(
            db.session.scalar(select(func.count()).select_from(BatchJob).where(condition)) or 0
        )

    # A run both stalled and hung is failed once, as stalled.
    stalled = count("stalled")
    hung = int(
        db.session.scalar(
            select(func.count()).select_from(BatchJob).where(rules["hung"][1], ~rules["stalled"][1])
        )
        or 0
    )
    return Sweep(stalled=stalled, hung=hung, never_started=count("never_started"))


def sweep_print_runs(now: dt.datetime | None = None) -> Sweep:
    """Fail print runs whose process died (no heartbeat) or hung, or that no worker started.

    A failed run is not queued again here: the organiser prints again when they choose (see
    letters/printing/tasks.py for why nothing retries by itself).
    """
    now = now or clock.now()
    rules = _sweep_rules(now)

    def fail(kind: str) -> list[tuple[uuid.UUID, int]]:
        """Fail the runs that match; their ids and attempts."""
        error, condition = rules[kind]
        failed = db.session.execute(
            transition(PrintRunState.FAILED)
            .where(condition)
            .values(error=error, stage="", finished_at=now)
            .returning(BatchJob.id, BatchJob.attempt)
        )
        return [(job_id, attempt) for job_id, attempt in failed]

    stalled = fail("stalled")
    hung = fail("hung")
    never_started = fail("never_started")
    db.session.commit()
    for job_id, attempt in [*stalled, *hung]:
        shutil.rmtree(attempt_folder(job_id, attempt), ignore_errors=True)
    return Sweep(stalled=len(stalled), hung=len(hung), never_started=len(never_started))
