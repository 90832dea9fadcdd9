"""Every page, supporter, organiser and kiosk, checked in Chromium by axe-core.

No page may have a serious or critical axe violation, weigh more than 200 KB before images,
or make a request to another site. axe-core is the npm package, installed by `.ci/install`
into `.venv/axe` (or found at LETTERS_AXE_CORE) and injected into each page.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from letters.extensions import db
from letters.models import BatchJob, FollowUp
from tests import factories
from tests.helpers import submit
from tests.live import chromium_page, serving
from tests.organiser_helpers import login, make_organiser
from tests.test_organiser_events import ATTENDEES, attendees_of, kiosk_event, upload

# `once`: the pages are the same on either database.
pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.once]

ROOT = Path(__file__).resolve().parents[1]
AXE = Path(os.environ.get("LETTERS_AXE_CORE", ROOT / ".venv/axe/node_modules/axe-core/axe.min.js"))
HARMFUL = ("serious", "critical")
PAGE_BUDGET = 200 * 1024  # bytes of HTML, CSS and scripts, before images
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    where: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> Path:
    if not AXE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"axe-core is missing at {AXE}: .ci/install installs it with npm")
        pytest.skip(f"axe-core is not installed at {AXE} (bash .ci/install installs it with npm)")
    return AXE


def _pages(app: Flask) -> tuple[dict[str, str], FlaskClient]:
    """Every kind of page, as paths, and an organiser's logged-in client."""
    supporter = app.test_client()
    pages = {
        "front": "/",
        "write": "/write",
        "split": "/write?postcode=2002",
        "privacy": "/privacy",
    }
    pages["letter"] = submit(supporter, postcode="2001").headers["Location"]
    emailed = submit(supporter, postcode="2003", delivery="email").headers["Location"]
    pages["letter-email"] = emailed
    pages["edit"] = emailed + "/edit"
    pages["not-found"] = "/nowhere"

    sent = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with app.app_context():
        letter = factories.message(delivery="email", state="sent", sent_at=sent)
        db.session.add(FollowUp(message_id=letter.id, asked_at=sent + dt.timedelta(days=14)))
        db.session.commit()
        token = letter.token
    pages["follow-up"] = f"/letters/{token}/reply?answer=real"
    pages["follow-up-stop"] = f"/letters/{token}/stop"

    make_organiser(app)
    organiser = app.test_client()
    pages["login"] = "/organiser/login"
    login(organiser)
    event_id = kiosk_event(organiser)
    upload(organiser, event_id, "good.csv")
    kim = attendees_of(app, event_id)["Kim Split"]
    with app.app_context():
        job = BatchJob(event_id=event_id, total=5, done=2, state="running", stage="letters")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    kiosk_page = organiser.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
    kiosk_url = re.search(r'id="kiosk-url">([^<]+)<', kiosk_page)
    assert kiosk_url is not None
    pages |= {
        "events": "/organiser/",
        "new-event": "/organiser/events/new",
        "event": f"/organiser/events/{event_id}",
        "edit-event": f"/organiser/events/{event_id}/edit",
        "settle": f"/organiser/events/{event_id}/settle",
        "attendee": f"/organiser/events/{event_id}/attendees/{kim.id}",
        "kiosk-link": f"/organiser/events/{event_id}/kiosk",
        "job": f"/organiser/jobs/{job_id}",
        "letters": "/organiser/letters",
        "replies": "/organiser/replies",
        "dashboard": "/organiser/dashboard",
        "erase": "/organiser/erase",
        "kiosk": urllib.parse.urlsplit(kiosk_url.group(1)).path,
    }
    return pages, organiser


# What the page loaded, from the browser's own record of it: (url, bytes, kind) each.
LOADED = """() => [
  ...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource"),
].map((e) => [e.name, e.decodedBodySize, e.initiatorType])"""


def _weigh(page: Any, base: str) -> tuple[int, list[str]]:
    """Bytes the page loaded apart from images, and any URLs it fetched from elsewhere."""
    loaded = page.evaluate(LOADED)
    weight = sum(size for _, size, kind in loaded if kind not in ("img", "image", "css-image"))
    elsewhere = [url for url, _, _ in loaded if not url.startswith((base + "/", "data:"))]
    return weight, elsewhere


def _violations(page: Any, axe: Path) -> list[str]:
    page.add_script_tag(path=str(axe))
    found = page.evaluate(RUN_AXE)
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['where']}" for v in found]


def _harmful(page: Any, axe: Path) -> list[str]:
    return [p for p in _violations(page, axe) if p.startswith(HARMFUL)]


def test_every_page_is_accessible_light_and_self_contained(app_with_data, axe_source) -> None:
    pages, organiser = _pages(app_with_data)
    cookie = organiser.get_cookie("session")
    assert cookie is not None
    problems: dict[str, list[str]] = {}
    # axe is injected as a script, which the site's Content-Security-Policy would refuse.
    with (
        serving(app_with_data) as base,
        chromium_page(viewport=DESKTOP, bypass_csp=True) as page,
    ):
        page.context.add_cookies([{"name": "session", "value": cookie.value, "url": base}])
        # Routing turns off the browser's cache, so every page's CSS and scripts are weighed.
        page.route("**/*", lambda route: route.continue_())

        # The check itself works: an image without alternative text is a critical violation.
        page.goto(base + "/privacy")
        page.evaluate(
            "() => document.querySelector('main').append(Object.assign("
            "document.createElement('img'), {src: '/static/none.png'}))"
        )
        assert any(line.startswith("critical image-alt") for line in _harmful(page, axe_source))

        # The pages a post returns: the form's errors, and the import report. (Before the
        # loop: the kiosk, last there, ends the organiser's session in this browser.)
        page.goto(base + "/write")
        page.locator("form button[type=submit]").last.click()
        # The page the post returns (its errors): count() alone would not wait for it.
        page.locator("[aria-invalid=true]").first.wait_for()
        if found := _harmful(page, axe_source):
            problems["write-errors"] = found
        page.goto(base + pages["event"])
        page.set_input_files("input[type=file]", str(ATTENDEES / "bad-rows.csv"))
        page.locator("form[enctype] button[type=submit]").click()
        page.wait_for_load_state("load")
        if found := _harmful(page, axe_source):
            problems["import-report"] = found

        for name, path in pages.items():
            response = page.goto(base + path)
            page.wait_for_load_state("load")
            weight, elsewhere = _weigh(page, base)
            assert response is not None and response.status in (200, 404), (name, response.status)
            # Still logged in: no organiser page sent this browser to the login page.
            assert name == "login" or "/organiser/login" not in page.url, (name, page.url)
            found = _harmful(page, axe_source)
            # The same page on a phone: nothing wider than the screen, nothing newly harmful.
            page.set_viewport_size(PHONE)
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            if wide > PHONE["width"]:
                found.append(f"{wide} px wide on a {PHONE['width']} px phone")
            found += [p for p in _harmful(page, axe_source) if p not in found]
            page.set_viewport_size(DESKTOP)
            if elsewhere:
                found.append(f"requests to other sites: {elsewhere}")
            if weight >= PAGE_BUDGET:
                found.append(f"{weight} bytes before images")
            if found:
                problems[name] = found

    report = "\n".join(f"{name}: {line}" for name, lines in problems.items() for line in lines)
    assert problems == {}, report
