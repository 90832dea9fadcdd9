"""An event's letters from the database to PDF files: shared by the pages and the Celery task."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select, update

from letters.batch import BatchOptions, Electorate, Targets, electorates, render_batch
from letters.campaigns import EXTENSION_KEY
from letters.domain.attendees import letter_for_attendee, print_order
from letters.domain.campaign import Campaign
from letters.domain.compose import format_date
from letters.extensions import db
from letters.models import Attendee, BatchJob, Event

log = logging.getLogger(__name__)

# A job still "running" this long after it started lost its worker; another may take it over.
STALE_AFTER = dt.timedelta(minutes=30)
PROGRESS_EVERY_SECONDS = 0.5
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


def targets_for(folder: Path, options: dict[str, object]) -> Targets:
    """The files a job with these options writes."""
    return Targets(
        pdf=folder / FILE_NAMES["pdf"],
        zip=folder / FILE_NAMES["zip"] if options.get("zip") else None,
        labels=folder / FILE_NAMES["labels"] if options.get("labels") else None,
        envelopes=folder / FILE_NAMES["envelopes"] if options.get("envelopes") else None,
    )


def _claim(job_id: uuid.UUID) -> bool:
    """Mark the job running, unless another worker already is running it (one UPDATE)."""
    now = dt.datetime.now(dt.UTC)
    claimed = db.session.execute(
        update(BatchJob)
        .where(
            BatchJob.id == job_id,
            or_(
                BatchJob.state == "queued",
                and_(BatchJob.state == "running", BatchJob.started_at < now - STALE_AFTER),
            ),
        )
        .values(state="running", started_at=now, done=0, stage="letters", error="")
    )
    db.session.commit()
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def run_batch_job(job_id: uuid.UUID, workers: int | None = None) -> str:
    """Render a queued job's files and record the outcome on its row; returns its state."""
    if not _claim(job_id):
        return "skipped"
    job = db.session.get(BatchJob, job_id)
    assert job is not None
    event = db.session.get(Event, job.event_id)
    folder = job_folder(job.id)
    try:
        if event is None:
            raise LookupError("the event was deleted")
        campaign = event_campaign(event)
        attendees = attendees_in_print_order(event.id)
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
            db.session.execute(
                update(BatchJob)
                .where(BatchJob.id == job_id)
                .values(done=done, total=total, stage=stage)
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
        db.session.rollback()
        job = db.session.get(BatchJob, job_id)
        assert job is not None
        job.state = "failed"
        job.error = str(exc)[:2000] or type(exc).__name__
        job.finished_at = dt.datetime.now(dt.UTC)
        db.session.commit()
        shutil.rmtree(folder, ignore_errors=True)
        return job.state
    job = db.session.get(BatchJob, job_id)
    assert job is not None
    job.state = "done"
    job.done = job.total = result.letters
    job.stage = "done"
    job.files = [path.name for path in result.files]
    job.finished_at = dt.datetime.now(dt.UTC)
    db.session.commit()
    return job.state
