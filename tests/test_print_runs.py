"""Print runs that lose their process are failed, clean up, and can be printed again."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import insert, select, update

from letters import clock, settings
from letters.extensions import db
from letters.models import Attendee, BatchJob, Event
from letters.printing import runs as printing
from letters.printing.runs import (
    HUNG,
    NEVER_STARTED,
    STOPPED_UNEXPECTEDLY,
    attempt_folder,
    claim,
    heartbeat,
    job_folder,
    run_batch_job,
    sweep_print_runs,
)
from letters.queue import celery_settings
from tests.organiser_helpers import (
    csrf,
    login,
    make_organiser,
    read_batch,
    render_processes,
    worker_env,
)
from tests.test_worker import Worker, wait_for

NOW = dt.datetime(2026, 12, 5, 10, tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(seconds=120)  # the default heartbeat timeout
QUEUED_TIMEOUT = dt.timedelta(seconds=1800)
PROGRESS_TIMEOUT = dt.timedelta(seconds=600)


def _event(app: Flask, attendees: int = 3) -> int:
    """An organiser's event whose attendees are all settled, ready to print."""
    organiser_id = make_organiser(app)
    with app.app_context():
        event = Event(
            organiser_id=organiser_id,
            name="Letters & tea",
            date=dt.date(2026, 12, 5),
            campaign_key="tougher-on-tech",
        )
        db.session.add(event)
        db.session.commit()
        rows = [
            {
                "event_id": event.id,
                "name": f"Person{n:03d} Writer",
                "postcode": "2001",
                "division": "Wattle",
                "division_state": "NSW",
                "member_name": "Harry Fernsby",
            }
            for n in range(attendees)
        ]
        db.session.execute(insert(Attendee), rows)
        db.session.commit()
        return event.id


def _job(app: Flask, job_id: uuid.UUID) -> BatchJob:
    with app.app_context():
        found = db.session.get(BatchJob, job_id)
        assert found is not None
        db.session.expunge(found)
        return found


def _add_job(app: Flask, event_id: int, **values: object) -> uuid.UUID:
    with app.app_context():
        job = BatchJob(event_id=event_id, **values)
        db.session.add(job)
        db.session.commit()
        return job.id


def test_the_sweep_fails_runs_whose_heartbeat_stopped_and_removes_their_files(app_with_data):
    app = app_with_data
    event_id = _event(app)
    old, fresh = NOW - TIMEOUT - dt.timedelta(seconds=1), NOW - TIMEOUT + dt.timedelta(seconds=5)
    ids = {
        "dead": _add_job(app, event_id, state="running", attempt=2, heartbeat_at=old),
        "alive": _add_job(app, event_id, state="running", attempt=1, heartbeat_at=fresh),
        "no-beat-yet": _add_job(app, event_id, state="running", attempt=1, created_at=old),
        "waiting": _add_job(app, event_id, state="queued", created_at=NOW - TIMEOUT * 5),
        "forgotten": _add_job(
            app, event_id, state="queued", created_at=NOW - QUEUED_TIMEOUT - TIMEOUT
        ),
        "done": _add_job(app, event_id, state="done", heartbeat_at=old, files=["letters.pdf"]),
        "failed": _add_job(app, event_id, state="failed", heartbeat_at=old, error="boom"),
    }
    with app.app_context():
        for name in ("dead", "alive", "done"):
            job = _job(app, ids[name])
            folder = attempt_folder(job.id, job.attempt)
            folder.mkdir(parents=True)
            (folder / "letters.pdf").write_bytes(b"%PDF- partial")
        found = sweep_print_runs(NOW)
        assert (found.stalled, found.never_started) == (2, 1)
        again = sweep_print_runs(NOW + dt.timedelta(seconds=1))
        assert (again.stalled, again.never_started) == (0, 0)
        dead_folder = attempt_folder(ids["dead"], 2)
        alive_folder = attempt_folder(ids["alive"], 1)
        done_folder = attempt_folder(ids["done"], 0)

    states = {name: (_job(app, i).state, _job(app, i).error) for name, i in ids.items()}
    assert states == {
        "dead": ("failed", STOPPED_UNEXPECTEDLY),
        "alive": ("running", ""),
        "no-beat-yet": ("failed", STOPPED_UNEXPECTEDLY),
        "waiting": ("queued", ""),
        "forgotten": ("failed", NEVER_STARTED),
        "done": ("done", ""),
        "failed": ("failed", "boom"),
    }
    assert not dead_folder.exists()
    assert alive_folder.exists() and done_folder.exists()


def test_the_sweep_fails_runs_that_beat_but_make_no_progress(app_with_data):
    app = app_with_data
    event_id = _event(app)
    beating = NOW - dt.timedelta(seconds=5)
    ids = {
        "hung": _add_job(
            app,
            event_id,
            state="running",
            attempt=1,
            heartbeat_at=beating,
            progress_at=NOW - PROGRESS_TIMEOUT - dt.timedelta(seconds=1),
        ),
        "busy": _add_job(
            app,
            event_id,
            state="running",
            attempt=1,
            heartbeat_at=beating,
            progress_at=NOW - PROGRESS_TIMEOUT + dt.timedelta(seconds=5),
        ),
        "slow-start": _add_job(
            app,
            event_id,
            state="running",
            attempt=1,
            heartbeat_at=beating,
            started_at=NOW - PROGRESS_TIMEOUT - dt.timedelta(seconds=1),
        ),
    }
    with app.app_context():
        hung_folder = attempt_folder(ids["hung"], 1)
        hung_folder.mkdir(parents=True)
        found = sweep_print_runs(NOW)
        assert (found.stalled, found.hung, found.never_started) == (0, 2, 0)
    states = {name: (_job(app, i).state, _job(app, i).error) for name, i in ids.items()}
    assert states == {
        "hung": ("failed", HUNG),
        "busy": ("running", ""),
        "slow-start": ("failed", HUNG),
    }
    assert not hung_folder.exists()


def test_the_heartbeat_beats_while_running_and_stops_with_its_attempt(make_app):
    app = make_app(BATCH_HEARTBEAT_TIMEOUT_SECONDS=0.2)  # a beat every 0.05 s
    event_id = _event(app)
    job_id = _add_job(app, event_id)
    with app.app_context():
        attempt = claim(job_id)
        assert attempt == 1
        assert claim(job_id) is None  # a second message for the same run is skipped
        first = _job(app, job_id).heartbeat_at
        with heartbeat(job_id, attempt):
            wait_for(lambda: _job(app, job_id).heartbeat_at > first, 10, "a heartbeat")
            thread = next(t for t in threading.enumerate() if t.name == f"heartbeat-{job_id}")
            # Once the attempt is no longer the live one, its thread gives up by itself.
            db.session.execute(update(BatchJob).where(BatchJob.id == job_id).values(state="failed"))
            db.session.commit()
            thread.join(timeout=10)
            assert not thread.is_alive()
        last = _job(app, job_id).heartbeat_at
    assert _job(app, job_id).heartbeat_at == last


def test_an_old_attempt_cannot_touch_the_live_one(app_with_data):
    app = app_with_data
    job_id = _add_job(app, _event(app))
    with app.app_context():
        assert claim(job_id) == 1
        assert sweep_print_runs(dt.datetime.now(dt.UTC) + TIMEOUT * 2).stalled == 1
        db.session.execute(update(BatchJob).where(BatchJob.id == job_id).values(state="queued"))
        db.session.commit()
        assert claim(job_id) == 2
        live = attempt_folder(job_id, 2)
        live.mkdir(parents=True)
        # The first attempt's process was only slow, and now reports its own failure.
        assert not printing.fail_attempt(job_id, 1, "late news from a slow process")
        assert live.exists()
    job = _job(app, job_id)
    assert (job.state, job.attempt, job.error) == ("running", 2, "")


def _print(app: Flask, client, event_id: int) -> uuid.UUID:
    response = client.post(
        f"/organiser/events/{event_id}/print",
        data={"csrf_token": csrf(client, f"/organiser/events/{event_id}"), "zip": "y"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return uuid.UUID(response.location.rsplit("/", 1)[1])


def test_a_run_presumed_dead_cannot_overwrite_its_replacement(app_with_data, monkeypatch):
    app = app_with_data
    event_id = _event(app, attendees=3)
    client = app.test_client()
    login(client)
    job_id = _print(app, client, event_id)
    real_render = printing.render_batch

    def render_while_the_sweep_gives_up(*args, **kwargs):
        # The sweep runs while this attempt still renders (a stall longer than the timeout).
        sweep_print_runs(dt.datetime.now(dt.UTC) + TIMEOUT * 2)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(printing, "render_batch", render_while_the_sweep_gives_up)
    with app.app_context():
        assert run_batch_job(job_id, workers=1) == "abandoned"
        assert not attempt_folder(job_id, 1).exists()
    failed = _job(app, job_id)
    assert (failed.state, failed.error, failed.files) == ("failed", STOPPED_UNEXPECTEDLY, [])

    url = f"/organiser/jobs/{job_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Printing failed: The print run stopped unexpectedly" in page
    assert "Print again</button>" in page
    assert client.post(f"{url}/retry", data={}).status_code == 400
    assert _job(app, job_id).state == "failed"  # no CSRF token, no retry
    with app.app_context():
        # Printed yesterday: printing again must not look like a day's wait for a worker.
        yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        db.session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id)
            .values(created_at=yesterday, heartbeat_at=yesterday)
        )
        db.session.commit()
    again = client.post(f"{url}/retry", data={"csrf_token": csrf(client, url)})
    assert again.status_code == 303
    assert _job(app, job_id).state == "queued"
    with app.app_context():
        assert sweep_print_runs().never_started == 0

    monkeypatch.setattr(printing, "render_batch", real_render)
    with app.app_context():
        assert run_batch_job(job_id, workers=1) == "done"
        # The attempt that gave up cannot finish after its replacement either.
        assert run_batch_job(job_id, workers=1, attempt=1) == "skipped"
    done = _job(app, job_id)
    assert (done.state, done.attempt, done.error) == ("done", 2, "")
    with client.get(f"{url}/files/letters.pdf") as download:
        assert download.status_code == 200
        target = Path(app.config["INSTANCE_DIR"]) / "printed.pdf"
        target.write_bytes(download.get_data())
    assert sum(bundle.count for bundle in read_batch(target)) == 3


def test_a_run_that_fails_removes_its_partial_files(app_with_data, monkeypatch):
    app = app_with_data
    event_id = _event(app)
    job_id = _add_job(app, event_id, options={"zip": True})

    def half_written(groups, targets, *args, **kwargs):
        targets.pdf.write_bytes(b"%PDF-1.7 the first electorates")
        raise OSError("No space left on device")

    monkeypatch.setattr(printing, "render_batch", half_written)
    with app.app_context():
        assert run_batch_job(job_id, workers=1) == "failed"
        assert not attempt_folder(job_id, 1).exists()
    failed = _job(app, job_id)
    assert (failed.state, failed.error) == ("failed", "No space left on device")


def test_the_sweep_is_on_the_beat_schedule(app):
    schedule = celery_settings(app.config)["beat_schedule"]
    entry = next(e for e in schedule.values() if "print_runs" in e["args"][0])
    assert entry["task"] == "letters.housekeeping"
    assert entry["schedule"] == app.config["SWEEP_INTERVAL_SECONDS"]


def test_print_runs_have_a_queue_of_their_own(app, monkeypatch):
    settings_ = celery_settings(app.config)
    queue, prints = app.config["TASK_QUEUE"], app.config["PRINT_QUEUE"]
    assert prints == f"{queue}-print"
    assert settings_["task_routes"] == {"letters.render_batch": {"queue": prints}}
    assert settings_["task_default_queue"] == queue  # email, and every sweep, print runs' too
    started: list[list[str]] = []
    celery_app = app.extensions["celery"]
    monkeypatch.setattr(celery_app, "worker_main", started.append)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["worker"]).exit_code == 0
    assert runner.invoke(args=["printer"]).exit_code == 0
    worker, printer = started
    assert f"--queues={queue}" in worker and f"--queues={prints}" in printer
    assert "--concurrency=1" in printer
    assert any(a.startswith("--hostname=printer-") for a in printer)
    assert any(a.startswith("--hostname=worker-") for a in worker)


@pytest.mark.parametrize(
    "variable",
    [
        "LETTERS_BATCH_HEARTBEAT_TIMEOUT_SECONDS",
        "LETTERS_BATCH_PROGRESS_TIMEOUT_SECONDS",
        "LETTERS_BATCH_QUEUED_TIMEOUT_SECONDS",
    ],
)
@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_print_run_timeouts_must_be_positive_numbers(variable, value, tmp_path):
    with pytest.raises(settings.ConfigError, match=variable):
        settings.check(
            settings.from_environment({"LETTERS_INSTANCE_DIR": str(tmp_path), variable: value})
        )


# --- Real processes: a Celery worker renders, and is killed mid-render -------------------------


@pytest.fixture
def start_worker(app_with_data: Flask, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start `letters printer` or `letters worker` processes (each its own process group)
    sharing the test's data: start() a printer, start("--beat") a worker that sweeps."""
    config = app_with_data.config
    env = worker_env(
        config, LETTERS_SWEEP_INTERVAL_SECONDS="0.5", LETTERS_BATCH_HEARTBEAT_TIMEOUT_SECONDS="3"
    )
    workers: list[Worker] = []

    def start(*args: str, **extra_env: str) -> Worker:
        command = "worker" if "--beat" in args else "printer"
        worker = Worker(
            {**env, **extra_env},
            tmp_path / "worker.log",
            "--concurrency",
            "1",
            *args,
            command=command,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    # A render runs in a process group of its own: end any this test left behind.
    for render in _renders_using(config["INSTANCE_DIR"]):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(render, signal.SIGKILL)


def _renders_using(instance_dir: Path) -> list[int]:
    """Render processes started with this instance folder (Linux /proc)."""
    marker = f"LETTERS_INSTANCE_DIR={instance_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
            if b"render-job" in command and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue  # not a process, or ended meanwhile
    return found


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes in a process group (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # pid (comm) state ppid pgrp ...; comm may hold spaces, so split after its ")".
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def _running_midway(client, url: str) -> Callable[[], bool]:
    def check() -> bool:
        state = client.get(f"{url}.json").get_json()
        assert state["state"] in ("queued", "running"), f"finished before the kill: {state}"
        return state["state"] == "running" and 0 < state["done"] < state["total"]

    return check


LETTERS = 100  # five chunks of 20 on two processes: several seconds to catch it midway


def _print_midway(app: Flask, start_worker: Callable[..., Worker]):
    """An organiser prints LETTERS letters; a printer (no sweep) is part-way through them.

    Returns the logged-in client, the job, its page's URL, the worker and the render's pids.
    """
    event_id = _event(app, attendees=LETTERS)
    client = app.test_client()
    login(client)
    worker = start_worker()
    job_id = _print(app, client, event_id)
    url = f"/organiser/jobs/{job_id}"
    wait_for(_running_midway(client, url), 90, "the render to be part-way through")
    renders = render_processes(job_id)
    assert renders, "no render process found"
    return client, job_id, url, worker, renders


@pytest.mark.once
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
@pytest.mark.processes
def test_killing_the_worker_mid_render_fails_the_run_and_print_again_works(
    app_with_data, start_worker
):
    app = app_with_data
    # No beat: nothing sweeps until the second worker starts.
    client, job_id, url, first, renders = _print_midway(app, start_worker)
    with app.app_context():
        partial = attempt_folder(job_id, 1)
    assert partial.exists()
    # Every process goes at once, as when a container is killed or the machine stops: the
    # worker's process group, and the render's own (its leader is the render).
    first.kill()
    for render in renders:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(render, signal.SIGKILL)
    wait_for(lambda: render_processes(job_id) == [], 10, "the render process to end")
    assert _job(app, job_id).state == "running"  # nobody is left to say otherwise

    start_worker("--beat")
    wait_for(lambda: _job(app, job_id).state == "failed", 60, "the sweep to fail the run")
    assert _job(app, job_id).error == STOPPED_UNEXPECTEDLY
    # Another process removes the files just after committing the failure (it must own the
    # attempt first), so the test waits for that too.
    wait_for(lambda: not partial.exists(), 10, "the sweep to remove the partial files")
    page = client.get(url).get_data(as_text=True)
    assert "The print run stopped unexpectedly" in page and "Print again</button>" in page

    start_worker()  # a printer in place of the one killed
    assert client.post(f"{url}/retry", data={"csrf_token": csrf(client, url)}).status_code == 303
    wait_for(lambda: _job(app, job_id).state == "done", 120, "the run printed again")
    done = _job(app, job_id)
    assert (done.attempt, done.done, done.total) == (2, LETTERS, LETTERS)
    with app.app_context():
        assert [p.name for p in job_folder(job_id).iterdir()] == ["2"]


@pytest.mark.once
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
@pytest.mark.processes
def test_a_killed_render_process_fails_its_run_at_once(app_with_data, start_worker):
    app = app_with_data
    # No beat: the task itself notices, not the sweep.
    _, job_id, _, _, (render,) = _print_midway(app, start_worker)
    assert len(_group(render)) > 1  # the render and its pool of processes
    os.kill(render, signal.SIGKILL)  # the render alone: its pool is orphaned
    wait_for(lambda: _job(app, job_id).state == "failed", 30, "the task to fail the run")
    wait_for(lambda: _group(render) == [], 10, "the orphaned pool processes to be gone")
    assert _job(app, job_id).error == STOPPED_UNEXPECTEDLY
    with app.app_context():
        partial = attempt_folder(job_id, 1)
    wait_for(lambda: not partial.exists(), 10, "the task to remove the partial files")


@pytest.mark.once
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
@pytest.mark.processes
def test_a_hung_render_is_failed_by_the_sweep_and_stopped_by_its_task(app_with_data, start_worker):
    app = app_with_data
    client, job_id, url, worker, (render,) = _print_midway(app, start_worker)
    # A render stopped with SIGSTOP is as hung as one can be: alive, doing nothing, while its
    # task's heartbeat goes on. A worker's sweep finds it (the printer's only pool process is
    # busy waiting on the render); the printer's task then stops the render.
    os.killpg(render, signal.SIGSTOP)
    start_worker("--beat", LETTERS_BATCH_PROGRESS_TIMEOUT_SECONDS="3")

    wait_for(lambda: _job(app, job_id).state == "failed", 60, "the sweep to fail the hung run")
    assert _job(app, job_id).error == HUNG
    wait_for(lambda: _group(render) == [], 30, "the task to stop the hung render")
    assert worker.process.poll() is None  # the worker goes on, free for the next run
    with app.app_context():
        partial = attempt_folder(job_id, 1)
    wait_for(lambda: not partial.exists(), 10, "the task to remove the partial files")
    page = client.get(url).get_data(as_text=True)
    assert "stopped making progress" in page and "Print again</button>" in page


def test_every_print_run_state_fits_its_column():
    from letters.domain.print_runs import PrintRunState

    column = BatchJob.__table__.c.state
    assert column.default.arg == PrintRunState.QUEUED
    assert max(len(state) for state in PrintRunState) <= column.type.length


def test_one_heartbeat_a_run_the_task_claimed_is_beaten_for_by_the_task_alone(
    app_with_data, monkeypatch
):
    app = app_with_data
    event_id = _event(app)
    job_id = _add_job(app, event_id)
    beats: list[uuid.UUID] = []

    @contextlib.contextmanager
    def counted(job: uuid.UUID, attempt: int) -> Iterator[None]:
        beats.append(job)
        yield

    monkeypatch.setattr(printing, "heartbeat", counted)
    with app.app_context():
        # As `letters organiser render-job --attempt N` runs it: its task already beats.
        assert run_batch_job(job_id, workers=1, attempt=claim(job_id)) == "done"
        assert beats == []
        # Run whole in one process, claimed here: this process beats for it.
        db.session.execute(update(BatchJob).where(BatchJob.id == job_id).values(state="queued"))
        db.session.commit()
        assert run_batch_job(job_id, workers=1) == "done"
        assert beats == [job_id]


def test_a_run_that_succeeds_records_when_each_letter_was_first_printed(app_with_data, monkeypatch):
    app = app_with_data
    event_id = _event(app, attendees=2)
    first = _add_job(app, event_id)
    with app.app_context():
        clock.freeze(NOW)
        try:
            assert run_batch_job(first, workers=1) == "done"
            printed = db.session.scalars(
                select(Attendee.printed_at).where(Attendee.event_id == event_id)
            ).all()
            assert printed == [NOW, NOW]
            # One added afterwards waits for the next run; printing again keeps the first time.
            db.session.add(
                Attendee(event_id=event_id, name="Late Comer", postcode="2001", division="Wattle",
                         division_state="NSW", member_name="Harry Fernsby")
            )  # fmt: skip
            db.session.commit()
            late = db.session.scalar(select(Attendee.id).where(Attendee.name == "Late Comer"))
            assert db.session.get(Attendee, late).printed_at is None
            clock.freeze(NOW + dt.timedelta(days=1))
            assert run_batch_job(_add_job(app, event_id), workers=1) == "done"
            db.session.expire_all()
            times = dict(db.session.execute(select(Attendee.name, Attendee.printed_at)).all())
            assert times.pop("Late Comer") == NOW + dt.timedelta(days=1)
            assert set(times.values()) == {NOW}
            # A run that fails prints nothing, so records nothing.
            db.session.execute(update(Attendee).values(printed_at=None))
            db.session.commit()
            monkeypatch.setattr(printing, "render_batch", _no_space)
            assert run_batch_job(_add_job(app, event_id), workers=1) == "failed"
            assert db.session.scalars(select(Attendee.printed_at)).all() == [None] * 3
        finally:
            clock.unfreeze()


def _no_space(*args, **kwargs):
    raise OSError("No space left on device")
