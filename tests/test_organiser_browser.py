"""An organiser's whole evening in a real browser: account, login, import, settle, print."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from pypdf import PdfReader

from letters.domain.attendees import surname_key
from tests.live import chromium_page, serving
from tests.organiser_helpers import PASSWORD, read_batch, worker_fixture  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.processes]

# (postcode, state): 2002 is split between Banksia and Wattle, 3003 and 3004 name the abolished
# Ghost Gum, 2620 straddles NSW and the ACT; the rest have one division.
PLACES = [
    ("2001", ""),
    ("2002", ""),
    ("2003", ""),
    ("3003", ""),
    ("3005", ""),
    ("2620", ""),
    ("3004", "VIC"),
    ("4001", "QLD"),
    ("6001", ""),
    ("7001", "TAS"),
]
FIRST = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay"]
LAST = ["Young", "Adams", "van Rijn", "O'Neil", "Nguyen", "Brown", "Moss", "Kaur", "Ibrahim", "Lee"]


def attendee_csv() -> tuple[bytes, list[str]]:
    """30 attendees as Excel would save them (UTF-8 with BOM), and their names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["name", "email", "street", "suburb", "state", "postcode", "personal_note"])
    names = []
    for index in range(30):
        postcode, state = PLACES[index % len(PLACES)]
        name = f"{FIRST[index % len(FIRST)]} {LAST[(index * 7) % len(LAST)]}{index}"
        names.append(name)
        note = "I care about this." if index % 3 == 0 else ""
        writer.writerow([name, "", f"{index + 1} Main St", "Hometown", state, postcode, note])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"), names


@pytest.fixture
def live_server(app_with_data) -> Iterator[str]:
    with serving(app_with_data) as url:
        yield url


@pytest.fixture
def page():
    with chromium_page(viewport={"width": 1024, "height": 800}, accept_downloads=True) as page:
        yield page


@pytest.mark.once
def test_an_organiser_prints_an_event_from_a_spreadsheet(
    app_with_data, live_server, page, worker, tmp_path
):
    runner = app_with_data.test_cli_runner()
    created = runner.invoke(
        args=["organiser", "create", "sam@example.org"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert created.exit_code == 0, created.output

    page.goto(live_server + "/organiser/")
    page.wait_for_url("**/organiser/login**")
    page.get_by_label("Email").fill("sam@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Your events").wait_for()

    page.get_by_role("link", name="New event").click()
    page.get_by_label("Event name").fill("Letters & scones")
    page.get_by_label("Date").fill("2026-12-05")
    page.get_by_label("Venue").fill("St Mary's Hall")
    page.get_by_role("button", name="Create event").click()
    page.get_by_role("heading", name="Letters & scones").wait_for()

    data, names = attendee_csv()
    spreadsheet = tmp_path / "attendees.csv"
    spreadsheet.write_bytes(data)
    page.get_by_label("Attendee list (CSV)").set_input_files(spreadsheet)
    page.get_by_role("button", name="Import").click()
    summary = page.locator("#import-summary").inner_text()
    assert "30 rows read, 30 imported" in summary
    to_settle = int(re.search(r"(\d+) need their division chosen", summary).group(1))
    assert to_settle == 12  # 2002, 3003, 3004 (x3 each) and 2620 without a state (x3)

    page.get_by_role("link", name=re.compile(r"Choose divisions")).click()
    rows = page.locator("fieldset.settle-row")
    rows.first.wait_for()  # count() alone would not wait for the page the click opens
    assert rows.count() == to_settle
    for index in range(to_settle):
        rows.nth(index).get_by_role("radio").first.check()
    page.get_by_role("button", name="Save choices").click()
    page.get_by_role("heading", name="Letters & scones").wait_for()
    assert page.locator("#attendee-count").inner_text() == "30 attendees"

    page.get_by_label("Address labels (A4 sheets of 21, Avery L7160)").check()
    page.get_by_role("button", name="Print all letters").click()
    page.wait_for_url("**/organiser/jobs/**")
    # The page follows the job by itself (organiser.js) and shows the download when done.
    download_link = page.get_by_role("link", name="Download letters.pdf")
    download_link.wait_for(timeout=120_000)
    with page.expect_download() as download_info:
        download_link.click()
    printed = tmp_path / "letters.pdf"
    download_info.value.save_as(printed)

    bundles = read_batch(printed)
    assert sum(bundle.count for bundle in bundles) == 30
    printed_names = [name for bundle in bundles for name in bundle.senders]
    assert sorted(printed_names) == sorted(names)  # every attendee exactly once
    order = [(bundle.state, bundle.division) for bundle in bundles]
    assert order == sorted(order)  # by state, then electorate
    for bundle in bundles:
        assert bundle.count == len(bundle.senders)
        assert set(bundle.members) == {bundle.division}
        assert bundle.senders == sorted(bundle.senders, key=surname_key)
    assert len(PdfReader(printed).pages) == sum(bundle.pages for bundle in bundles)
