"""docker-compose.yml's services, run here as plain processes.

There is no container engine on the machines that test this project, so this runs what the
compose file would run: the same commands (read from docker-compose.yml and .ci/Dockerfile),
the same production settings, in the same order (migrate, then web under gunicorn, two
workers, a printer and beat), against this machine's PostgreSQL and Redis and a SendGrid stand-in. A
supporter then writes an email letter over HTTP, as through a TLS-terminating proxy, and it
goes all the way to "delivered".
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import yaml

from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, FakeSendGrid, WebhookSigner, event, post_events
from tests.helpers import GOOD_FORM, csrf_token_in, hidden_fields
from tests.services import REDIS_URL, require_redis, scratch_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.processes]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's console scripts stand in for the image's


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


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


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> Any:
    """Poll until `condition` is truthy (bounded); fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return result


class Browser:
    """Just enough of a browser behind an HTTPS proxy: it keeps cookies, Secure ones included,
    and says the original request was HTTPS, as the proxy would."""

    def __init__(self, base_url: str) -> None:
        self.netloc = urlsplit(base_url).netloc
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, Any] | None = None):
        connection = http.client.HTTPConnection(self.netloc, timeout=30)
        headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Over HTTPS Flask-WTF also wants a same-origin Referer, which browsers send under
            # the site's Referrer-Policy (same-origin).
            headers["Referer"] = f"https://{self.netloc}{path}"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        connection.close()
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The compose services' commands and settings, mapped onto this machine."""
    require_redis()
    redis_host = urlsplit(REDIS_URL).netloc
    fake, signer = FakeSendGrid().start(), WebhookSigner()
    port = free_port()
    files = compose()
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
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
        environment["LETTERS_INSTANCE_DIR"] = str(tmp_path / "var-lib-letters")
        assert environment["LETTERS_ENV"] == "production"
        env = {
            **os.environ,
            **environment,
            # Only for this test: the SendGrid stand-in, a queue of its own on the shared Redis,
            # the proxy in front (Browser), a form filled in faster than a person would, and
            # a quick sweep so beat's work shows within the test.
            "SENDGRID_API_HOST": fake.url,
            "LETTERS_TASK_QUEUE": f"topology-{uuid.uuid4().hex}",
            "LETTERS_TRUSTED_PROXIES": "1",
            "LETTERS_MIN_FILL_SECONDS": "0",
            "LETTERS_SWEEP_INTERVAL_SECONDS": "1",
            # Two web processes, as measured in issue 13: 2 cores are shared with everything.
            "LETTERS_WEB_WORKERS": "2",
        }
        logs = tmp_path / "logs"
        logs.mkdir()

        def command(words: list[str]) -> list[str]:
            program = BIN / words[0]
            assert program.exists(), f"{words[0]} is not installed in the test environment"
            return [str(program), *words[1:]]

        def start(name: str, words: list[str]) -> None:
            with (logs / f"{name}.log").open("wb") as log:
                process = subprocess.Popen(
                    command(words),
                    cwd=ROOT,  # the image's WORKDIR holds the same tree
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            processes.append((name, process))

        services = files["services"]
        try:
            migrate = subprocess.run(
                command(services["migrate"]["command"]),
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
            start("web", web)
            for service in ("worker", "printer"):
                for replica in range(services[service]["deploy"]["replicas"]):
                    start(f"{service}-{replica + 1}", services[service]["command"])
            beat = services["beat"]["command"]
            beat = [str(tmp_path / "celerybeat-schedule") if "/var/lib" in w else w for w in beat]
            start("beat", beat)
            yield {
                "url": f"http://127.0.0.1:{port}",
                "fake": fake,
                "signer": signer,
                "logs": logs,
                "processes": processes,
            }
        finally:
            for _, process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for _, process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            fake.stop()


def test_the_compose_services_deliver_a_letter_end_to_end(deployment):
    url, fake, logs = deployment["url"], deployment["fake"], deployment["logs"]

    def alive() -> None:
        for name, process in deployment["processes"]:
            assert process.poll() is None, (name, (logs / f"{name}.log").read_text()[-3000:])

    browser = Browser(url)

    def up() -> bool:
        alive()
        try:
            return browser.request("GET", "/")[0] == 200
        except OSError:
            return False

    wait_for(up, 60, "gunicorn to answer")
    status, headers, _ = browser.request(
        "POST",
        "/write",
        {**GOOD_FORM, "delivery": "email", **browser.form("/write")},
    )
    assert status == 303, "the letter form was refused"
    letter_path = urlsplit(headers["Location"]).path

    def confirmation() -> str | None:
        alive()
        for item in fake.received:
            if item.kind == "confirmation":
                found = re.search(
                    r"https://[^/\s]+(/confirm/\S+)", item.payload["content"][0]["value"]
                )
                return found.group(1) if found else None
        return None

    confirm_path = wait_for(confirmation, 60, "a worker to send the confirmation email")
    status, _, _ = browser.request("POST", confirm_path, {"csrf_token": browser.csrf(confirm_path)})
    assert status == 303
    letter = wait_for(lambda: (alive(), fake.letters())[1], 60, "a worker to send the letter")
    assert len(letter) == 1
    message_id = letter[0].message_id

    # SendGrid reports delivery to the web service's webhook; the supporter's page shows it.
    delivered = [event(message_id, "delivered")]
    assert post_events(f"{url}/webhooks/sendgrid", deployment["signer"], delivered) == 200
    page = browser.request("GET", letter_path)[2]
    assert "Delivered to the member" in page, page[:2000]

    # Only beat sends the sweep (compose runs no worker with --beat); a worker runs it.
    def swept() -> bool:
        alive()
        worker_logs = "".join((logs / f"worker-{n}.log").read_text() for n in (1, 2))
        return bool(re.search(r"Task letters\.sweep\[[^\]]+\] succeeded", worker_logs))

    wait_for(swept, 60, "beat's sweep to run on a worker")
