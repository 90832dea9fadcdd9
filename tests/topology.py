"""docker-compose.yml's services started as plain processes on this machine.

There is no container engine where this project is tested, so this runs what the compose file
would run: the same commands (read from docker-compose.yml and .ci/Dockerfile) and the same
production settings, in the same order (migrate, then the web service under gunicorn, the
workers, the printer and beat), against this machine's PostgreSQL and Redis and a local
SendGrid stand-in. A service's `cpu_shares` becomes its processes' nice value, which gives it
about the same share of a busy CPU that Docker would.
tests/test_topology.py takes one letter through it; benchmarks/loadproof.py drives it hard
and kills its workers.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml

from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, FakeSendGrid, WebhookSigner
from tests.helpers import csrf_token_in, hidden_fields
from tests.services import REDIS_URL, require_redis, scratch_postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's console scripts stand in for the image's


DEFAULT_CPU_SHARES = 1024  # Docker's weight for a container that sets none


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def niceness(service: dict[str, Any]) -> int:
    """A service's `cpu_shares` as a nice value: the same share of a busy CPU beside the other
    services, for processes on one machine rather than containers (each step of nice weighs
    about 1.25 times the next)."""
    shares = int(service.get("cpu_shares", DEFAULT_CPU_SHARES))
    return max(0, round(math.log(DEFAULT_CPU_SHARES / shares, 1.25)))


def image_command() -> list[str]:
    """The Dockerfile's CMD: what the web service runs, having no command of its own."""
    found = re.search(r"^CMD (\[.*\])$", (ROOT / ".ci" / "Dockerfile").read_text(), re.M)
    assert found, ".ci/Dockerfile has no exec-form CMD"
    return json.loads(found.group(1))


def interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ${NAME:?message} (required) and ${NAME:-default} (optional)."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if kind == ":?":
            assert name in given, f"compose requires {name}: {rest}"
            return given[name]
        return given.get(name, rest)

    return re.sub(r"\$\{(\w+)(:\?|:-)([^}]*)\}", one, value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """Just enough of a browser behind an HTTPS proxy: it keeps cookies, Secure ones included,
    and says the original request was HTTPS, as the proxy would."""

    def __init__(self, base_url: str, client_address: str = "203.0.113.9") -> None:
        self.netloc = urlsplit(base_url).netloc
        self.client_address = client_address
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, Any] | None = None):
        connection = http.client.HTTPConnection(self.netloc, timeout=60)
        headers = {"X-Forwarded-For": self.client_address, "X-Forwarded-Proto": "https"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Over HTTPS Flask-WTF also wants a same-origin Referer, which browsers send under
            # the site's Referrer-Policy (same-origin).
            headers["Referer"] = f"https://{self.netloc}{path}"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.headers, text

    def csrf(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        assert status == 200, (path, status)
        return csrf_token_in(page)

    def form(self, path: str) -> dict[str, str]:
        """A form's hidden fields (CSRF and start tokens) and its empty honeypot."""
        status, _, page = self.request("GET", path)
        assert status == 200, (path, status)
        return {**hidden_fields(page), "website": ""}


@dataclass
class Deployment:
    """The running services: their address, the SendGrid stand-in, logs and processes."""

    url: str
    fake: FakeSendGrid
    signer: WebhookSigner
    logs: Path
    database_url: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    nice: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, words: list[str], niceness: int = 0) -> None:
        program = BIN / words[0]
        assert program.exists(), f"{words[0]} is not installed in the test environment"
        self.commands[name] = [str(program), *words[1:]]
        self.nice[name] = niceness
        prefix = ["nice", "-n", str(niceness)] if niceness else []
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [*prefix, *self.commands[name]],
                cwd=ROOT,  # the image's WORKDIR holds the same tree
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        """SIGKILL a service and everything it started (a Celery worker's pool included)."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def restart(self, name: str) -> None:
        """What a process manager does after a crash: the same command again."""
        words = self.commands[name]
        self.start(name, [Path(words[0]).name, *words[1:]], self.nice[name])

    def dead(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def log(self, name: str, tail: int = 3000) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-tail:]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def deployment(folder: Path, **settings: str) -> Iterator[Deployment]:
    """The compose services on this machine, with `settings` added to their environment."""
    require_redis()
    redis_host = urlsplit(REDIS_URL).netloc
    fake, signer = FakeSendGrid().start(), WebhookSigner()
    port = free_port()
    files = compose()
    with scratch_postgres("topology") as database_url:
        given = {
            "LETTERS_SECRET_KEY": secrets.token_urlsafe(48),
            "LETTERS_FROM_EMAIL": "letters@example.org",
            "LETTERS_BASE_URL": f"https://127.0.0.1:{port}",
            "SENDGRID_API_KEY": API_KEY,
            "SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
        }
        environment = {
            name: interpolate(str(value), given)
            for name, value in files["x-letters"]["environment"].items()
        }
        # The containers' hosts and volume, as this machine has them.
        environment["LETTERS_DATABASE_URL"] = database_url
        for name in ("LETTERS_BROKER_URL", "LETTERS_RATELIMIT_STORAGE_URL"):
            environment[name] = environment[name].replace("redis:6379", redis_host)
        environment["LETTERS_INSTANCE_DIR"] = str(folder / "var-lib-letters")
        assert environment["LETTERS_ENV"] == "production"
        env = {
            **os.environ,
            **environment,
            # The SendGrid stand-in, a queue of its own on the shared Redis, the proxy in front
            # (Browser), and a form filled in faster than a person would.
            "SENDGRID_API_HOST": fake.url,
            "LETTERS_TASK_QUEUE": f"topology-{uuid.uuid4().hex}",
            "LETTERS_TRUSTED_PROXIES": "1",
            "LETTERS_MIN_FILL_SECONDS": "0",
            **settings,
        }
        logs = folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        running = Deployment(f"http://127.0.0.1:{port}", fake, signer, logs, database_url, env)
        services = files["services"]
        try:
            migrate = subprocess.run(
                [str(BIN / services["migrate"]["command"][0]), *services["migrate"]["command"][1:]],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert migrate.returncode == 0, migrate.stdout + migrate.stderr
            # Member data, which compose loads with a one-off `letters data refresh`.
            load_fixture_members(Path(environment["LETTERS_INSTANCE_DIR"]) / "data")
            web = [
                f"127.0.0.1:{port}" if word == "0.0.0.0:8000" else word for word in image_command()
            ]
            running.start("web", web, niceness(services["web"]))
            for service in ("worker", "printer"):
                for replica in range(services[service]["deploy"]["replicas"]):
                    running.start(
                        f"{service}-{replica + 1}",
                        services[service]["command"],
                        niceness(services[service]),
                    )
            beat = services["beat"]["command"]
            beat = [str(folder / "celerybeat-schedule") if "/var/lib" in w else w for w in beat]
            running.start("beat", beat, niceness(services["beat"]))
            yield running
        finally:
            running.stop()
            fake.stop()
