"""Helpers for the organiser tests: accounts, logging in, and reading a printed batch back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from letters.settings import PROJECT_ROOT
from tests.conftest import TEST_DATABASE_URL
from tests.live import kill_group

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def make_organiser(app: Flask, email: str = "organiser@example.org", password: str = PASSWORD):
    """An organiser account, as `letters organiser create` makes it."""
    from letters.organiser.auth import create_organiser

    with app.app_context():
        return create_organiser(email, password).id


def csrf(client: FlaskClient, url: str = "/organiser/login") -> str:
    """The CSRF token from a page's first form."""
    page = client.get(url).get_data(as_text=True)
    found = _CSRF.search(page)
    assert found, f"no CSRF token on {url}"
    return found.group(1) or found.group(2)


def login(client: FlaskClient, email: str = "organiser@example.org", password: str = PASSWORD):
    """Log in through the form, as a browser would."""
    return client.post(
        "/organiser/login",
        data={"email": email, "password": password, "csrf_token": csrf(client)},
    )


@dataclass
class Bundle:
    """One electorate's part of a printed batch: its cover sheet and the letters after it."""

    division: str
    state: str
    count: int  # what the cover sheet says
    blank_printed: int = 0
    senders: list[str] = field(default_factory=list)  # first-page sender names, in order
    members: list[str] = field(default_factory=list)  # "Member for X" on each letter
    pages: int = 1  # the cover sheet's included
    blanks: int = 0  # blank letters found


_COVER_DIVISION = re.compile(r"^(?P<division>.+) \((?P<state>[A-Z]{2,3})\)$", re.M)
_COUNT = re.compile(r"Letters enclosed: (\d+)")
_BLANK = re.compile(r"Blank letters for handwriting: (\d+) printed")
_CONTINUED = re.compile(r"page \d+ of \d+")
_MEMBER_FOR = re.compile(r"Member for (.+)")


def read_batch(path: Path) -> list[Bundle]:
    """Split a printed batch into its bundles, checking each page is of a kind we know."""
    bundles: list[Bundle] = []
    for number, page in enumerate(PdfReader(path).pages, start=1):
        text = page.extract_text() or ""
        if "Cover sheet · electorate" in text:
            found = _COVER_DIVISION.search(text)
            count = _COUNT.search(text)
            assert found and count, f"page {number}: a cover sheet without its division or count"
            blank = _BLANK.search(text)
            bundles.append(
                Bundle(
                    division=found["division"],
                    state=found["state"],
                    count=int(count.group(1)),
                    blank_printed=int(blank.group(1)) if blank else 0,
                )
            )
            continue
        assert bundles, f"page {number} comes before any cover sheet"
        bundle = bundles[-1]
        bundle.pages += 1
        if "Your name and address" in text:
            bundle.blanks += 1
        elif _CONTINUED.search(text):
            pass  # a letter's second or later page
        elif "Dear " in text:
            bundle.senders.append(text.splitlines()[0].strip())
            member = _MEMBER_FOR.search(text)
            assert member, f"page {number}: a letter without its member's address"
            bundle.members.append(member.group(1).strip())
        else:
            raise AssertionError(f"page {number} is not a cover, letter or blank letter")
    return bundles


@pytest.fixture(name="organiser_client")
def organiser_client_fixture(app_with_data: Flask) -> FlaskClient:
    """A client logged in as an organiser, on an app with the fixture member data."""
    make_organiser(app_with_data)
    client = app_with_data.test_client()
    assert login(client).status_code == 303
    return client


def worker_env(config: Mapping[str, Any], **extra: str) -> dict[str, str]:
    """The environment for a worker process that shares a test app's database and files."""
    return {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(config["INSTANCE_DIR"]),
        "LETTERS_DATA_DIR": str(config["DATA_DIR"]),
        "LETTERS_DATABASE_URL": TEST_DATABASE_URL or config["SQLALCHEMY_DATABASE_URI"],
        "LETTERS_SECRET_KEY": config["SECRET_KEY"],
        "LETTERS_TASK_QUEUE": config["TASK_QUEUE"],
        "LETTERS_BATCH_WORKERS": "2",
        **extra,
    }


@pytest.fixture(name="worker")
def worker_fixture(app_with_data, tmp_path):
    """A real Celery worker process on the embedded filesystem broker, sharing the test's data."""
    config = app_with_data.config
    env = worker_env(config)
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks.worker",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--queues={config['TASK_QUEUE']},{config['PRINT_QUEUE']}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    # No test here checks a graceful stop (tests/test_worker.py does): kill it at once.
    kill_group(process)
    log.close()


def render_processes(job_id: uuid.UUID) -> list[int]:
    """The pids of `letters organiser render-job JOB_ID` processes (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if b"render-job" in command and str(job_id).encode() in command:
            found.append(int(entry.name))
    return found
