"""Tests for letters.refresh: fetching, validating and storing the directory."""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from letters.domain.directory import DIRECTORY_FILENAME, load_directory
from letters.refresh import (
    DEFAULT_SOURCE,
    RefreshError,
    parse_date,
    refresh,
)
from tests.conftest import FIXTURE_PLAUSIBILITY as SMALL
from tests.conftest import OPENAUSTRALIA_FIXTURE, REFERENCE_DATA

NOW = dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A writable copy of the hand-made fixtures, for tests that break them."""
    target = tmp_path / "source"
    shutil.copytree(OPENAUSTRALIA_FIXTURE, target)
    return target


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where refresh writes."""
    return tmp_path / "data"


class _RecordingHandler(SimpleHTTPRequestHandler):
    """Serves the fixtures, remembers what was asked for, and keeps test output quiet."""

    requested: list[str]

    def log_message(self, format: str, *args: object) -> None:
        """Record the path instead of printing to stderr."""
        self.requested.append(self.path)


@pytest.fixture
def fixture_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[str]]]:
    """An http.server on 127.0.0.1 serving the fixtures; yields (base URL, requested paths)."""
    # A proxy configured in the environment must not intercept the loopback server.
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    requested: list[str] = []
    handler = type("Handler", (_RecordingHandler,), {"requested": requested})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(OPENAUSTRALIA_FIXTURE))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _stored(data_dir: Path) -> dict:
    """The JSON refresh wrote."""
    return json.loads((data_dir / DIRECTORY_FILENAME).read_text(encoding="utf-8"))


def test_parse_date_accepts_both_zero_styles() -> None:
    """D.M.YYYY with or without leading zeros; junk is None rather than an exception."""
    assert parse_date("3.5.2025") == dt.date(2025, 5, 3)
    assert parse_date("03.05.2025") == dt.date(2025, 5, 3)
    assert parse_date(" 18.05.2019 ") == dt.date(2019, 5, 18)
    assert parse_date("") is None
    assert parse_date("31.2.2020") is None
    assert parse_date("2025-05-03") is None


def test_refresh_from_folder_reports_counts(source: Path, data_dir: Path) -> None:
    """The report counts what the fixtures hold, including the defunct and unindexed divisions."""
    report = refresh(str(source), data_dir, now=NOW, plausibility=SMALL)
    assert report.path == data_dir / DIRECTORY_FILENAME
    assert report.source == str(source.resolve())
    assert report.divisions == 11
    assert report.members == 11
    assert report.postcodes == 15
    assert report.split_postcodes == 4  # 2002, 2620, 3003, 3004
    assert report.divisions_without_member == ["Ghost Gum"]
    assert report.divisions_without_postcodes == ["Coolibah"]
    assert report.as_of == dt.date(2025, 5, 3)  # the latest election in the file
    assert report.refreshed_at == NOW
    summary = report.summary()
    assert "11 current divisions, 11 members" in summary
    assert "Ghost Gum" in summary
    assert "Coolibah" in summary


def test_refresh_writes_one_json_file_atomically(source: Path, data_dir: Path) -> None:
    """One directory.json with provenance, divisions, states and postcodes; no temp files left."""
    refresh(str(source), data_dir, now=NOW, plausibility=SMALL)
    assert [p.name for p in data_dir.iterdir()] == [DIRECTORY_FILENAME]
    stored = _stored(data_dir)
    assert stored["source"] == str(source.resolve())
    assert stored["as_of"] == "2025-05-03"
    assert stored["refreshed_at"] == NOW.isoformat()
    assert stored["postcodes"]["3003"] == ["Ghost Gum", "Ironbark"]
    # The abolished division keeps its state so lookups can place it.
    assert stored["division_states"]["Ghost Gum"] == "VIC"
    assert "Ghost Gum" not in {d["name"] for d in stored["divisions"]}


def test_members_get_state_codes_titles_stripped_and_known_as_names(
    source: Path, data_dir: Path
) -> None:
    """States are codes, titles go, and people.csv supplies "known as" names when unambiguous."""
    refresh(str(source), data_dir, now=NOW, plausibility=SMALL)
    directory = load_directory(data_dir)
    assert directory is not None
    by_division = {d.name: d for d in directory.divisions.values()}
    assert {d.state for d in by_division.values()} == {
        "NSW",
        "VIC",
        "QLD",
        "WA",
        "TAS",
        "ACT",
        "NT",
    }

    fernsby = by_division["Wattle"].member
    assert fernsby is not None
    assert fernsby.name == "Horatio Quentin Fernsby"  # "Mr" stripped
    assert fernsby.display_name == "Harry Fernsby"  # people.csv's known-as name
    assert fernsby.aph_id == "T02"
    assert fernsby.since == dt.date(2022, 5, 21)
    assert fernsby.party == "ALP"

    displays = {name: d.member.display_name for name, d in by_division.items() if d.member}
    assert displays["Cassowary"] == "Col Mabbott"
    assert displays["Saltbush"] == "Oliver van Rijn"
    assert displays["Ironbark"] == "Mei Chow"  # "Dr" stripped, middle name dropped
    assert displays["Lyrebird"] == "Tobias Lark"  # not in people.csv: own name used
    # Two people in people.csv share this spelling, so neither known-as name is trusted.
    scully = by_division["Huon"].member
    assert scully is not None
    assert (scully.display_name, scully.aph_id) == ("Harriet Scully", None)


def test_refresh_over_http(fixture_server: tuple[str, list[str]], data_dir: Path) -> None:
    """An http(s) base URL is fetched file by file, exactly like the folder."""
    base_url, requested = fixture_server
    report = refresh(base_url, data_dir, now=NOW, plausibility=SMALL)
    assert report.source == base_url.rstrip("/")
    assert report.divisions == 11
    assert sorted(requested) == ["/people.csv", "/postcodes.csv", "/representatives.csv"]
    directory = load_directory(data_dir)
    assert directory is not None
    assert directory.source == base_url.rstrip("/")


def test_http_failure_leaves_previous_data(
    fixture_server: tuple[str, list[str]], source: Path, data_dir: Path
) -> None:
    """A 404 from the server is a RefreshError naming the URL; the old file stays."""
    refresh(str(source), data_dir, now=NOW, plausibility=SMALL)
    before = (data_dir / DIRECTORY_FILENAME).read_bytes()
    base_url, _ = fixture_server
    with pytest.raises(RefreshError) as caught:
        refresh(base_url + "missing/", data_dir, plausibility=SMALL)
    assert "missing/representatives.csv" in str(caught.value)
    assert (data_dir / DIRECTORY_FILENAME).read_bytes() == before


def test_failed_validation_leaves_old_file_in_place(source: Path, data_dir: Path) -> None:
    """Two current members for one division fail validation and nothing is overwritten."""
    refresh(str(source), data_dir, now=NOW, plausibility=SMALL)
    path = data_dir / DIRECTORY_FILENAME
    before_bytes, before_stat = path.read_bytes(), path.stat()

    reps = source / "representatives.csv"
    reps.write_text(
        reps.read_text(encoding="utf-8")
        + "14,,Imogen Second,Wattle,NSW,1.6.2026,by_election,,still_in_office,LIB\n",
        encoding="utf-8",
    )
    with pytest.raises(RefreshError) as caught:
        refresh(str(source), data_dir, now=NOW, plausibility=SMALL)
    message = str(caught.value)
    assert "Wattle has 2 current members" in message
    assert "Horatio Quentin Fernsby" in message
    assert "Imogen Second" in message
    assert path.read_bytes() == before_bytes
    assert path.stat().st_mtime_ns == before_stat.st_mtime_ns
    assert [p.name for p in data_dir.iterdir()] == [DIRECTORY_FILENAME]


def test_implausible_member_count_is_refused(source: Path, data_dir: Path) -> None:
    """The default bounds expect a House of about 150; eleven members is not a real House."""
    with pytest.raises(RefreshError, match="11 current members, expected between 140 and 160"):
        refresh(str(source), data_dir, now=NOW)
    assert not (data_dir / DIRECTORY_FILENAME).exists()


@pytest.mark.parametrize(
    ("filename", "bad_line", "expected"),
    [
        (
            "representatives.csv",
            "15,,Quentin Nobody,Mulga,Vicc,3.5.2025,,,still_in_office,ALP",
            "unknown state 'Vicc'",
        ),
        (
            "representatives.csv",
            "15,,Quentin Nobody,Mulga,SA,sometime,,,still_in_office,ALP",
            "unreadable date of election",
        ),
        ("postcodes.csv", "30O7,Saltbush", "malformed row '30O7,Saltbush'"),
    ],
)
def test_bad_rows_are_listed(
    source: Path, data_dir: Path, filename: str, bad_line: str, expected: str
) -> None:
    """Rows the importer cannot trust are reported, not silently dropped."""
    path = source / filename
    path.write_text(path.read_text(encoding="utf-8") + bad_line + "\n", encoding="utf-8")
    with pytest.raises(RefreshError, match=expected):
        refresh(str(source), data_dir, now=NOW, plausibility=SMALL)


def test_missing_column_and_missing_file(source: Path, data_dir: Path) -> None:
    """A changed header or an absent file is a clear error."""
    (source / "postcodes.csv").write_text("postcode,division\n2001,Banksia\n", encoding="utf-8")
    with pytest.raises(RefreshError, match=r"postcodes\.csv lacks column"):
        refresh(str(source), data_dir, now=NOW, plausibility=SMALL)
    (source / "people.csv").unlink()
    with pytest.raises(RefreshError, match=r"could not read .*people\.csv"):
        refresh(str(source), data_dir, now=NOW, plausibility=SMALL)


def test_source_must_be_folder_or_url(tmp_path: Path) -> None:
    """Anything else is refused before touching data_dir."""
    with pytest.raises(RefreshError, match="neither a folder nor an http"):
        refresh(str(tmp_path / "nowhere"), tmp_path / "data")
    assert DEFAULT_SOURCE.startswith("https://raw.githubusercontent.com/openaustralia/")


@pytest.mark.reference
def test_refresh_reference_data(tmp_path: Path) -> None:
    """The real files pass the default validation with the known counts and defects."""
    folder = REFERENCE_DATA / "openaustralia-parser"
    if not folder.is_dir():
        pytest.skip(f"reference data not found at {folder}")
    report = refresh(str(folder), tmp_path, now=NOW)
    assert (report.divisions, report.members) == (150, 150)
    assert report.postcodes == 2636
    assert report.split_postcodes == 569
    assert report.divisions_without_member == ["Higgins", "North Sydney"]
    assert report.divisions_without_postcodes == ["Bullwinkel"]
