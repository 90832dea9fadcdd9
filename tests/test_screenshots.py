"""The README's screenshots, taken by the browser suite from the real pages.

Every run takes them (so a page that stops rendering fails here); with
LETTERS_SCREENSHOTS_DIR=docs/screenshots they are written where the README shows them:

    LETTERS_SCREENSHOTS_DIR=docs/screenshots .venv/bin/pytest tests/test_screenshots.py
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.live import chromium_page, serving
from tests.test_accessibility import DESKTOP, PHONE, _pages

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.once]

# name: (page, viewport)
SHOTS = {
    "front": ("front", DESKTOP),
    "write-preview": ("write", DESKTOP),
    "write-phone": ("write", PHONE),
    "letter": ("letter-email", DESKTOP),
    "letter-phone": ("letter-email", PHONE),
    "event": ("event", DESKTOP),
    "dashboard": ("dashboard", DESKTOP),
}


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_screenshots_of_the_main_pages(app_with_data, tmp_path):
    folder = Path(os.environ.get("LETTERS_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    pages, organiser = _pages(app_with_data)
    cookie = organiser.get_cookie("session")
    assert cookie is not None
    with serving(app_with_data) as base, chromium_page(viewport=DESKTOP) as page:
        page.context.add_cookies([{"name": "session", "value": cookie.value, "url": base}])
        for name, (key, viewport) in SHOTS.items():
            page.set_viewport_size(viewport)
            page.goto(base + pages[key])
            if key == "write":
                # A supporter part-way through: the preview shows their letter taking shape.
                page.get_by_label("Postcode").fill("2001")
                page.get_by_label("Your name").fill("Jane Citizen")
                page.get_by_label("In your own words (optional)").fill(
                    "My niece is eleven and online every day."
                )
                if viewport is PHONE:
                    page.get_by_role("button", name="See my letter").click()
                expect(page.locator("#live-preview-sheet")).to_contain_text("My niece is eleven")
                if viewport is DESKTOP:  # the form's top, with the letter beside it
                    page.evaluate("() => window.scrollTo(0, 0)")
            target = folder / f"{name}.png"
            page.screenshot(path=str(target), full_page=viewport is DESKTOP and key != "write")
            width, height = _png_size(target)
            assert width == viewport["width"] and height >= viewport["height"] // 2, name
