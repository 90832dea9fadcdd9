"""Organiser pages: events, attendee import and settling, printing; thin over the domain."""

from __future__ import annotations

import base64
import datetime as dt
import io
import uuid
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import delete, func, insert, select
from wtforms import SelectChoice

from letters import clock
from letters.body_limits import body_limit
from letters.campaigns import EXTENSION_KEY
from letters.domain.attendees import (
    COLUMNS,
    AttendeeRow,
    ImportReport,
    attendee_csv_rows,
    problems_csv,
    read_attendees,
    sample_attendees,
    write_csv,
)
from letters.domain.campaign import Campaign
from letters.domain.directory import AEC_FINDER_URL, Directory, Division, load_directory
from letters.domain.members import MemberChoice, resolve_member
from letters.domain.members import settle as settle_member
from letters.domain.print_runs import REPRINTABLE, UNFINISHED, PrintRunState
from letters.extensions import db
from letters.models import Attendee, BatchJob, Event, FollowUp
from letters.organiser import bp
from letters.organiser.forms import AttendeeForm, ConfirmForm, EventForm, ImportForm, PrintForm
from letters.organiser.kiosk import kiosk_expires_at, kiosk_url, short_url
from letters.organiser.qr import qr_svg
from letters.printing.runs import (
    attempt_folder,
    attendees_in_print_order,
    event_campaign,
)
from letters.printing.states import move
from letters.retention import event_data_removal_at

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
# The form around the file (its boundaries, headers and CSRF token) is a few hundred bytes; a
# file a little over the limit gets the friendly message below, a far larger one a 413.
IMPORT_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
ATTENDEES_PER_PAGE = 200
# The report page lists this many problems; its download holds every problem the report kept
# (attendees.MAX_PROBLEMS_KEPT), so the page stays small however bad the file.
PROBLEMS_SHOWN = 100


def _directory() -> Directory | None:
    return load_directory(current_app.config["DATA_DIR"])


def _campaigns() -> dict[str, Campaign]:
    return current_app.extensions[EXTENSION_KEY]


def _event_or_404(event_id: int) -> Event:
    """The event, if it is the logged-in organiser's; others' events do not exist for them."""
    return db.first_or_404(
        select(Event).where(Event.id == event_id, Event.organiser_id == current_user.id)
    )


def _attendee_or_404(event: Event, attendee_id: int) -> Attendee:
    return db.first_or_404(
        select(Attendee).where(Attendee.id == attendee_id, Attendee.event_id == event.id)
    )


def _job_or_404(job_id: uuid.UUID) -> tuple[BatchJob, Event]:
    job = db.get_or_404(BatchJob, job_id)
    return job, _event_or_404(job.event_id)


def _closed(event: Event) -> Response | None:
    """Back to the event page when its attendees' details are gone; None while it is open.

    Adding or printing then would be surprising: new details would be removed within the hour,
    and the letters would be signed "(removed)".
    """
    if event.personal_data_removed_at is None:
        return None
    flash(
        "This event's attendee details were removed for privacy, so it takes no more "
        "attendees and prints no letters. Create a new event for new letters.",
        "error",
    )
    return redirect(url_for("organiser.event", event_id=event.id), code=303)


def _counts(event_id: int) -> tuple[int, int]:
    """(attendees, attendees whose division is still to be chosen)."""
    total, unsettled = db.session.execute(
        select(
            func.count(Attendee.id),
            func.count(Attendee.id).filter(Attendee.division == ""),
        ).where(Attendee.event_id == event_id)
    ).one()
    return int(total), int(unsettled)


@bp.get("/")
def events() -> str:
    """The organiser's events."""
    rows = db.session.scalars(
        select(Event)
        .where(Event.organiser_id == current_user.id)
        .order_by(Event.date.desc(), Event.id.desc())
    ).all()
    counts = {event.id: _counts(event.id) for event in rows}
    return render_template("organiser/events.html", events=rows, counts=counts)


@bp.get("/letters")
def letters_overview() -> str:
    """Supporters' letters per member: counts, delivery, form-letter share, failing addresses."""
    from letters.organiser.overview import RATE_FROM_ANSWERS, members_overview, replies_by_member

    return render_template(
        "organiser/letters.html",
        rows=members_overview(),
        replies=replies_by_member(),
        rate_from=RATE_FROM_ANSWERS,
    )


@bp.get("/replies")
def shared_replies() -> str:
    """The replies writers pasted and chose to share with the campaign (never public)."""
    from letters.messages.followups import ANSWER_LABELS
    from letters.organiser.overview import shared_replies as replies

    division = request.args.get("division", "", type=str)
    return render_template(
        "organiser/replies.html",
        replies=replies(division or None, current_user.id),
        division=division,
        labels={answer.value: label for answer, label in ANSWER_LABELS.items()},
    )


def _event_form(**kwargs: Any) -> EventForm:
    form = EventForm(**kwargs)
    form.campaign.choices = [SelectChoice(c.key, c.title) for c in _campaigns().values()]
    return form


@bp.route("/events/new", methods=["GET", "POST"])
def event_new() -> Response | tuple[str, int]:
    """Create an event."""
    form = _event_form(data={"campaign": current_app.config["DEFAULT_CAMPAIGN"]})
    if form.validate_on_submit():
        event = Event(organiser_id=current_user.id)
        _save_event(form, event)
        db.session.add(event)
        db.session.commit()
        flash(f"Event “{event.name}” created. Now import its attendee list.", "info")
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    return render_template("organiser/event_form.html", form=form, event=None), (
        422 if form.errors else 200
    )


def _save_event(form: EventForm, event: Event) -> None:
    event.name = form.name.data or ""
    event.date = form.date.data or clock.today(current_app.config["TIMEZONE"])
    event.venue = form.venue.data or ""
    event.campaign_key = form.campaign.data or current_app.config["DEFAULT_CAMPAIGN"]


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
def event_edit(event_id: int) -> Response | tuple[str, int]:
    """Change an event's details."""
    event = _event_or_404(event_id)
    form = _event_form(
        obj=None,
        data={
            "name": event.name,
            "date": event.date,
            "venue": event.venue,
            "campaign": event.campaign_key,
        },
    )
    if form.validate_on_submit():
        _save_event(form, event)
        db.session.commit()
        flash("Event saved.", "info")
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    return render_template("organiser/event_form.html", form=form, event=event), (
        422 if form.errors else 200
    )


@bp.get("/events/<int:event_id>")
def event(event_id: int) -> str:
    """An event: its attendees, the import, printing and the kiosk link."""
    event = _event_or_404(event_id)
    total, unsettled = _counts(event.id)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    attendees = db.session.scalars(
        select(Attendee)
        .where(Attendee.event_id == event.id)
        .order_by(Attendee.id)
        .offset((page - 1) * ATTENDEES_PER_PAGE)
        .limit(ATTENDEES_PER_PAGE)
    ).all()
    jobs = db.session.scalars(
        select(BatchJob)
        .where(BatchJob.event_id == event.id)
        .order_by(BatchJob.created_at.desc())
        .limit(5)
    ).all()
    return render_template(
        "organiser/event.html",
        event=event,
        removal_on=_local_date(event_data_removal_at(event.date)),
        removed_on=_local_date(event.personal_data_removed_at),
        keep_days=current_app.config["KEEP_EVENT_DATA_DAYS"],
        print_days=current_app.config["KEEP_PRINT_FILES_DAYS"],
        followup_days=current_app.config["FOLLOWUP_AFTER_DAYS"],
        campaign=_campaigns().get(event.campaign_key),
        total=total,
        unsettled=unsettled,
        attendees=attendees,
        page=page,
        pages=max(1, -(-total // ATTENDEES_PER_PAGE)),
        jobs=jobs,
        import_form=ImportForm(),
        print_form=PrintForm(),
        confirm_form=ConfirmForm(),
        has_directory=_directory() is not None,
    )


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    """The day a moment falls on in the site's time zone, as organisers read dates."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


@bp.post("/events/<int:event_id>/import")
@body_limit(IMPORT_BODY_BYTES)
def event_import(event_id: int) -> Response | tuple[str, int]:
    """Import an attendee CSV: every good row is added; every problem is reported."""
    event = _event_or_404(event_id)
    if closed := _closed(event):
        return closed
    form = ImportForm()
    if not form.validate_on_submit():
        for message in form.file.errors or ["The form had expired: choose the file again."]:
            flash(message, "error")
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    directory = _directory()
    if directory is None:
        flash("No member data is loaded yet: run `letters data refresh` first.", "error")
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    data = form.file.data.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        flash(f"That file is over {MAX_UPLOAD_BYTES // 2**20} MB: split it.", "error")
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    report = read_attendees(data, event_campaign(event), directory)
    if not report.file_errors:
        report.skip_duplicates(
            db.session.execute(
                select(Attendee.name, Attendee.email, Attendee.postcode).where(
                    Attendee.event_id == event.id
                )
            ).all()
        )
    if report.rows:
        db.session.execute(
            insert(Attendee), [_attendee_values(event.id, row) for row in report.rows]
        )
        db.session.commit()
    return _render_report(event, report, form.file.data.filename or "the file")


def _attendee_values(event_id: int, row: AttendeeRow) -> dict[str, object]:
    return {
        "event_id": event_id,
        "source": "import",
        "source_row": row.row,
        "name": row.name,
        "email": row.email,
        "street": row.street,
        "suburb": row.suburb,
        "state": row.state,
        "postcode": row.postcode,
        "division": row.division,
        "division_state": row.division_state,
        "member_name": row.member_name,
        "member_party": row.member_party,
        "statistics": list(row.statistics),
        "recommendations": list(row.recommendations),
        "personal_note": row.personal_note,
        "may_follow_up": row.may_follow_up,
    }


def _render_report(event: Event, report: ImportReport, filename: str) -> tuple[str, int]:
    # All problems as a CSV in a data: link, so nothing about the upload is kept on the server.
    problems_link = "data:text/csv;charset=utf-8;base64," + base64.b64encode(
        ("\ufeff" + problems_csv(report.problems)).encode("utf-8")
    ).decode("ascii")
    status = 422 if report.file_errors or not (report.rows or report.skipped) else 200
    return render_template(
        "organiser/import_report.html",
        event=event,
        report=report,
        filename=filename,
        problems=report.problems[:PROBLEMS_SHOWN],
        problems_link=problems_link,
        columns=COLUMNS,
        unsettled=_counts(event.id)[1],
    ), status


@bp.get("/events/<int:event_id>/attendees.csv")
def attendees_csv(event_id: int) -> Response:
    """The attendees in the import format; every cell safe to open in a spreadsheet."""
    event = _event_or_404(event_id)
    text = write_csv(COLUMNS, attendee_csv_rows(attendees_in_print_order(event.id)))
    response = send_file(
        io.BytesIO(("\ufeff" + text).encode("utf-8")),  # the BOM tells Excel it is UTF-8
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"attendees-{event.id}.csv",
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/events/<int:event_id>/sample.csv")
def sample_csv(event_id: int) -> Response:
    """A two-row attendee list to start from, in the import format, with this campaign's keys."""
    event = _event_or_404(event_id)
    text = write_csv(COLUMNS, attendee_csv_rows(sample_attendees(event_campaign(event))))
    return send_file(
        io.BytesIO(("\ufeff" + text).encode("utf-8")),
        mimetype="text/csv",
        as_attachment=True,
        download_name="attendees-sample.csv",
    )


def _member_choice(
    directory: Directory | None, postcode: str, state: str, named: str = ""
) -> MemberChoice | None:
    """The divisions (with a member) an attendee with this postcode may be in, and any chosen."""
    return resolve_member(directory, postcode, state, named) if directory is not None else None


def _candidates_of(choice: MemberChoice | None) -> list[Division]:
    return list(choice.candidates) if choice is not None else []


def _unsettle(attendee: Attendee) -> None:
    attendee.division = attendee.division_state = attendee.member_name = attendee.member_party = ""


# What the print-run page compares a run's state with: the enum and its groups, not strings.
_RUN_STATES = SimpleNamespace(states=PrintRunState, unfinished=UNFINISHED, reprintable=REPRINTABLE)


@bp.context_processor
def _print_run_states() -> dict[str, object]:
    return {"run": _RUN_STATES}


@bp.route("/events/<int:event_id>/settle", methods=["GET", "POST"])
def settle(event_id: int) -> Response | str:
    """Choose the division for each attendee whose postcode did not decide it."""
    event = _event_or_404(event_id)
    directory = _directory()
    form = ConfirmForm()
    unsettled = db.session.scalars(
        select(Attendee)
        .where(Attendee.event_id == event.id, Attendee.division == "")
        .order_by(Attendee.id)
        .limit(ATTENDEES_PER_PAGE)
    ).all()
    choices = {a.id: _member_choice(directory, a.postcode, a.state) for a in unsettled}
    rows = [(a, _candidates_of(choices[a.id])) for a in unsettled]
    if request.method == "POST" and form.validate_on_submit():
        chosen = 0
        for attendee, candidates in rows:
            picked = request.form.get(f"division-{attendee.id}", "")
            division = next((d for d in candidates if d.name == picked), None)
            if division is not None:
                settle_member(attendee, division)
                chosen += 1
        db.session.commit()
        remaining = _counts(event.id)[1]
        flash(
            f"Chose the division for {chosen} attendee{'s' if chosen != 1 else ''}; "
            f"{remaining} still to choose.",
            "info",
        )
        target = "organiser.settle" if remaining else "organiser.event"
        return redirect(url_for(target, event_id=event.id), code=303)
    notes = {id_: choice.lookup.notes for id_, choice in choices.items() if choice is not None}
    return render_template(
        "organiser/settle.html",
        aec_finder=AEC_FINDER_URL,
        event=event,
        rows=rows,
        notes=notes,
        form=form,
        remaining=_counts(event.id)[1],
    )


def _attendee_form(campaign: Campaign, **kwargs: Any) -> AttendeeForm:
    form = AttendeeForm(**kwargs)
    form.statistics.choices = [SelectChoice(s.key, s.text) for s in campaign.statistics]
    form.recommendations.choices = [SelectChoice(r.key, r.title) for r in campaign.recommendations]
    return form


@bp.route("/events/<int:event_id>/attendees/<int:attendee_id>", methods=["GET", "POST"])
def attendee_edit(event_id: int, attendee_id: int) -> Response | tuple[str, int]:
    """Change an attendee's details, choices or division."""
    event = _event_or_404(event_id)
    if closed := _closed(event):
        return closed
    attendee = _attendee_or_404(event, attendee_id)
    campaign = event_campaign(event)
    directory = _directory()
    form = _attendee_form(
        campaign,
        data={
            "name": attendee.name,
            "email": attendee.email,
            "street": attendee.street,
            "suburb": attendee.suburb,
            "state": attendee.state,
            "postcode": attendee.postcode,
            "division": attendee.division,
            "statistics": attendee.statistics,
            "recommendations": attendee.recommendations,
            "personal_note": attendee.personal_note,
            "may_follow_up": attendee.may_follow_up,
        },
    )
    choice = _member_choice(
        directory, form.postcode.data or "", form.state.data or "", form.division.data or ""
    )
    candidates = _candidates_of(choice)
    form.division.choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(d.name, f"{d.name} ({d.state}): {d.member.display_name}")
        for d in candidates
        if d.member
    ]
    if form.validate_on_submit():
        for name in ("name", "email", "street", "suburb", "state", "postcode", "personal_note"):
            setattr(attendee, name, (getattr(form, name).data or "").strip())
        attendee.statistics = list(form.statistics.data or [])
        attendee.recommendations = list(form.recommendations.data or [])
        attendee.may_follow_up = bool(form.may_follow_up.data and attendee.email)
        picked = choice.chosen if choice is not None else None
        if picked is not None:
            settle_member(attendee, picked)
            flash(f"Saved {attendee.name}'s letter to {picked.member.display_name}.", "info")  # type: ignore[union-attr]
        else:
            _unsettle(attendee)
            flash(f"Saved {attendee.name}; now choose their division.", "info")
        db.session.commit()
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    return render_template(
        "organiser/attendee_form.html",
        event=event,
        attendee=attendee,
        form=form,
        campaign=campaign,
        confirm_form=ConfirmForm(),
    ), (422 if form.errors else 200)


@bp.post("/events/<int:event_id>/attendees/<int:attendee_id>/delete")
def attendee_delete(event_id: int, attendee_id: int) -> Response:
    """Remove an attendee from the event."""
    event = _event_or_404(event_id)
    attendee = _attendee_or_404(event, attendee_id)
    if ConfirmForm().validate_on_submit():
        # Their follow-up goes with them, here rather than by the foreign key alone: SQLite
        # may give a later attendee the same id, who must not inherit someone's question.
        db.session.execute(delete(FollowUp).where(FollowUp.attendee_id == attendee.id))
        db.session.delete(attendee)
        db.session.commit()
        flash(f"Removed {attendee.name}.", "info")
    return redirect(url_for("organiser.event", event_id=event.id), code=303)


@bp.post("/events/<int:event_id>/print")
def print_event(event_id: int) -> Response:
    """Queue a print run of every letter; its page shows the progress."""
    from letters.printing.tasks import render_event_batch

    event = _event_or_404(event_id)
    if closed := _closed(event):
        return closed
    form = PrintForm()
    total, unsettled = _counts(event.id)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "error")
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    if unsettled or not total:
        flash(
            "Choose the division for every attendee before printing."
            if unsettled
            else "Import some attendees first.",
            "error",
        )
        return redirect(url_for("organiser.event", event_id=event.id), code=303)
    job = BatchJob(
        event_id=event.id,
        total=total,
        options={
            "labels": form.labels.data,
            "envelopes": form.envelopes.data,
            "address_per": form.address_per.data,
            "zip": form.zip.data,
            "blank": form.blank.data or 0,
        },
    )
    db.session.add(job)
    # Committed before it is queued: the row is the truth; the queue message only wakes a worker.
    db.session.commit()
    _enqueue(render_event_batch, job.id)
    return redirect(url_for("organiser.job", job_id=job.id), code=303)


def _enqueue(task: Any, job_id: uuid.UUID) -> None:
    try:
        task.delay(str(job_id))
    except Exception:
        # The job stays queued; "Start again" on its page queues it once the broker is back.
        current_app.logger.exception("could not queue batch job %s", job_id)


def _job_state(job: BatchJob) -> dict[str, object]:
    return {
        "state": job.state,
        "done": job.done,
        "total": job.total,
        "stage": job.stage,
        "files": list(job.files) if job.state == PrintRunState.DONE else [],
        "error": job.error,
    }


@bp.get("/jobs/<uuid:job_id>")
def job(job_id: uuid.UUID) -> str:
    """A print run's progress and, when done, its files."""
    job, event = _job_or_404(job_id)
    return render_template(
        "organiser/job.html",
        job=job,
        event=event,
        files_removed_on=_local_date(job.files_removed_at),
        confirm_form=ConfirmForm(),
    )


@bp.get("/jobs/<uuid:job_id>.json")
def job_json(job_id: uuid.UUID) -> Response:
    """The same progress as JSON, for the page's script."""
    job, _ = _job_or_404(job_id)
    response = jsonify(_job_state(job))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/jobs/<uuid:job_id>/retry")
def job_retry(job_id: uuid.UUID) -> Response:
    """Queue a failed, never started or expired print run again."""
    from letters.printing.tasks import render_event_batch

    job, event = _job_or_404(job_id)
    if ConfirmForm().validate_on_submit() and job.state in REPRINTABLE:
        if closed := _closed(event):
            return closed
        # Queued now: the sweep counts a queued job's wait from its last sign of life.
        queued = move(
            job.id, PrintRunState.QUEUED, sources=REPRINTABLE, error="", heartbeat_at=clock.now()
        )
        if queued:
            _enqueue(render_event_batch, job.id)
    return redirect(url_for("organiser.job", job_id=job.id), code=303)


@bp.get("/jobs/<uuid:job_id>/files/<name>")
def job_file(job_id: uuid.UUID, name: str) -> Response:
    """Download one of a finished print run's files."""
    job, _ = _job_or_404(job_id)
    if job.state != PrintRunState.DONE or name not in job.files:
        abort(404)
    path = attempt_folder(job.id, job.attempt) / name
    if not path.is_file():
        abort(404)
    response = send_file(path, as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/events/<int:event_id>/kiosk")
def kiosk_link(event_id: int) -> str:
    """The event's kiosk link, for a tablet at the event."""
    event = _event_or_404(event_id)
    short = short_url(event)
    return render_template(
        "organiser/kiosk_link.html",
        event=event,
        url=kiosk_url(event),
        short_url=short,
        campaign_title=campaign.title if (campaign := _campaigns().get(event.campaign_key)) else "",
        qr_svg=qr_svg(short, title=f"QR code for {short}"),
        form=ConfirmForm(),
        expires_at=kiosk_expires_at(event),
        expired=clock.now() >= kiosk_expires_at(event),
    )


@bp.post("/events/<int:event_id>/kiosk/renew")
def kiosk_renew(event_id: int) -> Response:
    """A new kiosk link; the old one stops working at once."""
    from letters.models import new_kiosk_nonce

    event = _event_or_404(event_id)
    if ConfirmForm().validate_on_submit():
        event.kiosk_nonce = new_kiosk_nonce()
        db.session.commit()
        flash("Made a new kiosk link; the old one no longer works.", "info")
    return redirect(url_for("organiser.kiosk_link", event_id=event.id), code=303)
