"""letters.domain.members: the one rule for which member a person writes to."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from letters.domain.directory import Directory, load_directory
from letters.domain.members import MemberChoice, Named, resolve_member
from letters.refresh import refresh
from tests.conftest import FIXTURE_PLAUSIBILITY, OPENAUSTRALIA_FIXTURE


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Directory:
    folder: Path = tmp_path_factory.mktemp("directory")
    now = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    refresh(str(OPENAUSTRALIA_FIXTURE), folder, now=now, plausibility=FIXTURE_PLAUSIBILITY)
    loaded = load_directory(folder)
    assert loaded is not None
    return loaded


def test_a_postcode_with_one_division_chooses_it(directory: Directory) -> None:
    choice = resolve_member(directory, "2003")
    assert choice.chosen is not None and choice.chosen.name == "Wattle"
    assert [d.name for d in choice.candidates] == ["Wattle"]
    assert choice.named is Named.NOTHING and choice.error is None


def test_a_vacant_seat_is_never_chosen_though_it_is_the_postcodes_only_one_or_named(
    directory: Directory,
) -> None:
    vacant = replace(directory.divisions["Wattle"], member=None)
    emptied = replace(directory, divisions={**directory.divisions, "Wattle": vacant})
    assert resolve_member(emptied, "2003") == MemberChoice(lookup=emptied.lookup("2003"))
    assert resolve_member(emptied, "2002", named="Wattle") == MemberChoice(
        lookup=emptied.lookup("2002"),
        candidates=(directory.divisions["Banksia"],),
        named=Named.UNKNOWN,
        named_division=vacant,
    )


def test_a_split_postcode_chooses_nothing_until_one_is_named(directory: Directory) -> None:
    open_choice = resolve_member(directory, "2002")
    assert open_choice.chosen is None
    assert [d.name for d in open_choice.candidates] == ["Banksia", "Wattle"]
    named = resolve_member(directory, "2002", named="  wattle ")
    assert named.chosen is not None and named.chosen.name == "Wattle"
    assert named.named is Named.LISTED


def test_a_named_division_the_data_does_not_list_is_chosen_only_when_trusted(
    directory: Directory,
) -> None:
    # Wattle is in NSW, like postcode 2001, whose data lists only Banksia.
    strict = resolve_member(directory, "2001", named="Wattle")
    assert strict.named is Named.UNLISTED_IN_STATE and strict.chosen is None
    assert strict.named_division is not None and strict.named_division.name == "Wattle"
    trusted = resolve_member(directory, "2001", named="Wattle", trust_named_in_state=True)
    assert trusted.chosen is not None and trusted.chosen.name == "Wattle"


def test_a_division_in_another_state_or_none_at_all_is_never_chosen(directory: Directory) -> None:
    elsewhere = resolve_member(directory, "2001", named="Saltbush", trust_named_in_state=True)
    assert elsewhere.named is Named.OTHER_STATE and elsewhere.chosen is None
    assert elsewhere.named_division is not None and elsewhere.named_division.state == "VIC"
    unknown = resolve_member(directory, "2001", named="Atlantis", trust_named_in_state=True)
    assert unknown.named is Named.UNKNOWN and unknown.chosen is None
    assert [d.name for d in unknown.candidates] == ["Banksia"]


def test_every_named_division_gives_the_whole_choice_with_the_lookup_and_its_candidates(
    directory: Directory,
) -> None:
    banksia, wattle, saltbush = (directory.divisions[n] for n in ("Banksia", "Wattle", "Saltbush"))
    split, nsw = directory.lookup("2002"), directory.lookup("2001")
    assert resolve_member(directory, "2002", named=" wattle ") == MemberChoice(
        lookup=split,
        candidates=(banksia, wattle),
        chosen=wattle,
        named=Named.LISTED,
        named_division=wattle,
    )
    unlisted = MemberChoice(
        lookup=nsw, candidates=(banksia,), named=Named.UNLISTED_IN_STATE, named_division=wattle
    )
    assert resolve_member(directory, "2001", named="Wattle") == unlisted
    assert resolve_member(directory, "2001", named="Wattle", trust_named_in_state=True) == replace(
        unlisted, chosen=wattle
    )
    assert resolve_member(directory, "2001", named="Saltbush") == MemberChoice(
        lookup=nsw, candidates=(banksia,), named=Named.OTHER_STATE, named_division=saltbush
    )
    assert resolve_member(directory, "2001", named="Atlantis") == MemberChoice(
        lookup=nsw, candidates=(banksia,), named=Named.UNKNOWN
    )


def test_a_bad_postcode_or_state_is_the_lookups_error(directory: Directory) -> None:
    assert (
        resolve_member(directory, "200").error
        == "Enter a 4-digit postcode (for example 0200 rather than 200)."
    )
    mismatch = resolve_member(directory, "3001", "NSW", named="Saltbush")
    assert mismatch.error is not None and "VIC" in mismatch.error
    assert mismatch.chosen is None and mismatch.candidates == ()
