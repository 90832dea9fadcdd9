"""Keeping supporters' and attendees' personal data no longer than needed.

A letter is finished when it is printed (a PDF draft nobody has touched since) or its email
has gone as far as it will (delivered, bounced, failed, expired...). Some weeks after that,
the supporter's name, email, street, suburb and own words are removed; what remains (campaign,
member, postcode, dates, delivery state) is what organisers count.

An event's attendees lose the same details some weeks after the event, and its print files
(a copy of everyone's details) are deleted then, or sooner: some days after printing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, and_, case, delete, exists, func, or_, select, update

from letters import clock
from letters.domain.lifecycle import State
from letters.domain.print_runs import UNFINISHED, PrintRunState
from letters.extensions import db
from letters.models import (
    Attendee,
    BatchJob,
    DeliveryEvent,
    Event,
    FollowUp,
    Message,
    OwnWordsShingle,
)
from letters.printing.states import transition

REMOVED = "(removed)"
# States after which nothing more happens to an email letter (SENT: events may still come,
# but by the time the retention period has passed they will not).
FINISHED = (
    State.SENT.value,
    State.DELIVERED.value,
    State.BOUNCED.value,
    State.DROPPED.value,
    State.SPAM_REPORTED.value,
    State.FAILED.value,
    State.EXPIRED.value,
)


def _recent_follow_up(
    cutoff: dt.datetime, owner: ColumnElement[bool] | None = None
) -> ColumnElement[bool]:
    """The letter's follow-up asked or was answered since `cutoff`: its window is still open.

    The writer's address is what the follow-up emails go to, and the letter page shows the
    answer, so they are kept until the retention period has passed since the last of them.
    `owner` ties the follow-up to its letter: a Message by default, or an Attendee.
    """
    return exists().where(
        FollowUp.message_id == Message.id if owner is None else owner,
        or_(
            FollowUp.asked_at >= cutoff,
            FollowUp.reminded_at >= cutoff,
            FollowUp.asked_again_at >= cutoff,
            FollowUp.answered_at >= cutoff,
        ),
    )


def _follow_up_needs_email(now: dt.datetime) -> ColumnElement[bool]:
    """An attendee's address is still needed to ask them whether their member replied.

    Only for one who agreed and whose letter was printed, who has not said "don't ask me
    again", and whose first question is still to come (or came due within the retention
    period) or whose follow-up asked or was answered within it, as for emailed letters.
    """
    cutoff = now - dt.timedelta(days=current_app.config["KEEP_EVENT_DATA_DAYS"])
    after = dt.timedelta(days=float(current_app.config["FOLLOWUP_AFTER_DAYS"]))
    of_attendee = FollowUp.attendee_id == Attendee.id
    return and_(
        Attendee.may_follow_up.is_(True),
        Attendee.printed_at.is_not(None),
        ~exists().where(of_attendee, FollowUp.stop_asking.is_(True)),
        or_(
            and_(
                ~exists().where(of_attendee, FollowUp.asked_at.is_not(None)),
                Attendee.printed_at >= cutoff - after,
            ),
            _recent_follow_up(cutoff, of_attendee),
        ),
    )


def _due_for_scrub(cutoff: dt.datetime) -> ColumnElement[bool]:
    finished_at = func.coalesce(
        Message.delivered_at, Message.failed_at, Message.sent_at, Message.created_at
    )
    return and_(
        Message.scrubbed_at.is_(None),
        or_(
            and_(Message.delivery == "pdf", Message.updated_at < cutoff),
            and_(Message.state.in_(FINISHED), finished_at < cutoff),
        ),
        ~_recent_follow_up(cutoff),
    )


def scrub_cutoff(now: dt.datetime) -> dt.datetime:
    """Letters finished before this lose their supporter's details."""
    return now - dt.timedelta(days=current_app.config["KEEP_PERSONAL_DATA_DAYS"])


def count_due(now: dt.datetime | None = None) -> int:
    """How many letters scrub() would clean now (changing nothing)."""
    cutoff = scrub_cutoff(now or clock.now())
    return int(
        db.session.scalar(select(func.count()).select_from(Message).where(_due_for_scrub(cutoff)))
        or 0
    )


def scrub(now: dt.datetime | None = None) -> int:
    """Remove personal details from letters finished longer ago than the retention period.

    Their own words' shingles go too, and the replies supporters pasted into a follow-up;
    the answers stay, to count.
    """
    now = now or clock.now()
    removed = remove_letter_details(_due_for_scrub(scrub_cutoff(now)), now)
    db.session.commit()
    return removed


def remove_letter_details(letters: ColumnElement[bool], now: dt.datetime) -> int:
    """Remove the supporter's details from the letters `letters` selects, their own words'
    shingles and their pasted replies; how many letters. Not committed: the caller commits,
    with anything that must go with it (an erasure on request, letters/erasure.py, cancels
    unsent letters at once).

    What stays (campaign, member, postcode, dates, states, follow-up answers) is what the
    dashboard counts, so its history stays true.
    """
    # The own-words shingles are derived from the personal text, so they go with it: first,
    # while `letters` still selects the rows (an erasure selects them by the address it is
    # about to remove), in the same transaction.
    db.session.execute(
        delete(OwnWordsShingle)
        .where(OwnWordsShingle.message_id.in_(select(Message.id).where(letters)))
        .execution_options(synchronize_session=False)
    )
    # A bounce of an email to the supporter (a confirmation, a receipt, a follow-up) may quote
    # their address in its reason. The letter's own events are about the member's address,
    # which the dashboard's list of bouncing contacts needs, so those keep theirs.
    db.session.execute(
        update(DeliveryEvent)
        .where(
            DeliveryEvent.message_id.in_(select(Message.id).where(letters)),
            DeliveryEvent.kind != "letter",
            DeliveryEvent.reason != "",
        )
        .values(reason="")
        .execution_options(synchronize_session=False)
    )
    result = db.session.execute(
        update(Message)
        .where(letters)
        .values(
            sender_name=REMOVED,
            sender_email="",
            sender_email_key="",
            sender_street="",
            sender_suburb="",
            personal_note="",
            scrubbed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    # Led by the letters already scrubbed, so a reply left by a crash in between goes next time.
    db.session.execute(
        update(FollowUp)
        .where(
            FollowUp.reply_text != "",
            FollowUp.message_id.in_(select(Message.id).where(Message.scrubbed_at.is_not(None))),
        )
        .values(reply_text="")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


STOPPED_FOR_PRIVACY = (
    "The attendees' personal details were removed for privacy before this print run finished."
)


@dataclass
class EventScrub:
    """What one run of scrub_events changed."""

    events: int = 0  # events whose attendees' details were removed just now
    attendees: int = 0
    print_runs_expired: int = 0  # finished runs whose files were removed
    print_runs_stopped: int = 0  # unfinished runs of events whose details were removed
    folders_removed: int = 0


def event_data_removal_at(event_date: dt.date) -> dt.datetime:
    """When an event's attendee details are due to go: the retention period after its day ends.

    The day ends at midnight in the site's time zone, where the event was held.
    """
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    day_after = dt.datetime.combine(event_date + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    # Added in UTC, as scrub_events subtracts it, so both agree across a daylight-saving change.
    keep = dt.timedelta(days=current_app.config["KEEP_EVENT_DATA_DAYS"])
    return (day_after.astimezone(dt.UTC) + keep).astimezone(zone)


@dataclass(frozen=True)
class _EventRules:
    """Which rows scrub_events changes at one moment: the WHERE clause of each of its UPDATEs."""

    events: ColumnElement[bool]
    attendees: ColumnElement[bool]
    print_runs_stopped: ColumnElement[bool]
    print_runs_expired: ColumnElement[bool]


def _event_rules(now: dt.datetime) -> _EventRules:
    config = current_app.config
    zone = ZoneInfo(config["TIMEZONE"])
    # An event is past retention when its day ended before (now - keep) in the event's time
    # zone, i.e. when event_data_removal_at(event.date) <= now.
    last_kept_day = (now - dt.timedelta(days=config["KEEP_EVENT_DATA_DAYS"])).astimezone(zone)
    past = select(Event.id).where(Event.date < last_kept_day.date()).scalar_subquery()
    files_cutoff = now - dt.timedelta(days=config["KEEP_PRINT_FILES_DAYS"])
    return _EventRules(
        events=and_(Event.id.in_(past), Event.personal_data_removed_at.is_(None)),
        attendees=and_(
            Attendee.event_id.in_(past),
            or_(
                Attendee.name != REMOVED,
                and_(Attendee.email != "", ~_follow_up_needs_email(now)),
                Attendee.street != "",
                Attendee.suburb != "",
                Attendee.personal_note != "",
            ),
        ),
        print_runs_stopped=and_(BatchJob.event_id.in_(past), BatchJob.state.in_(UNFINISHED)),
        print_runs_expired=and_(
            BatchJob.state == PrintRunState.DONE,
            or_(BatchJob.event_id.in_(past), BatchJob.finished_at < files_cutoff),
        ),
    )


def preview_events(now: dt.datetime | None = None) -> EventScrub:
    """What scrub_events would change now, as counts; changes nothing (folders not counted)."""
    rules = _event_rules(now or clock.now())

    def count(table: Any, condition: ColumnElement[bool]) -> int:
        return int(db.session.scalar(select(func.count()).select_from(table).where(condition)) or 0)

    return EventScrub(
        events=count(Event, rules.events),
        attendees=count(Attendee, rules.attendees),
        print_runs_stopped=count(BatchJob, rules.print_runs_stopped),
        print_runs_expired=count(BatchJob, rules.print_runs_expired),
    )


def scrub_events(now: dt.datetime | None = None) -> EventScrub:
    """Remove attendees' details from long-past events and print files kept too long.

    Bulk UPDATEs, whatever the number of attendees; safe to run again at any time: an
    attendee is cleaned while any detail is left (also one typed in again after a removal).
    """
    now = now or clock.now()
    rules = _event_rules(now)
    found = EventScrub()

    found.events = _rowcount(update(Event).where(rules.events).values(personal_data_removed_at=now))
    found.attendees = remove_attendee_details(rules.attendees, now)
    found.print_runs_stopped = stop_print_runs(rules.print_runs_stopped, now)
    found.print_runs_expired = remove_print_files(rules.print_runs_expired, now)
    # The rows say so first: from this commit on no page offers these files for download.
    db.session.commit()
    found.folders_removed = remove_unneeded_print_folders()
    return found


def remove_attendee_details(
    attendees: ColumnElement[bool], now: dt.datetime, *, keep_for_follow_up: bool = True
) -> int:
    """Remove the details of the attendees `attendees` selects (not committed); how many.

    Whether they wrote in their own words is kept, so organisers can still count it. With
    `keep_for_follow_up`, a consenting attendee's email stays, alone, while their follow-up
    still needs it; an erasure on request (letters/erasure.py) removes it whatever the date.
    """
    email = case((_follow_up_needs_email(now), Attendee.email), else_="")
    removed = _rowcount(
        update(Attendee)
        .where(attendees)
        .values(
            name=REMOVED,
            email=email if keep_for_follow_up else "",
            street="",
            suburb="",
            personal_note="",
            # Evaluated on the row as it was, before the note is emptied.
            wrote_own_words=or_(Attendee.wrote_own_words, Attendee.personal_note != ""),
        )
    )
    # The replies attendees pasted go with their address; the answers stay, to count. Led by
    # the attendees already cleaned, so a reply left by a crash in between goes next time.
    _rowcount(
        update(FollowUp)
        .where(
            FollowUp.reply_text != "",
            FollowUp.attendee_id.in_(
                select(Attendee.id).where(Attendee.name == REMOVED, Attendee.email == "")
            ),
        )
        .values(reply_text="")
    )
    return removed


def stop_print_runs(print_runs: ColumnElement[bool], now: dt.datetime) -> int:
    """Fail the unfinished print runs among `print_runs`, whose details are going (not
    committed); how many."""
    return _rowcount(
        transition(PrintRunState.FAILED, sources=UNFINISHED)
        .where(print_runs)
        .values(error=STOPPED_FOR_PRIVACY, finished_at=now)
    )


def remove_print_files(print_runs: ColumnElement[bool], now: dt.datetime) -> int:
    """Mark the finished print runs among `print_runs` as having no files (not committed); how
    many. Their folders go in remove_unneeded_print_folders(), once this is committed."""
    return _rowcount(
        transition(PrintRunState.EXPIRED).where(print_runs).values(files=[], files_removed_at=now)
    )


def _rowcount(statement: Any) -> int:
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)


def remove_unneeded_print_folders() -> int:
    """Delete the folders of print runs that have no files to offer; returns how many.

    Led by the folders on disk rather than the rows, so a folder left behind (a crash between
    the commit above and this, a killed render, a deleted event) goes on the next run, and the
    cost follows the few folders there are, not every print run ever made.
    """
    root = Path(current_app.config["INSTANCE_DIR"]) / "batches"
    if not root.is_dir():
        return 0
    folders: dict[uuid.UUID, Path] = {}
    for path in root.iterdir():
        try:
            job_id = uuid.UUID(path.name)
        except ValueError:
            continue  # not a print run's folder: not ours to remove
        if str(job_id) == path.name and path.is_dir():
            folders[job_id] = path
    if not folders:
        return 0
    states: dict[uuid.UUID, str] = {
        job_id: state
        for job_id, state in db.session.execute(
            select(BatchJob.id, BatchJob.state).where(BatchJob.id.in_(folders))
        )
    }
    db.session.commit()  # end the read transaction before the slow part
    removed = 0
    for job_id, path in folders.items():
        # A folder with no row belongs to a deleted event; failed and expired runs offer nothing.
        if states.get(job_id) in (*UNFINISHED, PrintRunState.DONE):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed
