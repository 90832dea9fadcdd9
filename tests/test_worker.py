"""Real Celery workers: the embedded broker with SQLite, and Redis with PostgreSQL.

Each test starts `letters worker` as its own process group, drives letters through the web
app in this process (same database), and counts what the local SendGrid stand-in received.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from letters import create_app, settings
from letters.extensions import db
from letters.models import Message
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, FakeSendGrid, WebhookSigner, event, post_events
from tests.helpers import csrf_token, submit
from tests.live import serving
from tests.services import POSTGRES_URL, REDIS_URL

pytestmark = pytest.mark.processes


def _reachable(url: str) -> bool:
    if url.startswith("redis://"):
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError:
            return False
        return True
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until `condition` holds (bounded); fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Worker:
    """`letters worker` (or `letters printer`) in its own process group, so SIGKILL takes its
    pool children too."""

    def __init__(self, env: dict[str, str], log: Path, *args: str, command: str = "worker"):
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "letters", command, *args],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM to the worker's main process alone, as a process manager stops it."""
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        # At the end of a test, whatever it did: Celery's warm shutdown would wait for the
        # tasks in hand (a letter held open by the fake, say), so end the whole group at once.
        if self.process.poll() is None:
            self.kill()
        self.log.close()


@pytest.fixture(params=["embedded", "redis-postgres"])
def stack(request, tmp_path: Path) -> Iterator[dict]:
    """Config shared by this process's app and the worker processes, plus the fakes."""
    signer = WebhookSigner()
    fake = FakeSendGrid().start()
    env = {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(tmp_path / "instance"),
        "LETTERS_DATA_DIR": str(tmp_path / "data"),
        "LETTERS_SECRET_KEY": "worker-test-secret",
        "LETTERS_BASE_URL": "https://letters.example.org",
        "LETTERS_TASK_QUEUE": f"test-{uuid.uuid4().hex}",  # nothing left over from other runs
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_API_HOST": fake.url,
        "SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
        "LETTERS_SEND_TIMEOUT_SECONDS": "3",
        "LETTERS_SEND_LEASE_SECONDS": "4",
        "LETTERS_SWEEP_INTERVAL_SECONDS": "1",
        "LETTERS_SWEEP_QUEUED_AFTER_SECONDS": "3",
        "LETTERS_MIN_FILL_SECONDS": "0",
    }
    if request.param == "redis-postgres":
        for url in (POSTGRES_URL, REDIS_URL):
            if not _reachable(url):
                if os.environ.get("CI") == "true":
                    pytest.fail(f"{url} is not reachable, and CI must test on it")
                pytest.skip(f"{url} is not reachable")
        env["LETTERS_DATABASE_URL"] = POSTGRES_URL
        env["LETTERS_BROKER_URL"] = REDIS_URL
    app = create_app({**settings.from_environment(env), "TESTING": True})
    with app.app_context():
        db.drop_all()
        db.create_all()
    load_fixture_members(app.config["DATA_DIR"])
    workers: list[Worker] = []

    def start_worker(*args: str, **settings: str) -> Worker:
        """A worker with these arguments, and these LETTERS_* settings changed for it alone."""
        worker_env = {**env, **{f"LETTERS_{name}": value for name, value in settings.items()}}
        worker = Worker(worker_env, tmp_path / "worker.log", *args)
        workers.append(worker)
        return worker

    yield {
        "kind": request.param,
        "app": app,
        "fake": fake,
        "signer": signer,
        "start_worker": start_worker,
        "log": tmp_path / "worker.log",
    }
    for worker in workers:
        worker.stop()
    fake.stop()
    with app.app_context():
        if POSTGRES_URL in str(env.get("LETTERS_DATABASE_URL", "")):
            db.drop_all()
        db.engine.dispose()


def _confirm_links(fake: FakeSendGrid) -> dict[str, str]:
    links = {}
    for item in fake.received:
        if item.kind == "confirmation":
            text = item.payload["content"][0]["value"]
            links[item.message_id] = re.search(r"(/confirm/\S+)", text).group(1)
    return links


def _write(stack: dict, count: int) -> dict[str, str]:
    """Supporters write email letters; the confirmation links they were sent, by letter."""
    client = stack["app"].test_client()
    for n in range(count):
        response = submit(
            client,
            name=f"Supporter {n}",
            email=f"supporter{n}@example.org",
            postcode="2001",
            delivery="email",
        )
        assert response.status_code == 303
    fake = stack["fake"]
    wait_for(lambda: len(_confirm_links(fake)) == count, 60, "the confirmation emails")
    return _confirm_links(fake)


def _confirm(stack: dict, links: dict[str, str]) -> list[str]:
    """Each supporter presses "Send my letter"; the letters' ids."""
    client = stack["app"].test_client()
    for path in links.values():
        assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 303
    return list(links)


def _write_and_confirm(stack: dict, count: int) -> list[str]:
    """Supporters write email letters and press "Send my letter" on each confirmation."""
    return _confirm(stack, _write(stack, count))


def _states(app) -> dict[str, str]:
    with app.app_context():
        db.session.expire_all()
        return {str(m.id): m.state for m in db.session.scalars(select(Message)).all()}


def test_a_worker_sends_confirmed_letters(stack):
    stack["start_worker"]("--beat", "--concurrency", "2")
    ids = _write_and_confirm(stack, 5)
    fake = stack["fake"]
    wait_for(lambda: len(fake.letters()) >= 5, 60, "five letters at the fake SendGrid")
    assert fake.count_by_message() == dict.fromkeys(ids, 1)
    wait_for(lambda: set(_states(stack["app"]).values()) == {"sent"}, 30, "every row to be sent")


@pytest.fixture
def live_url(stack) -> Iterator[str]:
    """The app over HTTP, so the fake SendGrid can post delivery events to its webhook."""
    with serving(stack["app"]) as url:
        yield url


def test_sigkill_mid_send_loses_nothing_and_sends_nothing_twice(stack, live_url):
    fake, signer = stack["fake"], stack["signer"]
    webhook = live_url + "/webhooks/sendgrid"

    def processed(received) -> None:
        # As SendGrid does: accepting a message produces a `processed` event soon after.
        if received.kind == "letter":
            status = post_events(webhook, signer, [event(received.message_id, "processed")])
            assert status == 200

    fake.on_accept = processed
    first = stack["start_worker"]("--beat", "--concurrency", "1")
    links = _write(stack, 6)
    # Hold the first letter's request open (accepted by "SendGrid", answer not yet back), set
    # before anyone confirms: a worker may send letters as fast as they are confirmed.
    # (Receipts to the supporters, sent as letters go, are answered at once.)
    fake.answer(("slow", 60.0), kind="letter")
    ids = _confirm(stack, links)
    wait_for(fake.request_started.is_set, 60, "a letter to be in flight")
    first.kill()

    stack["start_worker"]("--beat", "--concurrency", "2")
    wait_for(
        lambda: len(fake.count_by_message()) == len(ids), 90, "every letter at the fake SendGrid"
    )
    wait_for(
        lambda: set(_states(stack["app"]).values()) <= {"sent", "delivered"},
        60,
        "every row to be recorded as sent",
    )
    counts = fake.count_by_message()
    assert set(counts) == set(ids)
    assert all(n == 1 for n in counts.values()), f"duplicates: {counts}"


def _log(stack: dict) -> str:
    return stack["log"].read_text(errors="replace")


def _stop_mid_send(stack: dict, first: Worker, status: int, waiting: int = 0) -> list[str]:
    """A supporter's letter, confirmed and in the worker's hands, its send held by the fake
    (to be answered `status`), and `waiting` more confirmed behind it; then SIGTERM, and the
    worker's warm shutdown under way. The letters' ids, the one in hand first."""
    fake = stack["fake"]
    links = list(_write(stack, 1 + waiting).items())
    fake.answer(("hold", status), kind="letter")
    in_hand = _confirm(stack, dict(links[:1]))
    wait_for(fake.request_started.is_set, 60, "the letter's send to be in flight")
    behind = _confirm(stack, dict(links[1:]))
    first.terminate()
    # Celery says so once SIGTERM has reached it; from then on it takes no new task.
    wait_for(lambda: "Warm shutdown" in _log(stack), 30, "the worker's warm shutdown to begin")
    assert first.process.poll() is None, "the worker left without its task"
    return in_hand + behind


@pytest.mark.once
def test_sigterm_lets_the_worker_finish_the_letter_in_hand(stack):
    fake = stack["fake"]
    # A send timeout and lease longer than the test, so that only the shutdown is at play.
    first = stack["start_worker"](
        "--concurrency", "1", SEND_TIMEOUT_SECONDS="50", SEND_LEASE_SECONDS="60"
    )
    in_hand, behind = _stop_mid_send(stack, first, 202, waiting=1)
    fake.answer(202)
    fake.release()
    assert first.process.wait(timeout=60) == 0, _log(stack)[-3000:]
    assert fake.count_by_message()[in_hand] == 1
    # Recorded before it left.
    assert _states(stack["app"])[in_hand] == "sent"
    if stack["kind"] == "redis-postgres":
        # It took no new task: the letter behind it waits for the next worker. (On the
        # file-system broker Celery's polling loop drains the queue once more after the stop
        # began, so it may take and finish that one too; either way it is sent once.)
        assert _states(stack["app"])[behind] == "queued"
    stack["start_worker"]("--concurrency", "1")
    wait_for(lambda: behind in fake.count_by_message(), 60, "the next worker to send the other")
    wait_for(lambda: _states(stack["app"])[behind] == "sent", 30, "the other to be recorded")
    assert fake.count_by_message() == {in_hand: 1, behind: 1}


@pytest.mark.once
def test_a_worker_killed_after_sigterm_leaves_the_letter_to_another_worker(stack):
    fake = stack["fake"]
    # The first worker's lease runs out soon after it dies; its send timeout is longer than
    # the moments between the send and the kill.
    first = stack["start_worker"](
        "--concurrency", "1", SEND_TIMEOUT_SECONDS="8", SEND_LEASE_SECONDS="10"
    )
    # The held send never reaches SendGrid's queue: answered with a 503, to a dead worker.
    [letter_id] = _stop_mid_send(stack, first, 503)
    first.kill()  # the process manager's grace period ran out
    fake.answer(202)
    fake.release()
    assert fake.count_by_message() == {}
    # Only the lease's running out frees the letter; the sweep (beat) then hands it on.
    stack["start_worker"]("--beat", "--concurrency", "1")
    wait_for(lambda: fake.count_by_message() != {}, 90, "the letter at the fake SendGrid")
    wait_for(lambda: _states(stack["app"])[letter_id] == "sent", 30, "the letter to be sent")
    assert fake.count_by_message() == {letter_id: 1}
