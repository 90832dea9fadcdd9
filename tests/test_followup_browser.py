"""From letter to answer in the real browser, as new users meet it on the embedded defaults.

Supporters email their letters (confirmed from the outbox), an organiser runs an event and
prints it; two weeks on, `letters housekeeping` asks the supporters whether their MP replied,
one answers from the outbox email; the organiser reads the dashboard, filters it by the
event, downloads the CSVs, and then erases one supporter on request.

Every process lives on a clock moved by LETTERS_CLOCK_OFFSET_SECONDS (letters/clock.py): the
site and the housekeeping run are started again 15 days on, rather than waiting.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from letters import clock
from letters.organiser.dashboard import ANSWER_COLUMNS, DIVISION_COLUMNS, LETTER_COLUMNS
from tests.conftest import RUN_CLOCK_OFFSET, load_fixture_members
from tests.live import chromium_page, free_port, letters_serve, read_outbox, wait_for_emails
from tests.organiser_helpers import PASSWORD

# `once`: it runs `letters serve` on its own SQLite file, whatever database the pass is about.
pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.once]

DAY = 24 * 3600
LATER = 15 * DAY  # past LETTERS_FOLLOWUP_AFTER_DAYS (14), before the reminder (21)
REPLY = "Thank you for your letter. I have raised online safety with the minister."
# (name, email, postcode, member): the supporters who email their MP.
SUPPORTERS = [
    ("Jane Citizen", "jane.citizen@example.org", "2001", "Priya Nandakumar"),
    ("Kim Nguyen", "kim@example.org", "6001", "Tamsin Ellery-Hart"),
]
EVENT = "Letters & scones"


@pytest.fixture
def site(tmp_path: Path):
    """What every process shares: the instance folder, member data, one port and its URL."""
    data_dir = tmp_path / "data"
    load_fixture_members(data_dir)
    port = free_port()
    env = {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(tmp_path / "instance"),
        "LETTERS_DATA_DIR": str(data_dir),
        "LETTERS_MIN_FILL_SECONDS": "0",  # a script types faster than the bot check allows
        # The housekeeping run writes links too: they must point at the site, on one port.
        "LETTERS_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("SENDGRID_API_KEY", None)
    return env, port, tmp_path


def _later(env: dict[str, str], seconds: float) -> dict[str, str]:
    return {**env, "LETTERS_CLOCK_OFFSET_SECONDS": str(RUN_CLOCK_OFFSET + seconds)}


def _letters(env: dict[str, str], *args: str, input: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "letters", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _to(message) -> str:
    return str(message["To"])


def _write_and_confirm(page, url: str, outbox: Path, supporter: tuple, sent_before: int) -> str:
    name, address, postcode, member = supporter
    page.goto(url + "/write")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your email").fill(address)
    page.get_by_label("Street address").fill("12 Example St")
    page.get_by_label("Suburb or town").fill("Hometown")
    page.get_by_label("Postcode").press_sequentially(postcode)
    page.get_by_label("In your own words (optional)").fill("My daughter is online every day.")
    page.get_by_role("radio", name="Email it to my MP").check()
    page.get_by_role("button", name="Preview my letter").click()
    page.wait_for_url("**/letters/*")
    letter_url = page.url
    confirmations = wait_for_emails(outbox, "confirmation", sent_before + 1)
    [mine] = [m for m in confirmations if address in _to(m)]
    link = re.search(r"http://\S+/confirm/\S+", mine.get_body(("plain",)).get_content())
    page.goto(link.group(0))
    page.get_by_role("button", name="Send my letter").click()
    letters = wait_for_emails(outbox, "letter", sent_before + 1)
    assert any(member in _to(m) for m in letters)
    return letter_url


def _log_in(page, url: str) -> None:
    page.goto(url + "/organiser/")
    page.wait_for_url("**/organiser/login**")
    page.get_by_label("Email").fill("sam@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Your events").wait_for()


def _funnel(page) -> dict[str, int]:
    # A click on the link returns before the dashboard has loaded: wait for it first.
    page.get_by_role("heading", name="The funnel").wait_for()
    rows = page.locator("tr[data-step]")
    return {
        rows.nth(i).get_attribute("data-step"): int(rows.nth(i).locator("td").first.inner_text())
        for i in range(rows.count())
    }


def _download(page, link_name: str, folder: Path) -> list[list[str]]:
    """A dashboard CSV through the browser's download: checked to open cleanly, as rows."""
    with page.expect_download() as download_info:
        downloads = page.get_by_role("region", name="Downloads (CSV, for Excel or LibreOffice)")
        downloads.get_by_role("link", name=link_name, exact=True).click()
    download = download_info.value
    target = folder / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), f"{target.name} has no BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _attendees_csv() -> bytes:
    """The event's list: Jane came too, with her address spelt another way."""
    rows = [
        "name,email,street,suburb,state,postcode",
        "Jane Citizen,Jane.Citizen@Example.org,12 Example St,Hometown,,2001",
        "Ola Berg,,3 Hill Rd,Perth,,6001",
        "Pat Moss,,9 Bay St,Sydney,,2003",
    ]
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8")


def test_from_letters_and_an_event_to_answers_on_the_dashboard_and_its_csvs(site):
    env, port, tmp_path = site
    outbox = tmp_path / "instance" / "outbox"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    _letters(env, "organiser", "create", "sam@example.org", input=f"{PASSWORD}\n{PASSWORD}\n")
    today = clock.today("Australia/Sydney")

    with chromium_page(viewport={"width": 1024, "height": 800}, accept_downloads=True) as page:
        # Day 0: two emailed letters, and an evening of printed ones.
        with letters_serve(env, tmp_path, port) as url:
            letter_pages = [
                _write_and_confirm(page, url, outbox, supporter, sent_before=index)
                for index, supporter in enumerate(SUPPORTERS)
            ]
            _log_in(page, url)
            page.get_by_role("link", name="New event").click()
            page.get_by_label("Event name").fill(EVENT)
            page.get_by_label("Date").fill(today.isoformat())
            page.get_by_label("Venue").fill("St Mary's Hall")
            page.get_by_role("button", name="Create event").click()
            page.get_by_role("heading", name=EVENT).wait_for()
            spreadsheet = tmp_path / "attendees.csv"
            spreadsheet.write_bytes(_attendees_csv())
            page.get_by_label("Attendee list (CSV)").set_input_files(spreadsheet)
            page.get_by_role("button", name="Import").click()
            assert "3 rows read, 3 imported" in page.locator("#import-summary").inner_text()
            page.get_by_role("link", name="Back to the event").click()
            page.get_by_role("button", name="Print all letters").click()
            page.wait_for_url("**/organiser/jobs/**")
            page.get_by_role("link", name="Download letters.pdf").wait_for(timeout=120_000)
        assert read_outbox(outbox, "followup") == []

        # Day 15: the periodic jobs, as cron would run them, ask both supporters once.
        report = _letters(_later(env, LATER), "housekeeping")
        assert "followups: opened=2 first=2 reminders=0 again=0" in report, report
        followups = read_outbox(outbox, "followup")
        assert sorted(_to(m) for m in followups) == sorted(
            f"{name} <{address}>" for name, address, *_ in SUPPORTERS
        )
        [jane] = [m for m in followups if "jane" in _to(m)]
        body = jane.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "Did Priya Nandakumar MP reply to your letter?" in body, body
        real = re.search(r"Yes, a real answer:\n(http://\S+)", body).group(1)

        with letters_serve(_later(env, LATER), tmp_path, port) as url:
            # Opening the link records nothing; the one button does.
            page.goto(real)
            assert page.get_by_role("radio", name="Yes, a real answer").is_checked()
            page.get_by_label("If you like, paste the reply here").fill(REPLY)
            page.get_by_label(re.compile("Share the reply with the campaign")).check()
            page.get_by_role("button", name="Record my answer").click()
            page.wait_for_url("**/letters/*?answered=1")
            timeline = page.locator(".timeline").inner_text()
            assert "You told us: Yes, a real answer" in timeline
            assert page.url.split("?")[0] == letter_pages[0]

            # Fifteen days on, the organiser's login has ended: in again, to the dashboard.
            _log_in(page, url)
            page.get_by_role("link", name="Dashboard").click()
            everything = _funnel(page)
            assert everything == {
                "written": 5,
                "emailed": 2,
                "printed": 3,
                "printed_at_events": 3,
                "confirmed": 2,
                "sent": 2,
                "delivered": 0,
                "bounced": 0,
                "asked": 2,
                "answered": 1,
                "replied": 1,
            }
            answers = _download(page, "Follow-up answers", downloads)
            assert answers[0] == list(ANSWER_COLUMNS)
            assert [(r[1], r[2], r[3], r[5]) for r in answers[1:]] == [
                ("Banksia", "Priya Nandakumar", "real", REPLY)
            ]
            letters = _download(page, "Letters", downloads)
            assert letters[0] == list(LETTER_COLUMNS)
            kinds = sorted((r[1], r[2], r[6], r[10]) for r in letters[1:])
            assert [k for k in kinds if k[0] == "supporter"] == [
                ("supporter", "Banksia", "sent", "real"),
                ("supporter", "Karri", "sent", ""),
            ]
            assert len([k for k in kinds if k[0] == "event"]) == 3

            # The event alone: its printed letters, none emailed.
            page.get_by_label("Event").select_option(label=f"{EVENT} ({today.isoformat()})")
            page.get_by_role("button", name="Show").click()
            page.wait_for_url("**event=*")
            event_only = _funnel(page)
            assert (event_only["written"], event_only["printed_at_events"]) == (3, 3)
            assert event_only["emailed"] == event_only["asked"] == 0
            letters = _download(page, "Letters", downloads)
            assert letters[0] == list(LETTER_COLUMNS)
            assert sorted((r[1], r[2], r[5]) for r in letters[1:]) == [
                ("event", "Banksia", "print"),
                ("event", "Karri", "print"),
                ("event", "Wattle", "print"),
            ]
            members = _download(page, "Per member", downloads)
            assert members[0] == list(DIVISION_COLUMNS)
            assert sorted((r[0], r[2]) for r in members[1:]) == [
                ("Banksia", "1"),
                ("Karri", "1"),
                ("Wattle", "1"),
            ]
            assert _download(page, "Follow-up answers", downloads) == [list(ANSWER_COLUMNS)]

            # Jane asks to be erased: any spelling of her mailbox finds her letter and her row
            # at the event; what goes is listed first, and one button erases it.
            page.get_by_role("link", name="Erase a supporter").click()
            page.get_by_label("The supporter's email address").fill(" JANE.citizen@EXAMPLE.org")
            page.get_by_role("button", name="Show what will be erased").click()
            listed = page.locator("#erase-letter-list tbody tr")
            listed.first.wait_for()  # count() alone would not wait for the page
            assert listed.count() == 1
            assert "Priya Nandakumar (Banksia)" in listed.inner_text()
            assert "Yes, a real answer" in listed.inner_text()
            assert page.locator("#erase-attendee-list li").count() == 1
            # The print files went on their own, 7 days after printing: none is left to remove.
            assert page.locator("#erase-print-runs").count() == 0
            page.get_by_role("button", name="Erase these details").click()
            result = page.get_by_role("status").inner_text()
            assert (
                "Erased: 1 letter, 1 pasted reply, 1 attendee at your events. "
                "Counts, states and answers were kept." in result
            )
            page.get_by_role("link", name="Dashboard").click()
            assert _funnel(page) == everything  # the history stays true
            answers = _download(page, "Follow-up answers", downloads)
            assert [(r[3], r[5]) for r in answers[1:]] == [("real", "")]  # the reply went
            response = page.goto(letter_pages[0])
            assert response.status == 410
            assert "Jane Citizen" not in page.content()
