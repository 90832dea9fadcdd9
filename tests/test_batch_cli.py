"""`letters batch-pdf`: an attendee CSV to printed letters from the command line.

The command runs as an organiser runs it, with its settings in the environment: it never
builds the web app.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from letters.cli import main
from tests.conftest import FIXTURES, load_fixture_members
from tests.organiser_helpers import read_batch

ATTENDEES = FIXTURES / "attendees"


@pytest.fixture
def batch_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Runs `letters batch-pdf ARGS` on the embedded defaults, with the fixture members."""
    load_fixture_members(tmp_path / "data")
    environment = {
        "LETTERS_INSTANCE_DIR": str(tmp_path / "instance"),
        "LETTERS_DATA_DIR": str(tmp_path / "data"),
    }

    def refuse_to_build_the_app(*args: object, **kwargs: object) -> None:
        raise AssertionError("letters batch-pdf built the web app")

    monkeypatch.setattr("letters.create_app", refuse_to_build_the_app)

    def run(*args: str, **settings: str) -> Result:
        return CliRunner().invoke(main, ["batch-pdf", *args], env={**environment, **settings})

    return run


def test_rows_that_need_a_division_stop_the_print_unless_partial(batch_pdf, tmp_path):
    out = tmp_path / "event.pdf"
    refused = batch_pdf(str(ATTENDEES / "good.csv"), "-o", str(out))
    assert refused.exit_code == 1
    assert "good.csv: row 4: Kim Split (2002) needs a division: add one of Banksia, Wattle" in (
        refused.output
    )
    assert "5 rows read, 5 imported, 2 need their division chosen." in refused.output
    assert "nothing printed" in refused.output and not out.exists()

    partial = batch_pdf(str(ATTENDEES / "good.csv"), "-o", str(out), "--partial")
    assert partial.exit_code == 0, partial.output
    assert "3 letters to 2 electorates" in partial.output
    bundles = read_batch(out)
    assert [(b.division, b.count) for b in bundles] == [("Banksia", 1), ("Wattle", 2)]


def test_a_clean_file_prints_with_labels_zip_and_a_progress_bar(batch_pdf, tmp_path):
    csv_file = tmp_path / "attendees.csv"
    csv_file.write_text(
        "name,postcode,division\n"
        "Ann Zeta,2001,\nBea Alpha,2003,\nCal Mid,2002,Banksia\nDee Beta,4001,\nEve Gamma,2001,\n",
        encoding="utf-8",
    )
    out = tmp_path / "night.pdf"
    result = batch_pdf(
        str(csv_file),
        "-o",
        str(out),
        "--labels",
        "--zip",
        "--date",
        "2026-12-05",
        "--heading",
        "Hall night",
    )
    assert result.exit_code == 0, result.output
    assert "Printing letters" in result.stderr  # the progress bar
    assert "5 letters to 3 electorates" in result.stdout
    for name in ("night.pdf", "night.zip", "night-labels.pdf"):
        assert str(tmp_path / name) in result.stdout

    bundles = read_batch(out)
    assert [(b.state, b.division, b.senders) for b in bundles] == [
        ("NSW", "Banksia", ["Eve Gamma", "Cal Mid", "Ann Zeta"]),  # by surname
        ("NSW", "Wattle", ["Bea Alpha"]),
        ("QLD", "Cassowary", ["Dee Beta"]),
    ]
    assert "Hall night" in PdfReader(out).pages[0].extract_text()
    assert "5 December 2026" in PdfReader(out).pages[1].extract_text()
    with zipfile.ZipFile(tmp_path / "night.zip") as archive:
        assert len(archive.namelist()) == 3
    assert len(PdfReader(tmp_path / "night-labels.pdf").pages) == 1


def test_bad_files_campaigns_and_settings_fail_clearly(batch_pdf, tmp_path):
    out = tmp_path / "x.pdf"
    good = str(ATTENDEES / "good.csv")
    empty = batch_pdf(str(ATTENDEES / "empty.csv"), "-o", str(out))
    assert empty.exit_code == 1 and "The file is empty" in empty.output
    unknown = batch_pdf(good, "-o", str(out), "--campaign", "nope")
    assert unknown.exit_code == 1 and "no campaign 'nope'; there are: tougher-on-tech" in (
        unknown.output
    )
    no_default = batch_pdf(good, "-o", str(out), LETTERS_DEFAULT_CAMPAIGN="gone")
    assert no_default.exit_code == 1 and "no campaign 'gone'" in no_default.output
    no_campaigns = batch_pdf(good, "-o", str(out), LETTERS_CAMPAIGNS_DIR=str(tmp_path / "none"))
    assert no_campaigns.exit_code == 1
    assert f"there are: none in {tmp_path / 'none'} (LETTERS_CAMPAIGNS_DIR)" in no_campaigns.output
    no_members = batch_pdf(good, "-o", str(out), LETTERS_DATA_DIR=str(tmp_path / "empty"))
    assert no_members.exit_code == 1
    assert "no member data yet: run `letters data refresh` first" in no_members.output
    no_zone = batch_pdf(good, "-o", str(out), LETTERS_TIMEZONE="Australia/Nowhere")
    assert no_zone.exit_code == 1
    assert "LETTERS_TIMEZONE: no time zone 'Australia/Nowhere'" in no_zone.output
    assert not out.exists()
