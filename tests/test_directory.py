"""Tests for letters.domain.directory: names, states, loading and the postcode lookup."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from letters.domain.directory import (
    AEC_FINDER_URL,
    DIRECTORY_FILENAME,
    FORMAT_VERSION,
    Directory,
    DirectoryError,
    Division,
    Lookup,
    Member,
    display_name,
    load_directory,
    normalise_state,
    states_for_postcode_range,
    strip_title,
)
from letters.refresh import refresh
from tests.conftest import FIXTURE_PLAUSIBILITY as SMALL
from tests.conftest import OPENAUSTRALIA_FIXTURE, REFERENCE_DATA

NOW = dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    """The hand-made fixtures, refreshed and loaded the way the app does."""
    refresh(str(OPENAUSTRALIA_FIXTURE), tmp_path, now=NOW, plausibility=SMALL)
    loaded = load_directory(tmp_path)
    assert loaded is not None
    return loaded


# --- names and states -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("David Philip Benedict Smith", "David Smith"),
        ("Mr Anthony Stephen Burke", "Anthony Burke"),
        ("the Hon. Julie Isabel Bishop", "Julie Bishop"),
        ("Dr. Mei Ling Chow MP", "Mei Chow"),
        ("Albertus Johannes van Manen", "Albertus van Manen"),
        ("Dai Le", "Dai Le"),
        ("Julie-Ann Campbell", "Julie-Ann Campbell"),
        ("Clare O'Neil", "Clare O'Neil"),
        # A first name that is also a surname particle is still the first name.
        ("van Morrison Stephen Jones", "van Jones"),
    ],
)
def test_display_name(raw: str, expected: str) -> None:
    """First given name + surname, with titles and post-nominals gone."""
    assert display_name(raw) == expected


def test_strip_title_keeps_a_bare_surname() -> None:
    """A title is only dropped when a full name remains after it."""
    assert strip_title("Mrs Bronwyn Kathleen Bishop") == "Bronwyn Kathleen Bishop"
    assert strip_title("Mr Smith") == "Mr Smith"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mr Tony Burke", "Tony Burke"),
        ("MX Sam Lee", "Sam Lee"),
        ("Jane Smith MP", "Jane Smith"),
        ("Smith MP", "Smith MP"),
        ("Sharon Claydon AM, MP", "Sharon Claydon"),
        # "Hon" is a title only after "the"; a word that merely starts like one is a name.
        ("Wong Hon Ming", "Wong Hon Ming"),
        ("the HONX Ann Lee", "the HONX Ann Lee"),
        ("Ann Lee AMX", "Ann Lee AMX"),
    ],
)
def test_strip_title_drops_whole_titles_and_post_nominals_while_two_names_remain(
    raw: str, expected: str
) -> None:
    """Titles in any case and post-nominals with their stops or commas go, down to two words."""
    assert strip_title(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [("Vic.", "VIC"), ("Vic", "VIC"), ("Tas", "TAS"), ("Tas.", "TAS"), ("Qld", "QLD"),
     ("QLD", "QLD"), ("nsw", "NSW"), ("Western Australia", "WA"), (" act ", "ACT"),
     ("NT", "NT"), ("SA", "SA"), ("Victoria?", None), ("", None)],
)  # fmt: skip
def test_normalise_state(raw: str, code: str | None) -> None:
    """Every spelling the source uses maps to a code; unknown ones to None."""
    assert normalise_state(raw) == code


def test_postcode_ranges() -> None:
    """The Australia Post fallback places postcodes, including the ACT's enclaves in NSW's."""
    assert states_for_postcode_range("0800") == {"NT"}
    assert states_for_postcode_range("2600") == {"ACT"}
    assert states_for_postcode_range("2620") == {"NSW"}
    assert states_for_postcode_range("2905") == {"ACT"}
    assert states_for_postcode_range("3000") == {"VIC"}
    assert states_for_postcode_range("7000") == {"TAS"}
    assert states_for_postcode_range("0000") == frozenset()


# --- loading -----------------------------------------------------------------------------


def test_load_directory_none_before_first_refresh(tmp_path: Path) -> None:
    """No file yet means "not refreshed", not an error."""
    assert load_directory(tmp_path) is None


def test_load_directory_caches_until_the_file_changes(tmp_path: Path) -> None:
    """Repeated loads reuse the parsed object; a refresh replaces it."""
    refresh(str(OPENAUSTRALIA_FIXTURE), tmp_path, now=NOW, plausibility=SMALL)
    first = load_directory(tmp_path)
    assert first is not None
    assert load_directory(tmp_path) is first
    later = NOW + dt.timedelta(days=1)
    refresh(str(OPENAUSTRALIA_FIXTURE), tmp_path, now=later, plausibility=SMALL)
    second = load_directory(tmp_path)
    assert second is not None
    assert second is not first
    assert second.refreshed_at == later


def test_load_directory_rejects_garbage(tmp_path: Path) -> None:
    """A corrupt or foreign file is a DirectoryError telling you to refresh."""
    (tmp_path / DIRECTORY_FILENAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(DirectoryError):
        load_directory(tmp_path)
    (tmp_path / DIRECTORY_FILENAME).write_text(json.dumps({"format": 99}), encoding="utf-8")
    with pytest.raises(DirectoryError, match="letters data refresh"):
        load_directory(tmp_path)


def test_load_directory_says_which_file_it_cannot_use_and_why(tmp_path: Path) -> None:
    """A file that is not JSON, or JSON that is not a directory, is named in the error."""
    path = (tmp_path / DIRECTORY_FILENAME).resolve()
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError) as parse_error:
        json.loads("{not json")
    with pytest.raises(DirectoryError) as unreadable:
        load_directory(tmp_path)
    assert str(unreadable.value) == f"cannot read {path}: {parse_error.value}"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(DirectoryError) as not_an_object:
        load_directory(tmp_path)
    assert str(not_an_object.value) == f"{path} does not hold a directory object"


@pytest.mark.processes  # a Python of its own, started under a locale that is not UTF-8
def test_a_directory_with_accented_names_loads_the_same_under_any_locale(tmp_path: Path) -> None:
    """The stored file is UTF-8 whatever the machine's locale, so names keep their accents."""
    source = tmp_path / "source"
    shutil.copytree(OPENAUSTRALIA_FIXTURE, source)
    for name in ("people.csv", "representatives.csv"):
        text = (source / name).read_text(encoding="utf-8")
        (source / name).write_text(text.replace("Chow", "Chöw"), encoding="utf-8")
    refresh(str(source), tmp_path, now=NOW, plausibility=SMALL)
    here = load_directory(tmp_path)
    assert here is not None
    answer = json.dumps(here.lookup("3005").to_json())
    assert "Mei Ch\\u00f6w" in answer
    script = (
        "import json, sys\n"
        "from letters.domain.directory import load_directory\n"
        "print(json.dumps(load_directory(sys.argv[1]).lookup('3005').to_json()))\n"
    )
    ascii_locale = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    elsewhere = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env={**os.environ, **ascii_locale},
        cwd=Path(__file__).resolve().parents[1],  # this checkout's letters
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert elsewhere.stdout == f"{answer}\n"


def test_directory_round_trips(directory: Directory) -> None:
    """to_dict/from_dict preserve everything lookups need."""
    again = Directory.from_dict(json.loads(json.dumps(directory.to_dict())))
    assert again.divisions == directory.divisions
    assert again.postcodes == directory.postcodes
    assert again.division_states == directory.division_states
    assert (again.source, again.as_of, again.refreshed_at) == (
        directory.source,
        directory.as_of,
        directory.refreshed_at,
    )


def test_a_stored_directory_loads_as_the_one_that_was_stored() -> None:
    """Members keep their own division and state, and a vacant seat stays vacant."""
    watson = Member(
        name="Anthony Stephen Burke",
        display_name="Tony Burke",
        party="ALP",
        division="Watson",
        state="NSW",
        since=dt.date(2004, 10, 9),
        aph_id="HWI",
    )
    built = Directory(
        divisions={
            "Bean": Division(name="Bean", state="ACT", member=None),
            "Watson": Division(name="Watson", state="NSW", member=watson),
        },
        postcodes={"2196": ("Watson",), "2620": ("Bean", "Eden-Monaro")},
        division_states={"Bean": "ACT", "Eden-Monaro": "NSW", "Watson": "NSW"},
        source="hand-made",
        as_of=dt.date(2026, 6, 30),
        refreshed_at=NOW,
    )
    stored = json.loads(json.dumps(built.to_dict()))
    assert [(item["name"], item["member"] is None) for item in stored["divisions"]] == [
        ("Bean", True),
        ("Watson", False),
    ]
    assert Directory.from_dict(stored) == built


def test_from_dict_says_what_is_wrong_with_a_stored_file() -> None:
    """A file of another format, or with parts missing, is refused with the reason."""
    with pytest.raises(DirectoryError) as other_format:
        Directory.from_dict({"format": 99})
    assert str(other_format.value) == (
        f"unsupported directory format 99 (expected {FORMAT_VERSION}); "
        "run `letters data refresh` again"
    )
    with pytest.raises(DirectoryError) as malformed:
        Directory.from_dict({"format": FORMAT_VERSION})
    assert str(malformed.value) == "malformed directory data: KeyError('divisions')"


def test_directory_accessors(directory: Directory) -> None:
    """Members are listed once each; divisions can be found case-insensitively."""
    assert len(directory.members) == len(directory.divisions) == 11
    found = directory.division("ghost gum")
    assert found is None  # abolished: not a current division
    wattle = directory.division("wattle")
    assert wattle is not None
    assert wattle.member is not None
    assert wattle.member.display_name == "Harry Fernsby"
    assert directory.state_of("Ghost Gum") == "VIC"


def test_a_current_divisions_state_is_its_own_and_history_places_abolished_ones(
    directory: Directory,
) -> None:
    """The history of divisions only answers for those without a current one."""
    partial = replace(directory, division_states={"Ghost Gum": "VIC", "Wattle": "QLD"})
    names = [*partial.divisions, "Ghost Gum", "Nowhere"]
    assert {name: partial.state_of(name) for name in names} == {
        **{name: division.state for name, division in partial.divisions.items()},
        "Ghost Gum": "VIC",
        "Nowhere": None,
    }
    assert partial.state_of("Wattle") == "NSW"


# --- lookup ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "200", "20011", "2OO1", "abcd", "2001-"])
def test_lookup_needs_four_digits(directory: Directory, bad: str) -> None:
    """Anything but exactly four digits is an input error, not an empty result."""
    result = directory.lookup(bad)
    assert result.error is not None
    assert result.error.startswith("Enter a 4-digit postcode")
    assert result.divisions == []
    assert "error" in result.to_json()


def test_lookup_hints_at_leading_zero(directory: Directory) -> None:
    """NT and ACT postcodes start with 0, which people drop."""
    assert "0801 rather than 801" in (directory.lookup("801").error or "")


def test_lookup_asks_for_four_digits_and_hints_only_at_a_dropped_leading_zero(
    directory: Directory,
) -> None:
    """Three digits suggest the zero people drop; any other wrong postcode just asks for four."""
    assert directory.lookup(" 80 1 ") == Lookup(
        postcode="801", error="Enter a 4-digit postcode (for example 0801 rather than 801)."
    )
    assert directory.lookup("2001 1") == Lookup(postcode="20011", error="Enter a 4-digit postcode.")
    assert directory.lookup("") == Lookup(postcode="", error="Enter a 4-digit postcode.")


def test_lookup_refusals_keep_the_postcode_and_state_and_say_why_in_full(
    directory: Directory,
) -> None:
    """An unknown state, a postcode in other states, or one we have no data for: each answer
    keeps the postcode and the state understood, and gives its reason word for word."""
    assert directory.lookup("3001", " Gondwana ") == Lookup(
        postcode="3001",
        error="Unknown state 'Gondwana': use one of NSW, VIC, QLD, SA, WA, TAS, ACT, NT.",
    )
    assert directory.lookup("2620", "Vic.") == Lookup(
        postcode="2620",
        state="VIC",
        error="Postcode 2620 is in ACT / NSW, not VIC. Check the postcode and the state.",
    )
    assert directory.lookup("5999", "SA") == Lookup(
        postcode="5999",
        state="SA",
        error=f"We don't know postcode 5999. Check it, or find your electorate at {AEC_FINDER_URL}",
    )


def test_lookup_strips_spaces(directory: Directory) -> None:
    """Spaces inside or around the postcode are ignored."""
    assert [d.name for d in directory.lookup(" 20 01 ").divisions] == ["Banksia"]


def test_lookup_single_division(directory: Directory) -> None:
    """One division: just that one, no notes, and the exact JSON shape."""
    result = directory.lookup("2003")
    assert result.error is None
    assert result.state == "NSW"
    assert result.notes == []
    assert result.to_json() == {
        "postcode": "2003",
        "divisions": [
            {
                "name": "Wattle",
                "state": "NSW",
                "likely": True,
                "member": {"name": "Harry Fernsby", "party": "ALP"},
            }
        ],
        "notes": [],
    }


def test_lookup_of_a_division_without_a_member_answers_with_no_member(
    directory: Directory,
) -> None:
    """A seat stored as vacant (its member gone) is still offered, naming no member."""
    data = directory.to_dict()
    for item in data["divisions"]:
        if item["name"] == "Wattle":
            item["member"] = None
    vacant = Directory.from_dict(json.loads(json.dumps(data)))
    assert vacant.lookup("2003").to_json()["divisions"] == [
        {"name": "Wattle", "state": "NSW", "likely": True, "member": None}
    ]


def test_lookup_answer_carries_its_error_for_the_page(directory: Directory) -> None:
    """The JSON the write page reads says what is wrong, in words it can show."""
    payload = directory.lookup("5999").to_json()
    assert payload["divisions"] == []
    assert "We don't know postcode 5999" in payload["error"]
    assert directory.lookup("2003").to_json().keys() == {"postcode", "divisions", "notes"}


def test_lookup_split_postcode_offers_all(directory: Directory) -> None:
    """A postcode in several divisions offers every one and points to the AEC finder."""
    result = directory.lookup("2002")
    assert [d.name for d in result.divisions] == ["Banksia", "Wattle"]
    assert all(d.likely for d in result.divisions)
    assert len(result.notes) == 1
    assert AEC_FINDER_URL in result.notes[0]


def test_lookup_unknown_postcode(directory: Directory) -> None:
    """A well-formed postcode we have no data for is a clear error."""
    result = directory.lookup("5999")
    assert result.error is not None
    assert "5999" in result.error
    assert AEC_FINDER_URL in result.error


def test_lookup_state_mismatch_names_both(directory: Directory) -> None:
    """Postcode and state that disagree are an error naming both."""
    result = directory.lookup("3001", "NSW")
    assert result.error == "Postcode 3001 is in VIC, not NSW. Check the postcode and the state."
    # Unknown postcodes fall back to Australia Post ranges for the same check.
    fallback = directory.lookup("5999", "Qld")
    assert fallback.error is not None
    assert "SA" in fallback.error
    assert "QLD" in fallback.error


def test_lookup_state_spellings_and_unknown_state(directory: Directory) -> None:
    """The state may be spelled any common way; nonsense is an error."""
    assert directory.lookup("3001", "Vic.").error is None
    result = directory.lookup("3001", "Gondwana")
    assert result.error is not None
    assert "Gondwana" in result.error


def test_lookup_border_postcode_narrows_by_state(directory: Directory) -> None:
    """A postcode shared by NSW and the ACT gives both, or only the chosen state's."""
    both = directory.lookup("2620")
    assert [d.name for d in both.divisions] == ["Banksia", "Brindabella"]
    assert both.state is None
    act = directory.lookup("2620", "ACT")
    assert [d.name for d in act.divisions] == ["Brindabella"]
    assert act.state == "ACT"
    assert act.notes == []


def test_lookup_abolished_division_is_never_offered(directory: Directory) -> None:
    """A postcode only in an abolished division offers the state's current ones, likely first."""
    result = directory.lookup("3002")
    assert result.error is None
    names = [d.name for d in result.divisions]
    assert "Ghost Gum" not in names
    # Ghost Gum shared postcodes with Ironbark and Saltbush, never with Lyrebird.
    assert names == ["Ironbark", "Saltbush", "Lyrebird"]
    assert [d.likely for d in result.divisions] == [True, True, False]
    assert all(d.member is not None for d in result.divisions)
    assert len(result.notes) == 1
    note = result.notes[0]
    assert "Ghost Gum no longer exists" in note
    assert "no current member" in note
    assert "2024" in note
    assert "Choose yours from the current VIC divisions (the likely ones come first)" in note
    assert AEC_FINDER_URL in note
    assert result.state == "VIC"


def test_lookup_abolished_plus_current_puts_postcode_division_first(directory: Directory) -> None:
    """The current division that shares the postcode ranks above the old one's neighbours."""
    result = directory.lookup("3004")
    assert [d.name for d in result.divisions] == ["Saltbush", "Ironbark", "Lyrebird"]
    assert [d.likely for d in result.divisions] == [True, True, False]
    payload = result.to_json()
    assert "Ghost Gum" not in {d["name"] for d in payload["divisions"]}
    assert "Ghost Gum no longer exists" in payload["notes"][0]


def _abolished_note(name: str, code: str, states: str | None) -> str:
    """The note a lookup adds for an abolished division, word for word."""
    where = f"the current {states}" if states else "your state's current"
    return (
        f"Our postcode data lists {name} for {code}, but {name} no longer exists as a federal "
        "division (it has no current member): boundaries changed in the 2024 redistribution. "
        f"Choose yours from {where} divisions (the likely ones come first), "
        f"or check {AEC_FINDER_URL}"
    )


def test_lookup_places_an_abolished_division_by_its_own_state_before_the_postcode_range(
    directory: Directory,
) -> None:
    """An old ACT division listed for a postcode in NSW's range offers the ACT's divisions;
    one never placed in a state goes by the range, narrowed to the state asked for."""
    changed = replace(
        directory,
        postcodes={
            **directory.postcodes,
            "2619": ("Fraser",),
            "2620": ("Banksia", "Brindabella", "Molonglo"),
        },
        division_states={**directory.division_states, "Fraser": "ACT"},
    )
    banksia = {
        "name": "Banksia",
        "state": "NSW",
        "likely": True,
        "member": {"name": "Priya Nandakumar", "party": "IND"},
    }
    brindabella = {
        "name": "Brindabella",
        "state": "ACT",
        "likely": True,
        "member": {"name": "Samuel Okafor", "party": "ALP"},
    }
    wattle = {
        "name": "Wattle",
        "state": "NSW",
        "likely": False,
        "member": {"name": "Harry Fernsby", "party": "ALP"},
    }
    assert changed.lookup("2619").to_json() == {
        "postcode": "2619",
        "divisions": [{**brindabella, "likely": False}],
        "notes": [_abolished_note("Fraser", "2619", "ACT")],
    }
    assert changed.lookup("2620").to_json() == {
        "postcode": "2620",
        "divisions": [banksia, brindabella, wattle],
        "notes": [_abolished_note("Molonglo", "2620", "ACT / NSW")],
    }
    assert changed.lookup("2620", "ACT").to_json() == {
        "postcode": "2620",
        "divisions": [brindabella],
        "notes": [_abolished_note("Molonglo", "2620", "ACT")],
    }


def test_lookup_of_an_abolished_division_no_data_can_place_offers_the_state_given(
    directory: Directory,
) -> None:
    """Outside every Australia Post range an unplaced old division leaves nothing to offer,
    until the supporter says which state they live in: then that state's divisions."""
    changed = replace(directory, postcodes={**directory.postcodes, "0100": ("Nowhere",)})
    assert changed.lookup("0100").to_json() == {
        "postcode": "0100",
        "divisions": [],
        "notes": [_abolished_note("Nowhere", "0100", None)],
    }
    with_state = changed.lookup("0100", "NT")
    assert with_state.state == "NT"
    assert with_state.to_json() == {
        "postcode": "0100",
        # The fixture's one NT division; not "likely", since nothing ties it to 0100.
        "divisions": [
            {
                "name": "Spinifex",
                "state": "NT",
                "likely": False,
                "member": {"name": "Jarrah Wilson", "party": "CLP"},
            }
        ],
        "notes": [_abolished_note("Nowhere", "0100", "NT")],
    }


def test_lookup_warns_about_divisions_missing_from_postcode_data(directory: Directory) -> None:
    """Coolibah (WA) has no postcodes, so WA lookups say it could be theirs."""
    result = directory.lookup("6001")
    assert [d.name for d in result.divisions] == ["Karri"]
    assert len(result.notes) == 1
    assert "Coolibah (WA)" in result.notes[0]
    assert directory.lookup("3001").notes == []


def test_lookup_names_every_division_the_postcode_data_predates_in_one_note(
    directory: Directory,
) -> None:
    """Two WA divisions without postcodes are both named, in order, in the one WA note."""
    coolibah = directory.divisions["Coolibah"]
    assert coolibah.member is not None
    newer = replace(coolibah, name="Banyalla", member=replace(coolibah.member, division="Banyalla"))
    changed = replace(directory, divisions={**directory.divisions, "Banyalla": newer})
    listed = "Banyalla, Coolibah"
    assert changed.lookup("6001").notes == [
        f"Our postcode data predates {listed} (WA), created in a later redistribution, "
        f"so your division could be {listed}: check {AEC_FINDER_URL}"
    ]


# --- the real data -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Directory, dict[str, list[str]]]:
    """The reference data refreshed with default validation, plus the raw postcode rows."""
    folder = REFERENCE_DATA / "openaustralia-parser"
    if not folder.is_dir():
        pytest.skip(f"reference data not found at {folder}")
    data_dir = tmp_path_factory.mktemp("reference")
    refresh(str(folder), data_dir, now=NOW)
    loaded = load_directory(data_dir)
    assert loaded is not None
    raw: dict[str, list[str]] = defaultdict(list)
    with (folder / "postcodes.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            raw[row["postcode"]].append(row["electorate"])
    return loaded, dict(raw)


@pytest.mark.reference
def test_real_divisions_each_have_one_member(real: tuple[Directory, dict[str, list[str]]]) -> None:
    """150 current divisions, each with exactly one distinct member."""
    directory, _ = real
    assert len(directory.divisions) == 150
    assert all(d.member is not None for d in directory.divisions.values())
    assert len({(m.name, m.division) for m in directory.members}) == 150
    assert {d.state for d in directory.divisions.values()} == {
        "NSW", "VIC", "QLD", "SA", "WA", "TAS", "ACT", "NT",
    }  # fmt: skip
    bean = directory.division("Bean")
    assert bean is not None
    assert bean.member is not None
    assert bean.member.display_name == "David Smith"
    watson = directory.division("Watson")
    assert watson is not None
    assert watson.member is not None
    assert watson.member.name == "Anthony Stephen Burke"  # "Mr" stripped
    assert watson.member.display_name == "Tony Burke"  # known-as name from people.csv


@pytest.mark.reference
def test_real_every_postcode_resolves(real: tuple[Directory, dict[str, list[str]]]) -> None:
    """Every postcode gives current candidates; abolished divisions only ever appear in notes."""
    directory, raw = real
    assert len(raw) == 2636
    split = 0
    for postcode, names in raw.items():
        result = directory.lookup(postcode)
        assert result.error is None, postcode
        assert result.divisions, postcode
        offered = [d.name for d in result.divisions]
        assert all(name in directory.divisions for name in offered), postcode
        assert all(d.member is not None for d in result.divisions), postcode
        assert len(set(offered)) == len(offered), postcode
        defunct = [n for n in names if n not in directory.divisions]
        for name in defunct:
            assert any(f"{name} no longer exists" in note for note in result.notes), postcode
        if defunct:
            assert any(d.likely for d in result.divisions), postcode
        elif len(names) > 1:
            split += 1
            assert sorted(offered) == sorted(names), postcode
            assert any(AEC_FINDER_URL in note for note in result.notes), postcode
        else:
            assert offered == names, postcode
        # The supporter's own state always agrees with the postcode.
        for state in {d.state for d in result.divisions}:
            assert directory.lookup(postcode, state).error is None, (postcode, state)
    assert split > 500


@pytest.mark.reference
@pytest.mark.parametrize(
    ("postcode", "abolished", "likely_include"),
    [("3142", "Higgins", {"Kooyong", "Macnamara"}), ("2060", "North Sydney", {"Warringah"})],
)
def test_real_abolished_divisions(
    real: tuple[Directory, dict[str, list[str]]],
    postcode: str,
    abolished: str,
    likely_include: set[str],
) -> None:
    """Higgins and North Sydney are explained, never offered; their neighbours come first."""
    directory, raw = real
    assert abolished not in directory.divisions
    assert abolished not in {d.name for r in map(directory.lookup, raw) for d in r.divisions}
    result = directory.lookup(postcode)
    assert abolished not in [d.name for d in result.divisions]
    assert any(f"{abolished} no longer exists" in note for note in result.notes)
    likely = [d.name for d in result.divisions if d.likely]
    assert likely_include <= set(likely)
    flags = [d.likely for d in result.divisions]
    assert flags == sorted(flags, reverse=True)  # likely ones first
    state = directory.state_of(abolished)
    assert {d.name for d in result.divisions} == {
        d.name for d in directory.divisions.values() if d.state == state
    }


@pytest.mark.reference
def test_real_split_and_state_checks(real: tuple[Directory, dict[str, list[str]]]) -> None:
    """A split postcode offers several; postcode/state mismatches and Bullwinkel are explained."""
    directory, _ = real
    darwin = directory.lookup("0820")
    assert [d.name for d in darwin.divisions] == ["Lingiari", "Solomon"]
    assert directory.lookup("3000", "NSW").error == (
        "Postcode 3000 is in VIC, not NSW. Check the postcode and the state."
    )
    perth_hills = directory.lookup("6056")
    assert any("Bullwinkel" in note for note in perth_hills.notes)
