"""docker-compose.yml's services, run here as plain processes.

There is no container engine on the machines that test this project, so this runs what the
compose file would run: the same commands (read from docker-compose.yml and .ci/Dockerfile),
the same production settings, in the same order (tests/topology.py starts them). A supporter
then writes an email letter over HTTP, as through a TLS-terminating proxy, and it goes all the
way to "delivered".
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fakes.sendgrid import event, post_events
from tests.helpers import GOOD_FORM
from tests.topology import Browser, compose, deployment, niceness

pytestmark = [pytest.mark.postgres, pytest.mark.processes]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> Any:
    """Poll until `condition` is truthy (bounded); fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return result


@pytest.fixture
def site(tmp_path: Path):
    # Two web processes, as measured in issue 13, and a quick sweep so beat's work shows.
    with deployment(
        tmp_path, LETTERS_WEB_WORKERS="2", LETTERS_SWEEP_INTERVAL_SECONDS="1"
    ) as running:
        yield running


def test_the_compose_services_deliver_a_letter_end_to_end(site):
    url, fake, logs = site.url, site.fake, site.logs

    def alive() -> None:
        dead = site.dead()
        assert not dead, (dead, site.log(dead[0]) if dead else "")

    browser = Browser(url)

    def up() -> bool:
        alive()
        try:
            return browser.request("GET", "/")[0] == 200
        except OSError:
            return False

    wait_for(up, 60, "gunicorn to answer")
    # compose's cpu_shares, as nice values on one machine: the workers yield the CPU to the web.
    base = os.getpriority(os.PRIO_PROCESS, 0)
    worker_nice = niceness(compose()["services"]["worker"])
    assert worker_nice > 0
    priorities = {
        name: os.getpriority(os.PRIO_PROCESS, process.pid) - base
        for name, process in site.processes.items()
    }
    assert priorities == {
        name: worker_nice if name.startswith("worker-") else 0 for name in site.processes
    }
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
    assert post_events(f"{url}/webhooks/sendgrid", site.signer, delivered) == 200
    page = browser.request("GET", letter_path)[2]
    assert "Delivered to the member" in page, page[:2000]

    # Only beat sends the periodic jobs (compose runs no worker with --beat); a worker runs them.
    def swept() -> bool:
        alive()
        worker_logs = "".join((logs / f"worker-{n}.log").read_text() for n in (1, 2))
        return bool(re.search(r"Task letters\.housekeeping\[[^\]]+\] succeeded", worker_logs))

    wait_for(swept, 60, "beat's sweep to run on a worker")
