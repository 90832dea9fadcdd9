"""The pages in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.helpers import submit
from tests.live import chromium_page, free_port, letters_serve, serving, wait_for_emails

# `once`: pages in a browser, the same on either database.
pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.once]


@pytest.fixture
def live_server(app_with_data) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1, in a thread."""
    with serving(app_with_data) as url:
        yield url


@pytest.fixture
def page():
    # A 360 px wide phone: the size most supporters will use.
    with chromium_page(viewport={"width": 360, "height": 740}, accept_downloads=True) as page:
        yield page


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


def test_postcode_to_downloaded_pdf_on_a_phone(live_server, page, tmp_path):
    page.goto(live_server + "/")
    _no_horizontal_scroll(page)
    page.get_by_role("link", name="Write to your MP").click()
    page.get_by_label("Your name").fill("Jane Citizen")
    page.get_by_label("Street address").fill("12 Example St")
    page.get_by_label("Suburb or town").fill("Carlton")
    # A split postcode: the choice appears as it is typed, before submitting.
    page.get_by_label("Postcode").press_sequentially("2002")
    page.get_by_role("radio", name="Wattle").check()
    page.get_by_label("In your own words (optional)").fill("My niece is eleven.")
    _no_horizontal_scroll(page)
    page.get_by_role("button", name="Preview my letter").click()

    page.wait_for_url("**/letters/*")
    assert page.get_by_role("heading", level=1).inner_text() == "Your letter to Harry Fernsby"
    assert page.get_by_text("My niece is eleven.").is_visible()
    _no_horizontal_scroll(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    target = tmp_path / "letter.pdf"
    download_info.value.save_as(target)
    text = "\n".join(p.extract_text() for p in PdfReader(target).pages)
    assert "Harry Fernsby MP" in text and "Member for Wattle" in text
    assert "Jane Citizen" in text and "My niece is eleven." in text


def test_form_works_by_keyboard_alone(live_server, page):
    page.goto(live_server + "/write?postcode=2001")
    page.get_by_label("Your name").focus()
    page.keyboard.type("Kim Keyboard")
    page.keyboard.press("Tab")  # past the email field, which a printed letter does not need
    page.keyboard.press("Tab")
    page.keyboard.type("1 Tab Street")
    page.keyboard.press("Tab")
    page.keyboard.type("Sydney")
    # Tab through every field to the submit button, then press Enter on it.
    visited = []
    for _ in range(60):
        page.keyboard.press("Tab")
        visited.append(page.evaluate("document.activeElement.name"))
        if page.evaluate("document.activeElement.type") == "submit":
            break
    else:
        pytest.fail("the submit button is not reachable by Tab")
    # The bots' trap field is there, but no person sees it (it is laid out wholly left of the
    # page) or lands on it by Tab, and screen readers skip it.
    trap = page.locator('input[name="website"]')
    box = trap.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0
    assert "website" not in visited and "website" in page.content()
    assert page.get_by_role("textbox", name="website").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_url("**/letters/*")
    assert "Dear Priya Nandakumar" in page.content()


def test_errors_are_announced_and_linked(live_server, page):
    page.goto(live_server + "/write")
    page.get_by_label("Postcode").fill("9999")
    page.get_by_role("button", name="Preview my letter").click()
    summary = page.get_by_role("alert")
    assert "Your name: Enter your name." in summary.inner_text()
    name = page.get_by_label("Your name")
    assert name.get_attribute("aria-invalid") == "true"
    assert name.get_attribute("aria-describedby") == "name-error"
    assert "We don't know postcode 9999" in page.locator("#postcode-error").inner_text()


def test_without_javascript_the_split_postcode_is_settled_after_submit(live_server):
    with chromium_page(java_script_enabled=False) as page:
        previews = []
        page.on("request", lambda r: previews.append(r.url) if "/preview" in r.url else None)
        page.goto(live_server + "/write")
        # The live preview is not there without JavaScript: no panel, no button, no request.
        assert page.locator("#live-preview").is_hidden()
        assert page.get_by_role("button", name="See my letter").count() == 0
        page.get_by_label("Your name").fill("Noah Script")
        page.get_by_label("Street address").fill("2 Plain Road")
        page.get_by_label("Suburb or town").fill("Sydney")
        page.get_by_label("Postcode").fill("2002")
        page.get_by_role("button", name="Preview my letter").click()
        page.get_by_role("radio", name="Banksia").check()
        page.get_by_role("button", name="Preview my letter").click()
        page.wait_for_url("**/letters/*")
        assert "Dear Priya Nandakumar" in page.content()
        assert previews == []


@pytest.fixture
def desktop():
    with chromium_page(viewport={"width": 1280, "height": 900}, accept_downloads=True) as page:
        yield page


def _words(text: str) -> str:
    return " ".join(text.split())


def _pdf_letter_text(path: Path, sender: str, member: str) -> str:
    """The PDF's text without what only print adds: page 2's running header."""
    pages = [_words(p.extract_text()) for p in PdfReader(path).pages]
    header = re.compile(
        rf"{re.escape(sender)} to {re.escape(member)}|\d{{1,2}} \w+ \d{{4}} · page \d+ of \d+"
    )
    rest = [header.sub(" ", text) for text in pages[1:]]
    return _words(" ".join([pages[0], *rest]))


def test_the_live_preview_follows_the_form_and_reads_as_the_pdf(live_server, desktop, tmp_path):
    page = desktop
    page.goto(live_server + "/write?postcode=2001")
    sheet = page.locator("#live-preview-sheet")
    # Drawn from the pre-filled form as the page opens, beside the form.
    expect(sheet).to_contain_text("Dear Priya Nandakumar,")
    name = page.get_by_label("Your name")
    assert name.bounding_box()["x"] + name.bounding_box()["width"] < sheet.bounding_box()["x"]
    assert page.get_by_role("button", name="See my letter").is_hidden()  # a phone's button

    name.fill("Jane Citizen")
    page.get_by_label("Street address").fill("12 Example St")
    page.get_by_label("Suburb or town").fill("Braddon")
    expect(sheet).to_contain_text("12 Example St")
    before = sheet.inner_text()
    assert "36.2 million" not in before
    asked = []
    page.on("request", lambda r: asked.append(r) if "/write/preview" in r.url else None)
    page.get_by_label(re.compile("36.2 million reports")).check()
    sentence = "My niece is eleven & <b>online</b> every day."
    page.get_by_label("In your own words (optional)").press_sequentially(sentence)
    expect(sheet).to_contain_text(sentence)  # typed text is text, not markup
    expect(sheet).to_contain_text("36.2 million reports")
    assert len(asked) < 10  # after pauses, not once per keystroke (47 of them)
    shown = _words(sheet.locator(".letter").inner_text())
    assert shown != _words(before)
    window = _words(sheet.locator(".letter-recipient").inner_text())

    page.get_by_role("button", name="Preview my letter").click()
    page.wait_for_url("**/letters/*")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    target = tmp_path / "letter.pdf"
    download_info.value.save_as(target)
    printed = _pdf_letter_text(target, "Jane Citizen", "Priya Nandakumar MP")
    # The whole letter, head to signature, in the same words in the same order; only the
    # address in the envelope's window comes out of the PDF elsewhere (last, by pypdf).
    assert window.startswith("Priya Nandakumar MP Member for Banksia")
    assert shown.count(window) == printed.count(window) == 1
    assert _words(shown.replace(window, " ")) == _words(printed.replace(window, " "))


def test_on_a_phone_see_my_letter_shows_the_preview(live_server, page):
    previews = []
    page.on("request", lambda r: previews.append(r) if "/write/preview" in r.url else None)
    page.goto(live_server + "/write?postcode=2001")
    toggle = page.get_by_role("button", name="See my letter")
    sheet = page.locator("#live-preview-sheet")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(sheet).to_be_hidden()
    page.get_by_label("In your own words (optional)").fill("Typed while it was closed.")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(sheet).to_contain_text("Typed while it was closed.")
    # Said once, politely, because it was asked for; the letter itself is not a live region.
    expect(page.locator("#live-preview-status")).to_have_text(
        "Your letter as it stands now is below."
    )
    assert page.locator("[aria-live=polite] .letter, [aria-live=assertive] .letter").count() == 0
    assert len(previews) == 1  # nothing was asked for while it was closed
    _no_horizontal_scroll(page)
    toggle.click()
    expect(sheet).to_be_hidden()


def test_the_preview_asks_one_at_a_time_and_drops_a_stale_answer(live_server, desktop):
    page = desktop
    held = []
    page.route("**/write/preview*", lambda route: held.append(route))
    with page.expect_request("**/write/preview*"):
        page.goto(live_server + "/write?postcode=2001")
    sheet = page.locator("#live-preview-sheet")
    note = page.get_by_label("In your own words (optional)")
    # Pauses longer than the debounce while the first answer is still out: no second request.
    note.press_sequentially("Soon", delay=400)
    assert len(held) == 1
    with page.expect_request("**/write/preview*") as second:
        held[0].continue_()
    # The first answer came back for a form that has changed since: it was not drawn.
    assert sheet.inner_html() == ""
    assert "Soon" in second.value.post_data
    assert len(held) == 2
    held[1].continue_()
    expect(sheet).to_contain_text("Soon")


@pytest.fixture
def served_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`letters serve` as a new user runs it: embedded broker and worker, local outbox."""
    import os

    from tests.conftest import load_fixture_members

    data_dir = tmp_path / "data"
    load_fixture_members(data_dir)
    env = {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(tmp_path / "instance"),
        "LETTERS_DATA_DIR": str(data_dir),
        "LETTERS_MIN_FILL_SECONDS": "0",  # a script types faster than the bot check allows
    }
    env.pop("SENDGRID_API_KEY", None)
    env.pop("LETTERS_BASE_URL", None)
    # Nothing here is about stopping: kill it at once rather than wait for Celery's goodbye.
    with letters_serve(env, tmp_path, free_port(), graceful=False) as url:
        yield url, tmp_path / "instance" / "outbox"


def _wait_for_email(outbox: Path, kind: str):
    return wait_for_emails(outbox, kind)[0]


def test_email_letter_on_the_embedded_defaults(served_site, page):
    """Choose email, confirm from the outbox, see the letter sent and the timeline."""
    import re

    url, outbox = served_site
    page.goto(url + "/write")
    page.get_by_label("Your name").fill("Jane Citizen")
    page.get_by_label("Your email").fill("jane@example.org")
    page.get_by_label("Street address").fill("12 Example St")
    page.get_by_label("Suburb or town").fill("Sydney")
    page.get_by_label("Postcode").press_sequentially("2001")
    page.get_by_role("radio", name="Email it to my MP").check()
    page.get_by_role("button", name="Preview my letter").click()
    page.wait_for_url("**/letters/*")
    letter_url = page.url
    assert "Check your email" in page.content()
    assert "no email service set up" in page.content()

    confirmation = _wait_for_email(outbox, "confirmation")
    body = confirmation.get_body(("plain",)).get_content()
    link = re.search(r"http://\S+/confirm/\S+", body).group(0)
    assert link.startswith(url)  # the link points at this server, not a default port
    assert list(outbox.glob("*-letter-*.eml")) == []  # nothing to the member yet

    page.goto(link)
    page.get_by_role("button", name="Send my letter").click()
    page.wait_for_url("**/letters/*")
    sent = _wait_for_email(outbox, "letter")
    assert sent["To"] == "Priya Nandakumar MP <Priya.Nandakumar.MP@aph.gov.au>"
    assert sent["Reply-To"] == "Jane Citizen <jane@example.org>"
    page.goto(letter_url)
    timeline = page.locator(".timeline").inner_text()
    assert "You confirmed" in timeline and "Sent to Priya Nandakumar" in timeline


def test_on_a_phone_the_letter_starts_on_the_first_screen(app_with_data):
    """An email letter waiting for its confirmation, with every note that can apply to it (the
    unconfirmed address, the embedded outbox) and the own-words nudge: on a 390 x 844 phone
    the letter's first paragraph starts on the first screen."""
    client = app_with_data.test_client()
    response = submit(
        client,
        delivery="email",
        postcode="2001",
        suburb="Sydney",
        name="Jane Citizen-Marchetti",
        street="Unit 4, 128 Example Street",
        personal_note="My niece is eleven and online every day. Her school has asked "
        "parents for help, and we do not know what to do.",
    )
    assert response.status_code == 303
    with (
        serving(app_with_data) as url,
        chromium_page(viewport={"width": 390, "height": 844}) as page,
    ):
        page.goto(url + response.headers["Location"])
        assert page.locator("[data-nudge]").count() == 1
        assert page.locator(".letter-status [data-note]").count() == 2
        current = page.locator('.letter-status [aria-current="step"]')
        assert current.inner_text().startswith("Waiting for you to confirm")
        first = page.locator(".letter-preview .letter-paragraph").first
        top = first.evaluate("p => p.getBoundingClientRect().top + window.scrollY")
        assert top < 844, f"the letter's first paragraph starts {top:.0f}px down a 844px screen"
        _no_horizontal_scroll_at(page, 390)


def _no_horizontal_scroll_at(page, width: int) -> None:
    scrolled = page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, f"page is {scrolled}px wide on a {width}px screen"
