"""Events: create, import attendees, settle divisions, edit, export, kiosk, print via Celery."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import re
import time
import urllib.parse
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from letters import clock
from letters.extensions import db
from letters.models import Attendee, BatchJob
from tests.conftest import FIXTURES
from tests.helpers import table_rows
from tests.organiser_helpers import (  # the *_fixture names provide fixtures
    csrf,
    login,
    make_organiser,
    organiser_client_fixture,  # noqa: F401
    read_batch,
    worker_fixture,  # noqa: F401
)

ATTENDEES = FIXTURES / "attendees"


def create_event(client, name: str = "Letters & tea", date: str = "2026-12-05") -> int:
    response = client.post(
        "/organiser/events/new",
        data={
            "name": name,
            "date": date,
            "venue": "St John's Hall",
            "campaign": "tougher-on-tech",
            "csrf_token": csrf(client, "/organiser/events/new"),
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.location.rsplit("/", 1)[1])


def kiosk_event(client, name: str = "Letters & tea") -> int:
    """An event held today, whenever the tests run: its kiosk link works (until the grace ends)."""
    return create_event(client, name, date=clock.today("Australia/Sydney").isoformat())


def upload(client, event_id: int, name: str, data: bytes | None = None):
    payload = data if data is not None else (ATTENDEES / name).read_bytes()
    return client.post(
        f"/organiser/events/{event_id}/import",
        data={
            "file": (io.BytesIO(payload), name),
            "csrf_token": csrf(client, f"/organiser/events/{event_id}"),
        },
        content_type="multipart/form-data",
    )


def attendees_of(app, event_id: int) -> dict[str, Attendee]:
    with app.app_context():
        rows = db.session.scalars(select(Attendee).where(Attendee.event_id == event_id)).all()
        return {row.name: row for row in rows}


def test_create_an_event_that_only_its_organiser_sees(app_with_data, organiser_client):
    event_id = create_event(organiser_client, name="<script>alert(1)</script> afternoon")
    listing = organiser_client.get("/organiser/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; afternoon" in listing
    assert "<script>alert(1)" not in listing

    make_organiser(app_with_data, email="other@example.org")
    other = app_with_data.test_client()
    login(other, email="other@example.org")
    assert other.get(f"/organiser/events/{event_id}").status_code == 404
    assert "afternoon" not in other.get("/organiser/").get_data(as_text=True)
    refused = other.post(
        f"/organiser/events/{event_id}/import",
        data={"file": (io.BytesIO(b"name,postcode\nX,2001\n"), "x.csv"), "csrf_token": csrf(other)},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 404


def test_import_reports_every_problem_and_keeps_the_good_rows(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    response = upload(organiser_client, event_id, "bad-rows.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "10 rows read, 2 imported, 8 left out because of errors." in page
    table = page[page.index('id="problems"') :]
    for row, column in [(3, "name"), (4, "email"), (5, "postcode"), (6, "statistics")]:
        assert re.search(rf"<td>{row}</td><td>{column}</td>", table), (row, column)
    assert set(attendees_of(app_with_data, event_id)) == {"Good Row", "Also Good"}

    # Every problem as CSV, formula-safe, in a data: link.
    link = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', page)
    assert link
    rows = list(csv.reader(io.StringIO(base64.b64decode(link.group(1)).decode("utf-8-sig"))))
    assert rows[0] == ["row", "column", "problem", "kind"]
    assert ["4", "email", "'not-an-email' is not an email address.", "error"] in rows


def test_import_of_bad_files(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    empty = upload(organiser_client, event_id, "empty.csv")
    assert empty.status_code == 422 and "The file is empty" in empty.get_data(as_text=True)
    missing = upload(organiser_client, event_id, "missing-columns.csv")
    assert missing.status_code == 422
    assert "Missing column: postcode." in missing.get_data(as_text=True)
    latin = upload(organiser_client, event_id, "latin1-semicolon.csv")
    assert latin.status_code == 200 and "Windows-1252" in latin.get_data(as_text=True)
    assert "Zoë Ångström" in attendees_of(app_with_data, event_id)


def test_settle_split_postcodes_then_print_is_allowed(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    report = upload(organiser_client, event_id, "good.csv").get_data(as_text=True)
    assert "5 rows read, 5 imported, 2 need their division chosen." in report

    blocked = organiser_client.post(
        f"/organiser/events/{event_id}/print",
        data={"csrf_token": csrf(organiser_client, f"/organiser/events/{event_id}")},
    )
    assert blocked.status_code == 303
    with app_with_data.app_context():
        assert db.session.scalar(select(func.count(BatchJob.id))) == 0

    page = organiser_client.get(f"/organiser/events/{event_id}/settle").get_data(as_text=True)
    people = attendees_of(app_with_data, event_id)
    kim, gus = people["Kim Split"], people["Gus Ghost"]
    assert f'name="division-{kim.id}" value="Banksia"' in page
    assert f'name="division-{kim.id}" value="Wattle"' in page
    assert "no longer exists as a federal division" in page  # Gus's Ghost Gum
    token = csrf(organiser_client, f"/organiser/events/{event_id}/settle")
    # A division that is not one of the choices is ignored, not saved.
    organiser_client.post(
        f"/organiser/events/{event_id}/settle",
        data={"csrf_token": token, f"division-{kim.id}": "Huon", f"division-{gus.id}": "Ironbark"},
    )
    people = attendees_of(app_with_data, event_id)
    assert not people["Kim Split"].settled
    assert people["Gus Ghost"].division == "Ironbark"
    assert people["Gus Ghost"].member_name == "Mei Chow"
    done = organiser_client.post(
        f"/organiser/events/{event_id}/settle",
        data={"csrf_token": token, f"division-{kim.id}": "Wattle"},
    )
    assert done.location == f"/organiser/events/{event_id}"
    assert attendees_of(app_with_data, event_id)["Kim Split"].member_name == "Harry Fernsby"


def test_edit_and_remove_attendees(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    kim = attendees_of(app_with_data, event_id)["Kim Split"]
    url = f"/organiser/events/{event_id}/attendees/{kim.id}"
    form = organiser_client.get(url).get_data(as_text=True)
    assert '<option value="Wattle">' in form

    bad = organiser_client.post(url, data={"csrf_token": csrf(organiser_client, url), "name": ""})
    assert bad.status_code == 422 and "Enter the name." in bad.get_data(as_text=True)
    saved = organiser_client.post(
        url,
        data={
            "csrf_token": csrf(organiser_client, url),
            "name": "Kim <b>Bold</b>",
            "postcode": "2003",  # Wattle only: settles itself
            "statistics": ["tech-enabled"],
            "personal_note": "Changed my mind.",
        },
    )
    assert saved.status_code == 303
    kim = attendees_of(app_with_data, event_id)["Kim <b>Bold</b>"]
    assert (kim.postcode, kim.division, kim.statistics) == ("2003", "Wattle", ["tech-enabled"])
    page = organiser_client.get(f"/organiser/events/{event_id}").get_data(as_text=True)
    assert "Kim &lt;b&gt;Bold&lt;/b&gt;" in page and "<b>Bold" not in page

    removed = organiser_client.post(
        f"{url}/delete", data={"csrf_token": csrf(organiser_client, url)}
    )
    assert removed.status_code == 303
    assert "Kim <b>Bold</b>" not in attendees_of(app_with_data, event_id)
    assert organiser_client.get(url).status_code == 404


def test_the_export_is_safe_to_open_and_imports_again(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    export = organiser_client.get(f"/organiser/events/{event_id}/attendees.csv")
    assert export.mimetype == "text/csv"
    data = export.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    names = [row["name"] for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))]
    assert '\'=HYPERLINK("http://evil.example/","click")' in names
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    again = create_event(organiser_client, name="Second")
    report = upload(organiser_client, again, "export.csv", data).get_data(as_text=True)
    assert "5 rows read, 5 imported" in report
    # The quote mark that made the formula safe is part of the name now, visibly.
    assert '\'=HYPERLINK("http://evil.example/","click")' in attendees_of(app_with_data, again)


def test_the_kiosk_adds_one_attendee_at_a_time_and_opens_nothing_else(
    app_with_data, organiser_client
):
    event_id = kiosk_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    link_page = organiser_client.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
    url = re.search(r'id="kiosk-url">([^<]+)<', link_page).group(1)
    path = urllib.parse.urlsplit(url).path

    tablet = app_with_data.test_client()
    page = tablet.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Jane Citizen" not in text and 'href="/organiser' not in text
    assert tablet.get("/organiser/").status_code == 302
    token = path.rsplit("/", 1)[1]
    assert tablet.get(f"/kiosk/{token[:-2]}xx").status_code == 404

    form = {
        "csrf_token": csrf(tablet, path),
        "name": "Tabitha Tablet",
        "street": "1 Kiosk Lane",
        "suburb": "Carlton",
        "postcode": "2002",
        "statistics": ["afp-reports"],
        "recommendations": ["increase-fines"],
    }
    ask = tablet.post(path, data=form)
    assert ask.status_code == 200 and 'value="Wattle"' in ask.get_data(as_text=True)
    added = tablet.post(path, data={**form, "division": "Wattle"})
    assert added.status_code == 303
    thanks = tablet.get(added.location).get_data(as_text=True)
    assert "your letter is added" in thanks and "Tabitha" not in thanks  # reset for the next
    tabitha = attendees_of(app_with_data, event_id)["Tabitha Tablet"]
    assert (tabitha.source, tabitha.division, tabitha.member_name) == (
        "kiosk",
        "Wattle",
        "Harry Fernsby",
    )

    # An organiser who opens the kiosk on their own browser is logged out there.
    organiser_client.get(path)
    assert organiser_client.get("/organiser/").status_code == 302
    login(organiser_client)
    renewed = organiser_client.post(
        f"/organiser/events/{event_id}/kiosk/renew",
        data={"csrf_token": csrf(organiser_client, f"/organiser/events/{event_id}/kiosk")},
    )
    assert renewed.status_code == 303
    assert tablet.get(path).status_code == 404  # the old link no longer works


def wait_for_job(client, job_url: str, worker, deadline_seconds: float = 120) -> dict:
    """Poll the job's JSON until it finishes (or the worker dies, or time runs out)."""
    deadline = time.monotonic() + deadline_seconds
    seen_progress = []
    while time.monotonic() < deadline:
        state = client.get(job_url + ".json").get_json()
        seen_progress.append(state["done"])
        if state["state"] in ("done", "failed"):
            state["seen"] = seen_progress
            return state
        assert worker.poll() is None, "the worker exited"
        time.sleep(0.2)
    pytest.fail(f"the job did not finish in {deadline_seconds} s: {state}")


@pytest.mark.processes
def test_printing_runs_as_a_celery_task_with_progress(
    app_with_data, organiser_client, worker, tmp_path
):
    event_id = create_event(organiser_client)
    upload(organiser_client, event_id, "good.csv")
    upload(organiser_client, event_id, "excel-utf8-bom-semicolon.csv")
    with app_with_data.app_context():
        for attendee in db.session.scalars(select(Attendee).where(Attendee.division == "")):
            attendee.division, attendee.division_state = "Wattle", "NSW"
            attendee.member_name = "Harry Fernsby"
        db.session.commit()
    response = organiser_client.post(
        f"/organiser/events/{event_id}/print",
        data={
            "csrf_token": csrf(organiser_client, f"/organiser/events/{event_id}"),
            "labels": "y",
            "zip": "y",
            "address_per": "electorate",
            "blank": "1",
        },
    )
    assert response.status_code == 303
    job_url = response.location
    waiting = organiser_client.get(job_url).get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in waiting
    assert "<progress" in waiting

    state = wait_for_job(organiser_client, job_url, worker)
    assert state["state"] == "done", state
    assert (state["done"], state["total"]) == (7, 7)
    assert state["files"] == ["letters.pdf", "letters-by-electorate.zip", "labels.pdf"]
    finished = organiser_client.get(job_url).get_data(as_text=True)
    assert "http-equiv" not in finished and "Download letters.pdf" in finished

    with organiser_client.get(f"{job_url}/files/letters.pdf") as pdf:
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        target = tmp_path / "printed.pdf"
        target.write_bytes(pdf.get_data())
    bundles = read_batch(target)
    assert [(b.state, b.division, b.count) for b in bundles] == [
        ("NSW", "Banksia", 1),
        ("NSW", "Wattle", 4),
        ("QLD", "Cassowary", 1),
        ("VIC", "Ironbark", 1),
    ]
    # By surname; the formula-like name has no surname and sorts by its "=" first. It is
    # printed as the text it is (long enough to wrap, so only its start is compared).
    expected = ['=HYPERLINK("http:', "Lee Chosen", "Gus Ghost", "Kim Split"]
    assert len(bundles[1].senders) == len(expected)
    for sender, start in zip(bundles[1].senders, expected, strict=True):
        assert sender.startswith(start), (sender, start)
    assert all(b.blanks == 1 for b in bundles)
    with organiser_client.get(f"{job_url}/files/labels.pdf") as labels:
        assert len(PdfReader(io.BytesIO(labels.get_data())).pages) == 1
    assert organiser_client.get(f"{job_url}/files/..%2Fletters.sqlite3").status_code == 404

    make_organiser(app_with_data, email="other@example.org")
    other = app_with_data.test_client()
    login(other, email="other@example.org")
    assert other.get(job_url).status_code == 404
    assert other.get(f"{job_url}/files/letters.pdf").status_code == 404
    assert Path(app_with_data.config["INSTANCE_DIR"], "batches").is_dir()


def test_a_kiosk_link_stops_working_after_its_event_and_says_so(app_with_data, organiser_client):
    sydney = ZoneInfo("Australia/Sydney")
    # The morning of the event (5 December 2026, in Sydney), whatever day the tests run.
    clock.freeze(dt.datetime(2026, 12, 5, 9, tzinfo=sydney))
    login(organiser_client)
    event_id = create_event(organiser_client)
    link_page = organiser_client.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
    path = urllib.parse.urlsplit(re.search(r'id="kiosk-url">([^<]+)<', link_page).group(1)).path
    assert "It works until 00:00 on 7 December 2026" in link_page
    tablet = app_with_data.test_client()
    # The event's day ends at midnight in Sydney; one grace day (the default) follows.
    last_moment = dt.datetime(2026, 12, 6, 23, 59, tzinfo=sydney)
    with clock.frozen(last_moment):
        assert tablet.get(path).status_code == 200
        token = csrf(tablet, path)
    with clock.frozen(last_moment + dt.timedelta(minutes=1)):
        expired = tablet.get(path)
        assert expired.status_code == 410
        text = expired.get_data(as_text=True)
        assert "This kiosk link has expired" in text and "Letters &amp; tea is over" in text
        assert expired.headers["Cache-Control"] == "no-store"
        before = len(attendees_of(app_with_data, event_id))
        posted = tablet.post(
            path, data={"csrf_token": token, "name": "Late Larry", "postcode": "2002"}
        )
        assert posted.status_code == 410
        assert len(attendees_of(app_with_data, event_id)) == before
        login(organiser_client)  # days later: the morning's session has ended
        page = organiser_client.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
        assert "This link stopped working at 00:00 on 7 December 2026" in page
    # A longer grace keeps it open longer.
    with clock.frozen(dt.datetime(2026, 12, 10, 12, tzinfo=sydney)):
        assert tablet.get(path).status_code == 410
        app_with_data.config["KIOSK_GRACE_DAYS"] = 5
        assert tablet.get(path).status_code == 200


def test_the_kiosk_grace_must_be_zero_or_more_days(make_app):
    from letters.settings import ConfigError

    for bad in (-1, float("inf")):
        with pytest.raises(ConfigError, match="LETTERS_KIOSK_GRACE_DAYS"):
            make_app(KIOSK_GRACE_DAYS=bad)


def test_a_short_kiosk_link_and_its_qr_code_lead_to_the_kiosk(app_with_data, organiser_client):
    import segno

    event_id = kiosk_event(organiser_client)
    page = organiser_client.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
    long_path = urllib.parse.urlsplit(re.search(r'id="kiosk-url">([^<]+)<', page).group(1)).path
    short = re.search(r'id="short-url">([^<]+)<', page).group(1)
    short_path = "/" + short.split("/", 1)[1]
    code = short_path.rsplit("/", 1)[1]
    assert re.fullmatch(r"/kiosk/\d+/[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", short_path)
    # The table card's QR code is the short link's, drawn as SVG in the page itself.
    drawn = segno.make("http://localhost" + short_path, error="m")
    svg = drawn.svg_inline(omitsize=True, lineclass=None, svgclass="qr")
    assert svg[svg.index("<path") :] in page
    assert f"<title>QR code for http://localhost{short_path}</title>" in page

    tablet = app_with_data.test_client()
    for typed in (code, code.lower(), code.replace("-", ""), code.replace("-", " ")):
        opened = tablet.get(f"/kiosk/{event_id}/{typed}")
        assert opened.status_code == 303 and opened.location == long_path, typed
    assert tablet.get(opened.location).status_code == 200
    wrong = code[:-1] + ("2" if code[-1] != "2" else "3")
    assert tablet.get(f"/kiosk/{event_id}/{wrong}").status_code == 404
    assert tablet.get(f"/kiosk/{event_id + 1}/{code}").status_code == 404

    # A new kiosk link changes the short one too; the old short link opens nothing.
    login(organiser_client)
    organiser_client.post(
        f"/organiser/events/{event_id}/kiosk/renew",
        data={"csrf_token": csrf(organiser_client, f"/organiser/events/{event_id}/kiosk")},
    )
    assert tablet.get(f"/kiosk/{event_id}/{code}").status_code == 404


def test_importing_people_already_there_skips_them_and_says_so(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    first = upload(organiser_client, event_id, "good.csv").get_data(as_text=True)
    imported = len(attendees_of(app_with_data, event_id))
    assert f"{imported} imported" in first and "skipped" not in first

    again = upload(organiser_client, event_id, "good.csv")
    text = again.get_data(as_text=True)
    assert again.status_code == 200
    assert f"0 imported, {imported} skipped as already there" in text
    assert {row["Result"] for row in table_rows(text)} == {"skipped"}
    assert "has the same email address as this event already" in text  # Jane, by email
    assert "has the same name and postcode as this event already" in text
    assert len(attendees_of(app_with_data, event_id)) == imported

    # Within one file: a second row for the same person, however it is spelt, is skipped.
    header = "name,email,postcode\r\n"
    rows = (
        "Pat Ng,pat@example.org,2001\r\n"
        "Patricia Ng,PAT@example.org ,2003\r\n"  # same email
        "pat  NG,,2001\r\n"  # same name and postcode
        "Pat Ng,,2003\r\n"  # same name, another postcode: another person
    )
    report = upload(organiser_client, event_id, "more.csv", (header + rows).encode())
    text = report.get_data(as_text=True)
    assert "2 imported, 2 skipped as already there" in text
    assert "has the same email address as row 2 of this file" in text
    with app_with_data.app_context():
        names = db.session.scalars(select(Attendee.name).where(Attendee.event_id == event_id))
        assert sorted(n for n in names if "Ng" in n) == ["Pat Ng", "Pat Ng"]


def test_the_sample_attendee_file_imports_cleanly(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    page = organiser_client.get(f"/organiser/events/{event_id}").get_data(as_text=True)
    assert f"/organiser/events/{event_id}/sample.csv" in page
    sample = organiser_client.get(f"/organiser/events/{event_id}/sample.csv")
    assert sample.status_code == 200 and sample.mimetype == "text/csv"
    assert sample.data.startswith(b"\xef\xbb\xbf")
    report = upload(organiser_client, event_id, "attendees-sample.csv", sample.data)
    text = report.get_data(as_text=True)
    # The test's small parliament has neither sample postcode; every other cell is good.
    problems = [(row["Row"], row["Column"]) for row in table_rows(text)]
    assert problems == [("2", "postcode"), ("3", "postcode")]
    fixed = sample.data.replace(b",ACT,2612,", b",NSW,2001,").replace(b",3000,", b",3001,")
    report = upload(organiser_client, event_id, "attendees-sample.csv", fixed)
    assert "2 rows read, 2 imported" in report.get_data(as_text=True)
    jane = attendees_of(app_with_data, event_id)["Jane Citizen"]
    assert jane.statistics and jane.recommendations and jane.personal_note
    assert (
        organiser_client.application.test_client()
        .get(f"/organiser/events/{event_id}/sample.csv")
        .status_code
        == 302
    )  # organisers only


def _kiosk_path(organiser_client, event_id: int) -> str:
    link_page = organiser_client.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
    url = re.search(r'id="kiosk-url">([^<]+)<', link_page).group(1)
    return urllib.parse.urlsplit(url).path


def test_the_kiosk_asks_for_consent_unticked_and_only_with_an_email(
    app_with_data, organiser_client
):
    event_id = kiosk_event(organiser_client)
    path = _kiosk_path(organiser_client, event_id)
    tablet = app_with_data.test_client()
    page = tablet.get(path).get_data(as_text=True)
    box = re.search(r'<input type="checkbox" id="may_follow_up"[^>]*>', page).group(0)
    assert "checked" not in box  # unticked until the attendee ticks it
    assert "You may email me later to ask whether my MP replied" in page
    assert "this needs your email address above" in page
    form = {
        "name": "Tabitha Tablet",
        "street": "1 Kiosk Lane",
        "suburb": "Carlton",
        "postcode": "2003",
        "statistics": ["afp-reports"],
        "recommendations": ["increase-fines"],
    }
    # Ticked without an email: refused, saying why, and nothing is added.
    refused = tablet.post(
        path, data={**form, "csrf_token": csrf(tablet, path), "may_follow_up": "y"}
    )
    assert refused.status_code == 422
    assert "We can only ask by email: give an email address above, or untick this." in (
        refused.get_data(as_text=True)
    )
    assert "Tabitha Tablet" not in attendees_of(app_with_data, event_id)
    ticked = {**form, "email": "tab@example.org", "may_follow_up": "y"}
    assert tablet.post(path, data={**ticked, "csrf_token": csrf(tablet, path)}).status_code == 303
    unticked = {**form, "name": "Ursula Unticked", "email": "urs@example.org"}
    assert tablet.post(path, data={**unticked, "csrf_token": csrf(tablet, path)}).status_code == 303
    people = attendees_of(app_with_data, event_id)
    assert people["Tabitha Tablet"].may_follow_up is True
    assert people["Ursula Unticked"].may_follow_up is False


def test_the_import_and_the_attendee_form_take_consent(app_with_data, organiser_client):
    event_id = create_event(organiser_client)
    page = organiser_client.get(f"/organiser/events/{event_id}").get_data(as_text=True)
    assert "<code>may_follow_up</code> (optional)" in page and "empty is no" in page
    data = (
        b"name,email,postcode,may_follow_up\n"
        b"Yes Please,yes@example.org,2003,Yes\n"
        b"No Thanks,no@example.org,2003,\n"
        b"No Email,,2003,yes\n"
    )
    report = upload(organiser_client, event_id, "consent.csv", data).get_data(as_text=True)
    assert "3 rows read, 3 imported" in report
    assert "there is no email address to ask at" in report
    people = attendees_of(app_with_data, event_id)
    assert [people[n].may_follow_up for n in ("Yes Please", "No Thanks", "No Email")] == [
        True,
        False,
        False,
    ]

    url = f"/organiser/events/{event_id}/attendees/{people['No Email'].id}"
    form = organiser_client.get(url).get_data(as_text=True)
    assert "checked" not in re.search(r'<input type="checkbox" id="may_follow_up"[^>]*>', form)[0]
    base = {"name": "No Email", "postcode": "2003", "may_follow_up": "y"}
    refused = organiser_client.post(url, data={**base, "csrf_token": csrf(organiser_client, url)})
    assert refused.status_code == 422
    assert "They can only be asked by email" in refused.get_data(as_text=True)
    assert attendees_of(app_with_data, event_id)["No Email"].may_follow_up is False
    saved = organiser_client.post(
        url,
        data={**base, "email": "found@example.org", "csrf_token": csrf(organiser_client, url)},
    )
    assert saved.status_code == 303
    assert attendees_of(app_with_data, event_id)["No Email"].may_follow_up is True
    form = organiser_client.get(url).get_data(as_text=True)
    assert "checked" in re.search(r'<input type="checkbox" id="may_follow_up"[^>]*>', form)[0]
    # Unticking it withdraws the consent.
    organiser_client.post(
        url,
        data={"name": "No Email", "postcode": "2003", "email": "found@example.org",
              "csrf_token": csrf(organiser_client, url)},
    )  # fmt: skip
    assert attendees_of(app_with_data, event_id)["No Email"].may_follow_up is False
