"""Printing never starves email: a confirmed letter goes while a 3,000-letter print run renders.

Print runs have a queue and workers of their own (`letters printer`), so the email worker is
always free. Here on the embedded defaults exactly as `letters serve` runs them (SQLite, the
file-system queue, the worker and printer it starts itself), and on Redis and PostgreSQL with
`letters worker` and `letters printer` as the compose file runs them. This process plays the
organiser and the supporter through its own app on the same database and queue.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from letters import create_app, migrations, settings
from letters.domain.print_runs import PrintRunState
from letters.extensions import db
from letters.models import BatchJob
from tests import factories
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, FakeSendGrid
from tests.helpers import csrf_token, submit
from tests.live import kill_group
from tests.organiser_helpers import csrf, login, render_processes
from tests.services import REDIS_URL, require_redis, scratch_postgres
from tests.test_worker import Worker, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.once]

PRINTED = 3000
EMAIL_WITHIN_SECONDS = 15


@contextmanager
def _serve(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """`letters serve` with its embedded worker and printer, until the block ends."""
    with log.open("ab") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "letters", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"letters serve did not start: {log.read_text()[-3000:]}")
                time.sleep(0.1)  # polling for the port, bounded by the deadline
        yield
    finally:
        # What this file shows is over by then; a graceful stop would wait for the print run.
        kill_group(server)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["embedded", "redis-postgres"])
def site(request, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The workers running, and an app of this process's on the same database and queue."""
    fake = FakeSendGrid().start()
    env = {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(tmp_path / "instance"),
        "LETTERS_DATA_DIR": str(tmp_path / "data"),
        "LETTERS_SECRET_KEY": "print-queue-test-secret",
        "LETTERS_BASE_URL": "https://letters.example.org",
        "LETTERS_TASK_QUEUE": f"test-{uuid.uuid4().hex}",  # and its print queue: ours alone
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_API_HOST": fake.url,
        "LETTERS_MIN_FILL_SECONDS": "0",
        # The printer's task checks its run is still wanted every quarter of this: the test
        # ends the run once the email is through, and the render stops within half a second.
        "LETTERS_BATCH_HEARTBEAT_TIMEOUT_SECONDS": "2",
    }
    env.pop("LETTERS_DATABASE_URL", None)
    env.pop("LETTERS_BROKER_URL", None)
    load_fixture_members(tmp_path / "data")
    log = tmp_path / "workers.log"
    with ExitStack() as stack:
        stack.callback(fake.stop)
        if request.param == "embedded":
            # serve upgrades the SQLite file before anything else uses it.
            stack.enter_context(_serve(env, _free_port(), log))
        else:
            require_redis()
            env["LETTERS_BROKER_URL"] = REDIS_URL
            env["LETTERS_DATABASE_URL"] = stack.enter_context(scratch_postgres("printq"))
        app = create_app({**settings.from_environment(env), "TESTING": True})

        def dispose() -> None:
            with app.app_context():
                db.engine.dispose()

        stack.callback(dispose)
        if request.param != "embedded":
            with app.app_context():
                migrations.upgrade(db.engine)
            for command in ("worker", "printer"):
                worker = Worker(env, log, "--concurrency", "1", command=command)
                stack.callback(worker.stop)
        yield {"app": app, "fake": fake, "log": log}


def _print_run(app: Flask) -> tuple[Any, uuid.UUID]:
    """An organiser prints an event's PRINTED letters; their client and the run."""
    with app.app_context():
        event = factories.event(factories.organiser("organiser@example.org"))
        factories.attendees(event, PRINTED, division="Wattle")
        event_id = event.id
    client = app.test_client()
    assert login(client).status_code == 303
    response = client.post(
        f"/organiser/events/{event_id}/print",
        data={"csrf_token": csrf(client, f"/organiser/events/{event_id}")},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return client, uuid.UUID(response.location.rsplit("/", 1)[1])


def _progress(client, job_id: uuid.UUID) -> dict[str, Any]:
    return client.get(f"/organiser/jobs/{job_id}.json").get_json()


def test_a_confirmed_email_goes_while_a_big_print_run_renders(site):
    app, fake = site["app"], site["fake"]
    organiser, job_id = _print_run(app)

    def rendering() -> bool:
        state = _progress(organiser, job_id)
        assert state["state"] in ("queued", "running"), state
        return state["state"] == "running" and state["done"] > 0

    wait_for(rendering, 120, "the print run to be rendering")

    supporter = app.test_client()
    assert submit(supporter, delivery="email").status_code == 303
    wait_for(lambda: fake.received, 30, "the confirmation email")
    link = re.search(r"(/confirm/\S+)", fake.received[0].payload["content"][0]["value"])
    assert link, fake.received[0].payload
    path = link.group(1)
    token = csrf_token(supporter, path)

    confirmed = time.monotonic()
    assert supporter.post(path, data={"csrf_token": token}).status_code == 303
    wait_for(fake.letters, EMAIL_WITHIN_SECONDS, "the letter at SendGrid")
    waited = time.monotonic() - confirmed
    state = _progress(organiser, job_id)
    assert state["state"] == "running" and state["done"] < state["total"], state
    print(f"the letter reached SendGrid {waited:.1f} s after confirming; print run at {state}")

    # Done: end the run as the sweep would, and its printer stops the render.
    with app.app_context():
        db.session.execute(
            update(BatchJob).where(BatchJob.id == job_id).values(state=PrintRunState.FAILED)
        )
        db.session.commit()
    wait_for(lambda: render_processes(job_id) == [], 30, "the render to stop")
