"""The `letters` console script as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from letters.cli import EMBEDDED_WORKER_NICENESS, worker_argv
from tests.conftest import reference_data

LETTERS = Path(sys.executable).with_name("letters")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LETTERS), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "LETTERS_INSTANCE_DIR": str(tmp_path / "instance")}


@pytest.mark.reference
@pytest.mark.processes  # the CLI runs in its own process
def test_refresh_then_lookup_on_real_data(env):
    source = reference_data() / "openaustralia-parser"
    refreshed = _run("data", "refresh", "--from", str(source), env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "150 current divisions, 150 members" in refreshed.stdout

    plain = _run("lookup", "2600", env=env)
    assert plain.returncode == 0, plain.stderr
    assert "Canberra (ACT)" in plain.stdout

    as_json = json.loads(_run("lookup", "2600", "--json", env=env).stdout)
    assert as_json["postcode"] == "2600"
    assert {d["name"] for d in as_json["divisions"]} >= {"Canberra"}

    bad = _run("lookup", "26x0", env=env)
    assert bad.returncode != 0 and "4-digit postcode" in bad.stderr


@pytest.mark.processes  # the CLI runs in its own process
def test_lookup_before_any_refresh_says_what_to_do(env):
    result = _run("lookup", "2600", env=env)
    assert result.returncode != 0
    assert "letters data refresh" in result.stderr


@pytest.mark.processes  # the CLI runs in its own process
def test_refresh_from_a_missing_folder_fails_clearly(env, tmp_path):
    result = _run("data", "refresh", "--from", str(tmp_path / "nowhere"), env=env)
    assert result.returncode != 0
    assert "nowhere" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.processes
def test_serve_runs_the_site_on_embedded_defaults(env, tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [str(LETTERS), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read().decode()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"letters serve did not answer: {server.stdout.read()}")
                time.sleep(0.1)  # polling for the port to open, bounded by the deadline
        assert "Tougher on Tech" in page
        assert (tmp_path / "instance" / "letters.sqlite3").exists()
        # The embedded email worker runs below the site's CPU priority, so pages go first.
        worker = next(pid for pid in _children(server.pid) if " worker " in _command_line(pid))
        site_priority = os.getpriority(os.PRIO_PROCESS, server.pid)
        deadline = time.monotonic() + 30
        while os.getpriority(os.PRIO_PROCESS, worker) == site_priority:
            # It lowers its own priority once started, before Celery forks its pool.
            if time.monotonic() > deadline:
                pytest.fail(f"the embedded worker kept the site's priority:{_command_line(worker)}")
            time.sleep(0.1)
        assert os.getpriority(os.PRIO_PROCESS, worker) == site_priority + EMBEDDED_WORKER_NICENESS
    finally:
        server.terminate()
        server.communicate(timeout=10)


def _children(pid: int) -> list[int]:
    found = []
    for thread in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{thread}/children") as handle:
            found += [int(child) for child in handle.read().split()]
    return found


def _command_line(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline") as handle:
        return f" {handle.read().replace(chr(0), ' ')}"


def test_workers_sharing_a_machine_get_names_of_their_own(app):
    config, queue = app.config, app.config["TASK_QUEUE"]
    names = {
        next(a for a in worker_argv(config, queue, 4, False, (), pid) if a.startswith("--hostname"))
        for pid in (101, 102)
    }
    assert names == {"--hostname=worker-101@%h", "--hostname=worker-102@%h"}
    printer = worker_argv(config, config["PRINT_QUEUE"], 1, False, (), 7)
    assert "--hostname=printer-7@%h" in printer
    # A name given on the command line wins, and only one is passed to Celery.
    given = worker_argv(config, queue, 4, False, ("-n", "mail@box"), 101)
    assert [a for a in given if "hostname" in a] == [] and given[-2:] == ["-n", "mail@box"]


@pytest.mark.processes
def test_the_script_loads_the_database_tools_only_for_commands_that_use_them(env):
    # Every command pays for what the script imports before it runs; Alembic and SQLAlchemy
    # were half of that, and `letters batch-pdf` needs neither.
    probe = (
        "import sys\nimport letters.cli\n"
        "print(' '.join(n for n in ('alembic', 'sqlalchemy', 'flask_sqlalchemy') "
        "if n in sys.modules) or '-')"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["-"], done.stderr
