"""`letters housekeeping`: every periodic job once, at a moment of the test's choosing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from letters import clock
from letters.extensions import db
from letters.models import BatchJob, FollowUp, Message
from letters.queue import celery_settings
from tests import factories
from tests.fakes.sendgrid import API_KEY

SENT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def app(make_app, fake):
    return make_app(SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=fake.url, SEND_TIMEOUT_SECONDS=1.0)


def _seed(app) -> dict[str, object]:
    """One letter of each kind a job acts on, all due by SENT + 14 days."""
    with app.app_context():
        sent = factories.message(delivery="email", state="sent", sent_at=SENT, created_at=SENT)
        unconfirmed = factories.message(delivery="email", created_at=SENT)
        printed = factories.message(created_at=SENT - 40 * DAY, updated_at=SENT - 40 * DAY)
        event = factories.event(date=dt.date(2026, 11, 1))
        job = BatchJob(event_id=event.id, state="queued", created_at=SENT, heartbeat_at=SENT)
        db.session.add(job)
        db.session.commit()
        return {
            "sent": sent.id,
            "unconfirmed": unconfirmed.id,
            "printed": printed.id,
            "job": job.id,
        }


def _state(app, ids) -> dict[str, object]:
    with app.app_context():
        return {
            "unconfirmed": db.session.get(Message, ids["unconfirmed"]).state,
            "printed_scrubbed": db.session.get(Message, ids["printed"]).scrubbed_at is not None,
            "job": db.session.get(BatchJob, ids["job"]).state,
            "follow_ups": db.session.scalar(select(func.count()).select_from(FollowUp)),
        }


def _lines(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines()[1:])


def test_dry_run_counts_what_is_due_and_changes_nothing(app, fake):
    ids = _seed(app)
    before = _state(app, ids)
    result = app.test_cli_runner().invoke(
        args=["housekeeping", "--now", "2026-11-16T09:00:00+00:00", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("dry run, nothing changed at 2026-11-16T09:00:00+00:00")
    lines = _lines(result.output)
    assert set(lines) == {"sweep", "followups", "retention", "print_runs"}
    assert "expired=1" in lines["sweep"] and lines["sweep"].startswith("would: ")
    assert "first=1" in lines["followups"]
    assert "letters=1" in lines["retention"]
    assert "never_started=1" in lines["print_runs"]
    assert _state(app, ids) == before
    assert fake.received == []  # a dry run sends nothing


def test_a_run_does_every_due_job_once(app, fake):
    ids = _seed(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["housekeeping", "--now", "2026-11-16T09:00:00+00:00"])
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert "expired=1" in lines["sweep"]
    assert "first=1" in lines["followups"]
    assert "letters=1" in lines["retention"]
    assert "never_started=1" in lines["print_runs"]
    assert _state(app, ids) == {
        "unconfirmed": "expired",
        "printed_scrubbed": True,
        "job": "failed",
        "follow_ups": 1,
    }
    assert [r.kind for r in fake.received] == ["followup"]
    with app.app_context():
        assert db.session.get(FollowUp, ids["sent"]).asked_at == SENT + 14 * DAY
    # Nothing is done twice; --now left the clock as it was.
    again = runner.invoke(args=["housekeeping", "--now", "2026-11-16T10:00:00+00:00"])
    assert "first=0" in _lines(again.output)["followups"]
    assert "expired=0" in _lines(again.output)["sweep"]
    assert len(fake.received) == 1
    assert clock.now() != dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC)


def test_the_day_before_nothing_is_asked(app, fake):
    _seed(app)
    result = app.test_cli_runner().invoke(
        args=["housekeeping", "--now", "2026-11-15T09:00:00+00:00"]
    )
    assert "first=0" in _lines(result.output)["followups"]
    assert fake.received == []


def test_a_time_without_a_zone_is_the_sites_and_a_bad_one_is_refused(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["housekeeping", "--now", "2026-11-16T20:00", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2026-11-16T20:00:00+11:00" in result.output  # Sydney, in daylight saving
    bad = runner.invoke(args=["housekeeping", "--now", "next tuesday"])
    assert bad.exit_code == 2 and "not an ISO date-time" in bad.output


def test_beat_runs_the_same_jobs(app):
    from letters.housekeeping import JOBS

    schedule = celery_settings(app.config)["beat_schedule"].values()
    assert {entry["task"] for entry in schedule} == {"letters.housekeeping"}
    scheduled = [job for entry in schedule for job in entry["args"][0]]
    assert sorted(scheduled) == sorted(JOBS)


def _figures(line: str) -> dict[str, int]:
    return {
        key: int(value)
        for key, value in (pair.split("=") for pair in line.removeprefix("would: ").split())
    }


def test_the_dry_run_counts_what_the_run_then_does(app, fake):
    _seed(app)
    with app.app_context():  # a reminder due too: asked 7 days before the moment below
        factories.message(
            delivery="email", state="delivered", sent_at=SENT - 7 * DAY, created_at=SENT
        )
    runner = app.test_cli_runner()
    runner.invoke(args=["housekeeping", "--now", "2026-11-09T09:00:00+00:00"])
    moment = ["--now", "2026-11-16T09:00:00+00:00"]
    dry = _lines(runner.invoke(args=["housekeeping", *moment, "--dry-run"]).output)
    done = _lines(runner.invoke(args=["housekeeping", *moment]).output)
    for job in done:
        would, did = _figures(dry[job]), _figures(done[job])
        common = set(would) & set(did)
        assert common, job
        assert {k: would[k] for k in common} == {k: did[k] for k in common}, job
    assert _figures(done["followups"])["first"] == 1
    assert _figures(done["followups"])["reminders"] == 1


def test_the_sweeps_preview_counts_each_kind_of_work_the_sweep_then_finds(app):
    """One letter (or two) of every kind the sweep acts on, and neighbours it must leave."""
    from letters.messages import sweeper

    now = SENT
    hour = dt.timedelta(hours=1)
    week = dt.timedelta(hours=app.config["CONFIRM_EXPIRE_AFTER_HOURS"])
    with app.app_context():

        def email(**fields):
            return factories.message(delivery="email", **fields)

        email(state="sending", lease_expires_at=now - hour, queued_at=now - hour)
        email(state="queued", queued_at=now - hour)
        email(state="queued", queued_at=now - hour)
        email(state="queued", queued_at=now)  # just queued: its own task is on the way
        email(created_at=now - hour)  # its confirmation never went
        email(created_at=now - 25 * hour, confirmation_sent_at=now - 25 * hour)  # reminder due
        # Unconfirmed for over a week: expired, so neither confirmed nor reminded.
        email(created_at=now - week - hour)
        email(created_at=now - week - hour, confirmation_sent_at=now - week - hour)
        # A week to the second: the window has not closed yet.
        both = {"confirmation_sent_at": now - week, "reminder_sent_at": now - week}
        email(created_at=now - week, **both)
        email(state="sent", sent_at=now - hour)  # its receipt did not go
        email(state="failed", failed_at=now - hour)  # nor the failure notice
        expected = {
            "to_send": 3,
            "to_confirm": 1,
            "to_remind": 1,
            "to_receipt": 1,
            "to_notify": 1,
            "expired_leases": 1,
            "expired": 2,
        }
        assert sweeper.preview(now) == expected
        found = sweeper.sweep(now)
        assert {
            "to_send": len(found.to_send),
            "to_confirm": len(found.to_confirm),
            "to_remind": len(found.to_remind),
            "to_receipt": len(found.to_receipt),
            "to_notify": len(found.to_notify),
            "expired": found.expired,
        } == {key: value for key, value in expected.items() if key != "expired_leases"}
