"""Current federal divisions, their members, and the postcode -> division lookup."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from letters.domain.people import SURNAME_PARTICLES

DIRECTORY_FILENAME = "directory.json"
FORMAT_VERSION = 1
AEC_FINDER_URL = "https://electorate.aec.gov.au/"

STATES = ("NSW", "VIC", "QLD", "SA", "WA", "TAS", "ACT", "NT")

_STATE_ALIASES = {
    "nsw": "NSW",
    "new south wales": "NSW",
    "vic": "VIC",
    "victoria": "VIC",
    "qld": "QLD",
    "queensland": "QLD",
    "sa": "SA",
    "south australia": "SA",
    "wa": "WA",
    "western australia": "WA",
    "tas": "TAS",
    "tasmania": "TAS",
    "act": "ACT",
    "australian capital territory": "ACT",
    "nt": "NT",
    "northern territory": "NT",
}

# Australia Post's allocation of postcode ranges to states; only a fallback for
# postcodes or divisions the electoral data cannot place.
_POSTCODE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "NSW": ((1000, 2599), (2619, 2899), (2921, 2999)),
    "ACT": ((200, 299), (2600, 2618), (2900, 2920)),
    "VIC": ((3000, 3999), (8000, 8999)),
    "QLD": ((4000, 4999), (9000, 9999)),
    "SA": ((5000, 5999),),
    "WA": ((6000, 6999),),
    "TAS": ((7000, 7999),),
    "NT": ((800, 999),),
}

_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "rev", "hon"}
)
_POST_NOMINALS = frozenset({"MP", "AM", "AO", "AC", "OAM", "PSM", "CSC", "QC", "KC", "SC"})


class DirectoryError(ValueError):
    """The stored directory file exists but cannot be used."""


def normalise_state(value: str) -> str | None:
    """Map any common spelling ("Vic.", "Qld", "victoria") to a state code, else None."""
    key = " ".join(value.replace(".", " ").split()).lower()
    return _STATE_ALIASES.get(key)


def states_for_postcode_range(postcode: str) -> frozenset[str]:
    """States whose Australia Post range contains the postcode (usually exactly one)."""
    try:
        number = int(postcode)
    except ValueError:
        return frozenset()
    return frozenset(
        state
        for state, ranges in _POSTCODE_RANGES.items()
        if any(low <= number <= high for low, high in ranges)
    )


def strip_title(name: str) -> str:
    """Drop leading titles ("Mr", "the Hon.") and trailing post-nominals ("MP") from a name."""
    tokens = name.split()
    while len(tokens) > 2 and (
        tokens[0].rstrip(".").lower() in _TITLES
        or (tokens[0].lower() == "the" and tokens[1].rstrip(".").lower() == "hon")
    ):
        tokens.pop(0)
    while len(tokens) > 2 and tokens[-1].rstrip(".,") in _POST_NOMINALS:
        tokens.pop()
    return " ".join(tokens)


def display_name(name: str) -> str:
    """First given name + surname, no title: "David Philip Benedict Smith" -> "David Smith"."""
    tokens = strip_title(name).split()
    if len(tokens) <= 2:
        return " ".join(tokens)
    surname_start = len(tokens) - 1
    for index in range(1, len(tokens) - 1):
        if tokens[index] in SURNAME_PARTICLES:
            surname_start = index
            break
    return " ".join([tokens[0], *tokens[surname_start:]])


@dataclass(frozen=True)
class Member:
    """A sitting member of the House of Representatives."""

    name: str  # full name as the source gives it, title stripped
    display_name: str  # how letters address them, e.g. "Tony Burke"
    party: str  # the source's party code, e.g. "ALP", "IND", "SPK" (the Speaker)
    division: str
    state: str
    since: dt.date
    aph_id: str | None = None


@dataclass(frozen=True)
class Division:
    """A federal electoral division and its current member (None if it has none)."""

    name: str
    state: str
    member: Member | None
    likely: bool = True  # in a lookup: False for "somewhere else in your state" fallbacks


@dataclass
class Lookup:
    """The answer to "who represents postcode X?"."""

    postcode: str
    state: str | None = None
    divisions: list[Division] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """The API shape: postcode, divisions, notes, and error only when there is one."""
        result: dict[str, Any] = {
            "postcode": self.postcode,
            "divisions": [
                {
                    "name": division.name,
                    "state": division.state,
                    "likely": division.likely,
                    "member": (
                        {"name": division.member.display_name, "party": division.member.party}
                        if division.member
                        else None
                    ),
                }
                for division in self.divisions
            ],
            "notes": list(self.notes),
        }
        if self.error is not None:
            result["error"] = self.error
        return result


@dataclass
class Directory:
    """Current divisions by name, plus the postcode index and where the data came from."""

    divisions: dict[str, Division]
    postcodes: dict[str, tuple[str, ...]]
    # Every division that ever had a member, so abolished ones can still be placed in a state.
    division_states: dict[str, str]
    source: str
    as_of: dt.date
    refreshed_at: dt.datetime
    _neighbours: dict[str, Counter[str]] = field(init=False, repr=False, compare=False)
    _unindexed: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Precompute what lookups of abolished or unindexed divisions need."""
        neighbours: dict[str, Counter[str]] = defaultdict(Counter)
        indexed: set[str] = set()
        for names in self.postcodes.values():
            indexed.update(names)
            for name in names:
                if name not in self.divisions:
                    neighbours[name].update(n for n in names if n in self.divisions)
        self._neighbours = dict(neighbours)
        unindexed: dict[str, list[str]] = defaultdict(list)
        for name in sorted(set(self.divisions) - indexed):
            unindexed[self.divisions[name].state].append(name)
        self._unindexed = {state: tuple(names) for state, names in unindexed.items()}

    @property
    def members(self) -> list[Member]:
        """Every current member, ordered by division."""
        return [d.member for _, d in sorted(self.divisions.items()) if d.member is not None]

    def division(self, name: str) -> Division | None:
        """The current division of that name (case-insensitive), if any."""
        found = self.divisions.get(name)
        if found is None:
            wanted = name.strip().casefold()
            found = next((d for n, d in self.divisions.items() if n.casefold() == wanted), None)
        return found

    def state_of(self, division: str) -> str | None:
        """The state of a current or abolished division, if known."""
        current = self.divisions.get(division)
        return current.state if current else self.division_states.get(division)

    def postcode_states(self, postcode: str) -> frozenset[str]:
        """States the postcode lies in according to its divisions, else Australia Post ranges."""
        states = {self.state_of(name) for name in self.postcodes.get(postcode, ())}
        known = frozenset(state for state in states if state)
        return known or states_for_postcode_range(postcode)

    def lookup(self, postcode: str, state: str | None = None) -> Lookup:
        """Candidate current divisions for a postcode (optionally within one state)."""
        code = "".join(postcode.split())
        if not re.fullmatch(r"\d{4}", code):
            hint = (
                f" (for example 0{code} rather than {code})" if re.fullmatch(r"\d{3}", code) else ""
            )
            return Lookup(postcode=code, error=f"Enter a 4-digit postcode{hint}.")

        wanted: str | None = None
        if state is not None and state.strip():
            wanted = normalise_state(state)
            if wanted is None:
                return Lookup(
                    postcode=code,
                    error=f"Unknown state {state.strip()!r}: use one of {', '.join(STATES)}.",
                )

        names = self.postcodes.get(code)
        if wanted is not None:
            in_states = self.postcode_states(code)
            if in_states and wanted not in in_states:
                return Lookup(
                    postcode=code,
                    state=wanted,
                    error=(
                        f"Postcode {code} is in {' / '.join(sorted(in_states))}, not {wanted}. "
                        "Check the postcode and the state."
                    ),
                )
        if not names:
            return Lookup(
                postcode=code,
                state=wanted,
                error=(
                    f"We don't know postcode {code}. Check it, or find your electorate "
                    f"at {AEC_FINDER_URL}"
                ),
            )

        if wanted is not None:
            # A border postcode (e.g. one shared by NSW and the ACT) narrowed to the chosen state.
            names = tuple(n for n in names if self.state_of(n) in (wanted, None))
        current = sorted(n for n in names if n in self.divisions)
        defunct = sorted(n for n in names if n not in self.divisions)
        notes: list[str] = []
        if defunct:
            divisions = self._with_state_fallback(code, current, defunct, wanted, notes)
        else:
            divisions = [self.divisions[n] for n in current]
            if len(divisions) > 1:
                notes.append(
                    f"Postcode {code} is split between {len(divisions)} divisions. Pick yours, "
                    f"or enter your address at the AEC's electorate finder: {AEC_FINDER_URL}"
                )
        self._note_unindexed(divisions, notes)
        states = {d.state for d in divisions}
        return Lookup(
            postcode=code,
            state=wanted or (states.pop() if len(states) == 1 else None),
            divisions=divisions,
            notes=notes,
        )

    def _with_state_fallback(
        self,
        code: str,
        current: list[str],
        defunct: list[str],
        wanted: str | None,
        notes: list[str],
    ) -> list[Division]:
        """Replace abolished divisions with their state's current ones, likely ones first."""
        states: set[str] = set()
        for name in defunct:
            division_state = self.state_of(name)
            if division_state:
                states.add(division_state)
            else:
                states.update(states_for_postcode_range(code))
        if wanted is not None:
            # lookup() has refused a state the postcode is not in and dropped old divisions
            # placed in other states, so the supporter's state is the one; outside every
            # postcode range it is also the only clue there is.
            states = {wanted}
        states.update(self.divisions[n].state for n in current)

        # Likely: current divisions sharing this postcode, then those sharing the old
        # division's other postcodes (where its territory most probably went in 2024).
        likely_rank: dict[str, int] = {name: 1_000_000 for name in current}
        for name in defunct:
            for neighbour, shared in self._neighbours.get(name, Counter()).items():
                likely_rank[neighbour] = max(likely_rank.get(neighbour, 0), shared)
        ranked = sorted(
            (d for d in self.divisions.values() if d.state in states),
            key=lambda d: (d.name not in likely_rank, -likely_rank.get(d.name, 0), d.name),
        )
        divisions = [replace(d, likely=d.name in likely_rank) for d in ranked]

        where = f"the current {' / '.join(sorted(states))}" if states else "your state's current"
        for name in defunct:
            notes.append(
                f"Our postcode data lists {name} for {code}, but {name} no longer exists as a "
                "federal division (it has no current member): boundaries changed in the 2024 "
                f"redistribution. Choose yours from {where} divisions "
                f"(the likely ones come first), or check {AEC_FINDER_URL}"
            )
        return divisions

    def _note_unindexed(self, divisions: list[Division], notes: list[str]) -> None:
        """Warn when the postcode data cannot point at a state's newer divisions (e.g. 2024)."""
        offered = {d.name for d in divisions}
        for state in sorted({d.state for d in divisions}):
            missing = [n for n in self._unindexed.get(state, ()) if n not in offered]
            if missing:
                listed = ", ".join(missing)
                notes.append(
                    f"Our postcode data predates {listed} ({state}), created in a later "
                    f"redistribution, so your division could be {listed}: check {AEC_FINDER_URL}"
                )

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form (see from_dict)."""
        return {
            "format": FORMAT_VERSION,
            "source": self.source,
            "as_of": self.as_of.isoformat(),
            "refreshed_at": self.refreshed_at.isoformat(),
            "divisions": [
                {
                    "name": d.name,
                    "state": d.state,
                    "member": _member_to_dict(d.member) if d.member else None,
                }
                for _, d in sorted(self.divisions.items())
            ],
            "division_states": dict(sorted(self.division_states.items())),
            "postcodes": {code: list(names) for code, names in sorted(self.postcodes.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Directory:
        """Rebuild a Directory from its stored JSON form."""
        if data.get("format") != FORMAT_VERSION:
            raise DirectoryError(
                f"unsupported directory format {data.get('format')!r} (expected {FORMAT_VERSION}); "
                "run `letters data refresh` again"
            )
        try:
            divisions = {}
            for item in data["divisions"]:
                member = item.get("member")
                divisions[item["name"]] = Division(
                    name=item["name"],
                    state=item["state"],
                    member=_member_from_dict(member, item["name"], item["state"])
                    if member
                    else None,
                )
            return cls(
                divisions=divisions,
                postcodes={code: tuple(names) for code, names in data["postcodes"].items()},
                division_states=dict(data["division_states"]),
                source=data["source"],
                as_of=dt.date.fromisoformat(data["as_of"]),
                refreshed_at=dt.datetime.fromisoformat(data["refreshed_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DirectoryError(f"malformed directory data: {exc!r}") from exc


def _member_to_dict(member: Member) -> dict[str, Any]:
    """A member's stored form (division and state live on the division)."""
    return {
        "name": member.name,
        "display_name": member.display_name,
        "party": member.party,
        "since": member.since.isoformat(),
        "aph_id": member.aph_id,
    }


def _member_from_dict(data: dict[str, Any], division: str, state: str) -> Member:
    """Inverse of _member_to_dict."""
    return Member(
        name=data["name"],
        display_name=data["display_name"],
        party=data["party"],
        division=division,
        state=state,
        since=dt.date.fromisoformat(data["since"]),
        aph_id=data.get("aph_id"),
    )


# Parsed directories keyed on resolved file path; each entry remembers the file's
# identity so a refresh (os.replace -> new inode and mtime) is picked up without a restart.
_cache: dict[Path, tuple[tuple[int, int, int], Directory]] = {}
_cache_lock = threading.Lock()


def directory_path(data_dir: Path) -> Path:
    """Where the refreshed directory lives inside the data folder."""
    return Path(data_dir) / DIRECTORY_FILENAME


def load_directory(data_dir: Path) -> Directory | None:
    """The refreshed directory in data_dir, or None if `letters data refresh` never ran."""
    path = directory_path(data_dir).resolve()
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    identity = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == identity:
            return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DirectoryError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise DirectoryError(f"{path} does not hold a directory object")
    directory = Directory.from_dict(data)
    with _cache_lock:
        _cache[path] = (identity, directory)
    return directory
