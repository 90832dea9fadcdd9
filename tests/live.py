"""The app on a real HTTP server, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium must not reach for Google's services: this machine has no outside network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 (a free port) in a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@contextmanager
def chromium_page(**context_options: Any) -> Iterator[Any]:
    """A fresh Chromium page (skips the test, saying why, where Chromium is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (bash .ci/install installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(**context_options)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def free_port() -> int:
    """A port nothing listens on now, for a server started later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started with start_new_session=True, and its children, at once.

    For tests that do not check a graceful shutdown: Celery's takes seconds, for nothing."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def letters_serve(
    env: Mapping[str, str], cwd: Path, port: int, *, graceful: bool = True
) -> Iterator[str]:
    """`letters serve` as a new user runs it (embedded broker, worker and printer, local
    outbox), with this environment; its base URL once it answers. Stopped on leaving: as
    Ctrl-C stops it, or (graceful=False) killed with its worker and printer at once."""
    server = subprocess.Popen(
        [sys.executable, "-m", "letters", "serve", "--port", str(port)],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("letters serve did not start")
                time.sleep(0.1)  # polling for the port, bounded by the deadline
        yield url
    finally:
        if graceful:
            server.terminate()
            server.wait(timeout=30)
        else:
            kill_group(server)


def read_outbox(outbox: Path, kind: str) -> list[EmailMessage]:
    """The emails of one kind (confirmation, letter, followup...) in the outbox, oldest first."""
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(outbox.glob(f"*-{kind}-*.eml"))
    ]


def wait_for_emails(outbox: Path, kind: str, count: int = 1) -> list[EmailMessage]:
    """The outbox's emails of one kind once there are `count`, written by another process."""
    deadline = time.monotonic() + 60
    while len(found := read_outbox(outbox, kind)) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{len(found)} of {count} {kind} emails reached the outbox")
        time.sleep(0.1)  # a worker process writes them; polled with a deadline
    return found
