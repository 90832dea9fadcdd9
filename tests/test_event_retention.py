"""Events' attendee details and print files are removed after their retention periods."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select

from letters import clock, settings
from letters.extensions import db
from letters.models import Attendee, BatchJob, Event
from letters.printing.runs import job_folder, run_batch_job
from letters.retention import (
    REMOVED,
    STOPPED_FOR_PRIVACY,
    event_data_removal_at,
    remove_unneeded_print_folders,
    scrub_events,
)
from tests import factories
from tests.organiser_helpers import csrf, organiser_client_fixture  # noqa: F401
from tests.test_organiser_events import attendees_of, create_event, upload

SYDNEY = ZoneInfo("Australia/Sydney")
EVENT_DAY = dt.date(2026, 12, 5)  # create_event's date
# 28 days after the event's day ends in Sydney: midnight starting 3 January 2027 (AEDT, +11).
REMOVAL = dt.datetime(2027, 1, 3, tzinfo=SYDNEY)
MINUTE = dt.timedelta(minutes=1)
# Whatever the machine's calendar says, these tests happen in the week before the event: the
# dates above are fixed, so the time that pages and print runs read must be too.
EVENT_WEEK = dt.datetime(2026, 12, 1, 10, tzinfo=SYDNEY)


@pytest.fixture(autouse=True)
def _event_week() -> None:
    clock.freeze(EVENT_WEEK)


def _settle_everyone(app, event_id: int) -> None:
    with app.app_context():
        for attendee in db.session.scalars(
            select(Attendee).where(Attendee.event_id == event_id, Attendee.division == "")
        ):
            attendee.division, attendee.division_state = "Wattle", "NSW"
            attendee.member_name = "Harry Fernsby"
        db.session.commit()


def _attendees(app, event_id: int) -> list[Attendee]:
    """Every attendee (attendees_of keys them by name, which the removal makes all alike)."""
    with app.app_context():
        return list(db.session.scalars(select(Attendee).where(Attendee.event_id == event_id)).all())


def _event(app, event_id: int) -> Event:
    with app.app_context():
        found = db.session.get(Event, event_id)
        assert found is not None
        db.session.expunge(found)
        return found


def _job(app, job_id: uuid.UUID) -> BatchJob:
    with app.app_context():
        found = db.session.get(BatchJob, job_id)
        assert found is not None
        db.session.expunge(found)
        return found


def test_the_removal_moment_is_the_period_after_the_event_day_ends_where_it_was_held(app):
    with app.app_context():
        assert event_data_removal_at(EVENT_DAY) == REMOVAL
        # Across the April change from daylight saving, the period is counted in real days.
        assert event_data_removal_at(dt.date(2027, 3, 20)) == dt.datetime(
            2027, 4, 17, 23, tzinfo=SYDNEY
        )


def test_attendees_lose_personal_details_after_the_event_and_counts_remain(
    app_with_data, organiser_client
):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    later_id = create_event(organiser_client, name="Next month")
    upload(organiser_client, later_id, "good.csv")
    with app_with_data.app_context():
        db.session.get(Event, later_id).date = EVENT_DAY + dt.timedelta(days=30)
        db.session.commit()
    before = attendees_of(app_with_data, event_id)

    with app_with_data.app_context():
        assert scrub_events(REMOVAL - MINUTE).attendees == 0
        first = scrub_events(REMOVAL + MINUTE)
        assert (first.events, first.attendees) == (1, len(before))
        again = scrub_events(REMOVAL + 2 * MINUTE)
        assert (again.events, again.attendees) == (0, 0)  # nothing left to remove

    after = _attendees(app_with_data, event_id)
    assert {a.name for a in after} == {REMOVED}
    assert all(a.email == a.street == a.suburb == a.personal_note == "" for a in after)
    by_id = {a.id: a for a in after}
    for old in before.values():
        kept = by_id[old.id]
        assert (kept.postcode, kept.state, kept.division, kept.member_name) == (
            old.postcode,
            old.state,
            old.division,
            old.member_name,
        )
        assert kept.statistics == old.statistics
        assert kept.own_words == bool(old.personal_note)
    assert sum(a.own_words for a in after) == 1  # Jane wrote her own words
    assert _event(app_with_data, event_id).personal_data_removed_at == REMOVAL + MINUTE
    # The later event keeps everything.
    assert "Jane Citizen" in attendees_of(app_with_data, later_id)
    assert _event(app_with_data, later_id).personal_data_removed_at is None


def test_details_typed_in_again_after_the_removal_are_removed_again(
    app_with_data, organiser_client
):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    with app_with_data.app_context():
        scrub_events(REMOVAL + MINUTE)
        attendee = db.session.scalars(select(Attendee).where(Attendee.event_id == event_id)).first()
        attendee.street = "3 Typed Again Rd"  # as a direct database edit could
        db.session.commit()
        assert scrub_events(REMOVAL + 2 * MINUTE).attendees == 1
        db.session.expire_all()
        assert db.session.get(Attendee, attendee.id).street == ""


def test_the_event_page_says_when_details_go_then_that_they_went(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    _settle_everyone(app_with_data, event_id)
    page = organiser_client.get(f"/organiser/events/{event_id}").get_data(as_text=True)
    assert "will be removed on 3 January 2027 (28 days after the event)" in page
    assert "print files 7 days after printing" in page
    kiosk_page = organiser_client.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
    kiosk = urllib.parse.urlsplit(re.search(r'id="kiosk-url">([^<]+)<', kiosk_page)[1]).path
    token = csrf(organiser_client, f"/organiser/events/{event_id}")
    jane = attendees_of(app_with_data, event_id)["Jane Citizen"]

    with app_with_data.app_context():
        scrub_events(REMOVAL + MINUTE)
    page = organiser_client.get(f"/organiser/events/{event_id}").get_data(as_text=True)
    assert "were removed on 3 January 2027, 28 days after the event" in page
    assert "Jane Citizen" not in page and "own words" in page  # still counted
    assert re.search(r"<button[^>]* disabled>Print all letters", page)
    assert f'action="/organiser/events/{event_id}/import"' not in page

    # Nothing can add details back, or print letters signed "(removed)".
    printed = organiser_client.post(
        f"/organiser/events/{event_id}/print", data={"csrf_token": token}
    )
    assert printed.status_code == 303
    imported = upload(organiser_client, event_id, "good.csv")
    assert imported.status_code == 303
    edited = organiser_client.post(
        f"/organiser/events/{event_id}/attendees/{jane.id}",
        data={"csrf_token": token, "name": "Jane Again", "postcode": "2001"},
    )
    assert edited.status_code == 303
    assert app_with_data.test_client().get(kiosk).status_code == 404
    with app_with_data.app_context():
        assert db.session.scalar(select(func.count(BatchJob.id))) == 0
    assert {a.name for a in _attendees(app_with_data, event_id)} == {REMOVED}
    assert "takes no more attendees" in organiser_client.get(
        f"/organiser/events/{event_id}"
    ).get_data(as_text=True)


def _print(app, client, event_id: int) -> uuid.UUID:
    """A real print run of the event's letters, rendered in this process."""
    response = client.post(
        f"/organiser/events/{event_id}/print",
        data={"csrf_token": csrf(client, f"/organiser/events/{event_id}"), "labels": "y"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    job_id = uuid.UUID(response.location.rsplit("/", 1)[1])
    with app.app_context():
        assert run_batch_job(job_id, workers=1) == "done"
    return job_id


def test_print_files_go_a_week_after_printing_and_the_page_offers_to_print_again(
    app_with_data, organiser_client
):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    _settle_everyone(app_with_data, event_id)
    job_id = _print(app_with_data, organiser_client, event_id)
    url = f"/organiser/jobs/{job_id}"
    with organiser_client.get(f"{url}/files/letters.pdf") as download:
        assert download.status_code == 200
    with app_with_data.app_context():
        folder = job_folder(job_id)
        printed_at = db.session.get(BatchJob, job_id).finished_at
    assert (folder / "1" / "letters.pdf").is_file()  # the first attempt's folder

    with app_with_data.app_context():
        kept = scrub_events(printed_at + dt.timedelta(days=7) - MINUTE)
        assert (kept.print_runs_expired, kept.folders_removed) == (0, 0)
        gone = scrub_events(printed_at + dt.timedelta(days=7) + MINUTE)
        assert (gone.print_runs_expired, gone.folders_removed, gone.attendees) == (1, 1, 0)
    assert not folder.exists()
    job = _job(app_with_data, job_id)
    assert (job.state, job.files) == ("expired", [])
    assert organiser_client.get(f"{url}/files/letters.pdf").status_code == 404
    assert organiser_client.get(f"{url}.json").get_json()["files"] == []
    page = organiser_client.get(url).get_data(as_text=True)
    assert "this print run's files were removed on" in page
    assert "Print again" in page  # the attendees' details are still there
    event_page = organiser_client.get(f"/organiser/events/{event_id}").get_data(as_text=True)
    assert "files removed for privacy" in event_page

    again = organiser_client.post(f"{url}/retry", data={"csrf_token": csrf(organiser_client, url)})
    assert again.status_code == 303
    assert _job(app_with_data, job_id).state == "queued"


def test_print_files_go_with_the_event_details_even_if_recent(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    _settle_everyone(app_with_data, event_id)
    job_id = _print(app_with_data, organiser_client, event_id)
    with app_with_data.app_context():
        db.session.get(BatchJob, job_id).finished_at = REMOVAL  # printed a day ago
        db.session.commit()
        found = scrub_events(REMOVAL + dt.timedelta(days=1))
        assert (found.print_runs_expired, found.folders_removed) == (1, 1)
        assert not job_folder(job_id).exists()
    url = f"/organiser/jobs/{job_id}"
    page = organiser_client.get(url).get_data(as_text=True)
    assert "can no longer be printed" in page and "Print again" not in page
    refused = organiser_client.post(
        f"{url}/retry", data={"csrf_token": csrf(organiser_client, f"/organiser/events/{event_id}")}
    )
    assert refused.status_code == 303
    assert _job(app_with_data, job_id).state == "expired"


def test_unfinished_runs_stop_and_leftover_folders_go(app_with_data, organiser_client):
    past_id = create_event(organiser_client)
    recent_id = create_event(organiser_client, name="Recent")
    now = REMOVAL + MINUTE
    with app_with_data.app_context():
        db.session.get(Event, recent_id).date = EVENT_DAY + dt.timedelta(days=20)
        jobs = {
            "past-running": BatchJob(event_id=past_id, state="running"),
            "recent-running": BatchJob(event_id=recent_id, state="running"),
            "recent-queued": BatchJob(event_id=recent_id, state="queued"),
            "recent-failed": BatchJob(event_id=recent_id, state="failed", error="boom"),
            "recent-done": BatchJob(
                event_id=recent_id, state="done", files=["letters.pdf"], finished_at=now
            ),
        }
        db.session.add_all(jobs.values())
        db.session.commit()
        folders = {name: job_folder(job.id) for name, job in jobs.items()}
        folders["deleted-event"] = job_folder(uuid.uuid4())
        not_a_run = folders["recent-done"].parent / "notes"
        for folder in [*folders.values(), not_a_run]:
            folder.mkdir(parents=True)
            (folder / "letters.pdf").write_bytes(b"%PDF-1.7 everyone's names")
        ids = {name: job.id for name, job in jobs.items()}

        found = scrub_events(now)
    assert found.print_runs_stopped == 1 and found.print_runs_expired == 0
    past = _job(app_with_data, ids["past-running"])
    assert (past.state, past.error) == ("failed", STOPPED_FOR_PRIVACY)
    assert {name for name, folder in folders.items() if folder.exists()} == {
        "recent-running",
        "recent-queued",
        "recent-done",
    }
    assert not_a_run.exists()  # only print runs' folders are ours to remove
    assert _job(app_with_data, ids["recent-failed"]).error == "boom"


def test_thousands_of_attendees_are_cleaned_in_a_few_statements(app):
    with app.app_context():
        event = Event(
            organiser_id=_organiser(), name="Big", date=EVENT_DAY, campaign_key="tougher-on-tech"
        )
        db.session.add(event)
        db.session.commit()
        rows = [
            {
                "event_id": event.id,
                "name": f"Person {n}",
                "email": f"p{n}@example.org",
                "street": f"{n} Long Rd",
                "postcode": "2600",
                "personal_note": "Mine." if n % 3 == 0 else "",
            }
            for n in range(3000)
        ]
        db.session.execute(insert(Attendee), rows)
        db.session.commit()
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement.split(None, 1)[0].upper())

        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = scrub_events(REMOVAL + MINUTE)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
        assert found.attendees == 3000
        # events, attendees, their pasted follow-up replies, two kinds of print run
        assert statements.count("UPDATE") == 5
        assert len(statements) <= 7
        own_words = db.session.scalar(select(func.count()).where(Attendee.wrote_own_words))
        assert own_words == 1000
        left = db.session.scalar(select(func.count()).where(Attendee.name != REMOVED))
        assert left == 0


def _organiser() -> int:
    from letters.organiser.auth import create_organiser

    return create_organiser("big@example.org", "correct horse battery staple").id


def test_the_hourly_task_runs_both_kinds_of_removal(app):
    from tasks.email import scrub

    with app.app_context():
        event = Event(
            organiser_id=_organiser(),
            name="Long ago",
            date=dt.date(2020, 1, 1),
            campaign_key="tougher-on-tech",
        )
        db.session.add(event)
        db.session.flush()
        db.session.add(Attendee(event_id=event.id, name="Old Timer", postcode="2600"))
        db.session.commit()
    result = scrub.apply().get()
    assert result["letters"] == 0 and result["events"] == 1 and result["attendees"] == 1
    with app.app_context():
        assert db.session.scalar(select(Attendee.name)) == REMOVED


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LETTERS_KEEP_EVENT_DATA_DAYS", "0"),
        ("LETTERS_KEEP_EVENT_DATA_DAYS", "-3"),
        ("LETTERS_KEEP_PRINT_FILES_DAYS", "a week"),
        ("LETTERS_KEEP_PRINT_FILES_DAYS", "inf"),
        ("LETTERS_KEEP_PERSONAL_DATA_DAYS", "nan"),
    ],
)
def test_retention_periods_must_be_positive_numbers_of_days(variable, value, tmp_path: Path):
    with pytest.raises(settings.ConfigError, match=variable):
        config = settings.from_environment({"LETTERS_INSTANCE_DIR": str(tmp_path), variable: value})
        settings.check(config)


def test_retention_settings_have_their_defaults(tmp_path: Path):
    config = settings.from_environment({"LETTERS_INSTANCE_DIR": str(tmp_path)})
    settings.check(config)
    assert (config["KEEP_EVENT_DATA_DAYS"], config["KEEP_PRINT_FILES_DAYS"]) == (28, 7)
    config = settings.from_environment(
        {"LETTERS_INSTANCE_DIR": str(tmp_path), "LETTERS_KEEP_EVENT_DATA_DAYS": "1.5"}
    )
    assert config["KEEP_EVENT_DATA_DAYS"] == 1.5


# --- the edges of the event rules (each fails on a small change to letters/retention.py) ----


@pytest.mark.parametrize("left", ["email", "street", "suburb", "personal_note"])
def test_any_one_detail_left_on_an_attendee_is_removed(app, left):
    with app.app_context():
        past = factories.event(date=dt.date(2026, 10, 1))
        factories.attendees(past, 1, name=REMOVED, email="", street="", suburb="", personal_note="")
        row = db.session.scalars(select(Attendee)).one()
        setattr(row, left, "still here")
        db.session.commit()
        assert scrub_events(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)).attendees == 1
        db.session.expire_all()
        assert getattr(db.session.scalars(select(Attendee)).one(), left) == ""


def test_an_attendee_who_wrote_their_own_words_is_still_counted_so_after_removal(app):
    with app.app_context():
        past = factories.event(date=dt.date(2026, 10, 1))
        factories.attendees(past, 1, personal_note="", wrote_own_words=True)
        factories.attendees(past, 1, personal_note="My own words.")
        factories.attendees(past, 1, personal_note="")
        scrub_events(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
        db.session.expire_all()
        flags = sorted(a.wrote_own_words for a in db.session.scalars(select(Attendee)))
        assert flags == [False, True, True]


def test_a_stopped_print_run_says_when_and_a_recent_one_keeps_its_files(app):
    with app.app_context():
        now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        past = factories.event(date=dt.date(2026, 10, 1))
        recent = factories.event(date=dt.date(2026, 12, 5))
        stopped = BatchJob(event_id=past.id, state="running")
        days = app.config["KEEP_PRINT_FILES_DAYS"]
        kept = BatchJob(
            event_id=recent.id,
            state="done",
            files=["letters.pdf"],
            finished_at=now - dt.timedelta(days=days),  # exactly the period: not yet
        )
        db.session.add_all([stopped, kept])
        db.session.commit()
        found = scrub_events(now)
        assert (found.print_runs_stopped, found.print_runs_expired) == (1, 0)
        db.session.expire_all()
        assert db.session.get(BatchJob, stopped.id).finished_at is not None
        assert db.session.get(BatchJob, kept.id).files == ["letters.pdf"]
        assert scrub_events(now + dt.timedelta(seconds=1)).print_runs_expired == 1


def test_print_folders_of_other_things_and_no_folder_at_all_are_left_alone(app):
    with app.app_context():
        assert remove_unneeded_print_folders() == 0  # no batches folder yet
        root = app.config["INSTANCE_DIR"] / "batches"
        root.mkdir(parents=True)
        stray = root / str(uuid.uuid4())
        stray.write_text("a file named like a print run is not a print run's folder")
        (root / "notes").mkdir()
        assert remove_unneeded_print_folders() == 0
        assert stray.exists() and (root / "notes").is_dir()


def test_every_leftover_print_folder_goes_and_is_counted(app):
    with app.app_context():
        root = app.config["INSTANCE_DIR"] / "batches"
        leftovers = [root / str(uuid.uuid4()) for _ in range(2)]  # of deleted events
        for folder in leftovers:
            folder.mkdir(parents=True)
            (folder / "letters.pdf").write_bytes(b"%PDF-")
        assert remove_unneeded_print_folders() == 2
        assert [folder.exists() for folder in leftovers] == [False, False]


def test_a_print_folder_that_cannot_be_removed_does_not_stop_the_others(app, monkeypatch):
    import os

    with app.app_context():
        root = app.config["INSTANCE_DIR"] / "batches"
        stuck, other = root / str(uuid.uuid4()), root / str(uuid.uuid4())
        stuck.mkdir(parents=True)
        other.mkdir()
        rmdir = os.rmdir

        def refuse_stuck(path, *args, **kwargs):
            if os.fspath(path) in (os.fspath(stuck), stuck.name):
                raise PermissionError(path)
            return rmdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "rmdir", refuse_stuck)
        remove_unneeded_print_folders()  # no exception: the hourly task goes on
        assert (stuck.exists(), other.exists()) == (True, False)


def test_the_preview_counts_what_the_removal_then_changes(app):
    from letters.retention import EventScrub, preview_events

    with app.app_context():
        now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        past = factories.event(date=dt.date(2026, 10, 1))
        recent = factories.event(date=dt.date(2026, 11, 28))
        factories.attendees(past, 3)
        factories.attendees(recent, 2)  # kept: their event was three days ago
        printed_long_ago = now - dt.timedelta(days=app.config["KEEP_PRINT_FILES_DAYS"] + 1)
        db.session.add_all(
            [
                BatchJob(event_id=past.id, state="running"),
                BatchJob(event_id=past.id, state="queued"),
                BatchJob(event_id=recent.id, state="done", files=["a.pdf"], finished_at=now),
                BatchJob(
                    event_id=recent.id,
                    state="done",
                    files=["b.pdf"],
                    finished_at=printed_long_ago,
                ),
            ]
        )
        db.session.commit()
        expected = EventScrub(events=1, attendees=3, print_runs_stopped=2, print_runs_expired=1)
        assert preview_events(now) == expected
        assert scrub_events(now) == expected  # no folders on disk to remove
        assert preview_events(now) == EventScrub()
