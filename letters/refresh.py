"""`letters data refresh`: fetch OpenAustralia's CSVs, validate them, store the directory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from letters import clock
from letters.domain.directory import (
    Directory,
    Division,
    Member,
    directory_path,
    display_name,
    normalise_state,
    strip_title,
)

DEFAULT_SOURCE = "https://raw.githubusercontent.com/openaustralia/openaustralia-parser/main/data"
SOURCE_FILES = ("representatives.csv", "people.csv", "postcodes.csv")
FETCH_TIMEOUT_SECONDS = 30
CURRENT_REASON = "still_in_office"
_MAX_LISTED = 20  # keep error messages readable when a whole file is wrong


class RefreshError(Exception):
    """The source could not be fetched or failed validation; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:_MAX_LISTED]
        more = len(self.problems) - len(shown)
        lines = ["Refresh failed; the previous data (if any) was left untouched:"]
        lines += [f"  - {problem}" for problem in shown]
        if more > 0:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Plausibility:
    """Bounds a refreshed data set must meet; the defaults fit the real House of 150."""

    min_members: int = 140
    max_members: int = 160
    min_postcodes: int = 2000


@dataclass
class RefreshReport:
    """What a refresh stored, for the CLI to print."""

    source: str
    path: Path
    as_of: dt.date
    refreshed_at: dt.datetime
    divisions: int
    members: int
    postcodes: int
    split_postcodes: int  # postcodes in more than one division
    divisions_without_member: list[str]  # named in postcode data, no current member
    divisions_without_postcodes: list[str]  # current, but absent from postcode data
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Human-readable lines for the CLI."""
        lines = [
            f"Refreshed from {self.source}",
            f"Wrote {self.path} (data as of {self.as_of.isoformat()})",
            f"{self.divisions} current divisions, {self.members} members",
            f"{self.postcodes} postcodes, {self.split_postcodes} split between several divisions",
        ]
        if self.divisions_without_member:
            lines.append(
                f"{len(self.divisions_without_member)} division(s) in postcode data with no "
                f"current member: {', '.join(self.divisions_without_member)}"
            )
        if self.divisions_without_postcodes:
            lines.append(
                f"{len(self.divisions_without_postcodes)} current division(s) missing from "
                f"postcode data: {', '.join(self.divisions_without_postcodes)}"
            )
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def refresh(
    source: str,
    data_dir: Path,
    *,
    now: dt.datetime | None = None,
    plausibility: Plausibility | None = None,
) -> RefreshReport:
    """Fetch, validate and atomically store the directory; raise RefreshError on any problem.

    `source` is a folder or an http(s) base URL (DEFAULT_SOURCE is the upstream one).
    """
    now = now or clock.now()
    texts, source_label = _fetch_all(source)
    directory, warnings = build_directory(
        texts, source=source_label, now=now, plausibility=plausibility or Plausibility()
    )
    path = directory_path(Path(data_dir))
    _write_atomically(path, json.dumps(directory.to_dict(), ensure_ascii=False, indent=1))
    in_postcodes = {name for names in directory.postcodes.values() for name in names}
    return RefreshReport(
        source=source_label,
        path=path,
        as_of=directory.as_of,
        refreshed_at=directory.refreshed_at,
        divisions=len(directory.divisions),
        members=len(directory.members),
        postcodes=len(directory.postcodes),
        split_postcodes=sum(1 for names in directory.postcodes.values() if len(names) > 1),
        divisions_without_member=sorted(in_postcodes - set(directory.divisions)),
        divisions_without_postcodes=sorted(set(directory.divisions) - in_postcodes),
        warnings=warnings,
    )


def _fetch_all(source: str) -> tuple[dict[str, str], str]:
    """Read the three CSVs from a folder or an http(s) base URL."""
    texts: dict[str, str] = {}
    problems: list[str] = []
    if re.match(r"https?://", source, re.IGNORECASE):
        base = source.rstrip("/")
        for name in SOURCE_FILES:
            url = f"{base}/{name}"
            try:
                texts[name] = _fetch_url(url)
            except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
                problems.append(f"could not fetch {url}: {exc}")
        label = base
    else:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise RefreshError([f"{source!r} is neither a folder nor an http(s) URL"])
        for name in SOURCE_FILES:
            try:
                texts[name] = (folder / name).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"could not read {folder / name}: {exc}")
        label = str(folder.resolve())
    if problems:
        raise RefreshError(problems)
    return texts, label


def _fetch_url(url: str) -> str:
    """GET one file with a timeout; the scheme was checked to be http(s) by the caller."""
    request = urllib.request.Request(url, headers={"User-Agent": "letters-data-refresh"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        return response.read().decode("utf-8-sig")


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and os.replace, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def parse_date(value: str) -> dt.date | None:
    """Parse the source's D.M.YYYY dates (leading zeros optional); None if blank or invalid."""
    match = re.fullmatch(r"\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*", value)
    if not match:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _rows(
    text: str, filename: str, required: tuple[str, ...]
) -> tuple[dict[str, int], list[list[str]]]:
    """Header column indexes and the data rows, skipping blank and `#` comment lines."""
    rows = list(csv.reader(io.StringIO(text)))
    header_at = next((i for i, row in enumerate(rows) if any(cell.strip() for cell in row)), None)
    if header_at is None:
        raise RefreshError([f"{filename} is empty"])
    header: dict[str, int] = {}
    for index, cell in enumerate(rows[header_at]):
        header.setdefault(cell.strip().lower(), index)
    missing = [column for column in required if column not in header]
    if missing:
        raise RefreshError([f"{filename} lacks column(s) {', '.join(missing)}"])
    data = [
        row
        for row in rows[header_at + 1 :]
        if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")
    ]
    return header, data


def _cell(row: list[str], index: int) -> str:
    """A stripped cell, or "" when the row is short."""
    return row[index].strip() if index < len(row) else ""


def _name_key(name: str) -> str:
    """Compare names ignoring titles, case and spacing."""
    return " ".join(strip_title(name).split()).casefold()


def _known_as(people_text: str) -> dict[str, tuple[str, str | None]]:
    """Map every spelling in people.csv to that person's preferred name and APH id."""
    header, rows = _rows(people_text, "people.csv", ("person count", "aph id", "name", "alt name"))
    name_at, alt_at, aph_at = header["name"], header["alt name"], header["aph id"]
    spellings: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for row in rows:
        if not _cell(row, header["person count"]).isdigit():
            continue
        preferred = strip_title(_cell(row, name_at))
        if not preferred:
            continue
        person = (preferred, _cell(row, aph_at) or None)
        # The columns after "alt name" are unnamed further alternatives.
        for spelling in [_cell(row, name_at), *(c.strip() for c in row[alt_at:])]:
            if spelling:
                spellings[_name_key(spelling)].add(person)
    # A spelling shared by two people (two "Robert Brown"s) identifies nobody.
    return {key: next(iter(people)) for key, people in spellings.items() if len(people) == 1}


def build_directory(
    texts: dict[str, str], *, source: str, now: dt.datetime, plausibility: Plausibility
) -> tuple[Directory, list[str]]:
    """Parse and validate the three CSV texts; raise RefreshError listing every problem."""
    problems: list[str] = []
    warnings: list[str] = []
    known_as = _known_as(texts["people.csv"])

    header, rows = _rows(
        texts["representatives.csv"],
        "representatives.csv",
        ("name", "division", "state/territory", "date of election", "reason", "most recent party"),
    )
    col = header
    ceased_at = col.get("date ceased to be a member")
    today = now.date()

    latest_state: dict[str, tuple[dt.date, str]] = {}
    current: dict[str, list[Member]] = defaultdict(list)
    as_of = dt.date.min
    for row in rows:
        name = strip_title(_cell(row, col["name"]))
        division = _cell(row, col["division"])
        raw_state = _cell(row, col["state/territory"])
        state = normalise_state(raw_state)
        elected = parse_date(_cell(row, col["date of election"]))
        ceased = parse_date(_cell(row, ceased_at)) if ceased_at is not None else None
        is_current = _cell(row, col["reason"]).lower() == CURRENT_REASON
        where = f"representatives.csv row {row[0].strip()!r} ({name or '?'}, {division or '?'})"
        # Future dates are typos, not news: they must not push "as of" forward.
        for date in (elected, ceased):
            if date is not None and date <= today:
                as_of = max(as_of, date)
        if state is None or not division:
            (problems if is_current else warnings).append(
                f"{where}: unknown state {raw_state!r}" if division else f"{where}: no division"
            )
            continue
        seen = latest_state.get(division)
        if seen is None or (elected or dt.date.min) >= seen[0]:
            latest_state[division] = (elected or dt.date.min, state)
        if not is_current:
            continue
        if not name:
            problems.append(f"{where}: current member has no name")
            continue
        if elected is None:
            problems.append(f"{where}: unreadable date of election")
            continue
        if ceased is not None:
            warnings.append(f"{where}: marked still in office but has a date ceased")
        preferred, aph_id = known_as.get(_name_key(name), (name, None))
        current[division].append(
            Member(
                name=name,
                display_name=display_name(preferred),
                party=_cell(row, col["most recent party"]),
                division=division,
                state=state,
                since=elected,
                aph_id=aph_id,
            )
        )

    for division, members in sorted(current.items()):
        if len(members) > 1:
            names = "; ".join(m.name for m in members)
            problems.append(f"division {division} has {len(members)} current members: {names}")
    count = len(current)
    if not plausibility.min_members <= count <= plausibility.max_members:
        problems.append(
            f"{count} current members, expected between {plausibility.min_members} and "
            f"{plausibility.max_members}"
        )

    postcodes = _postcode_index(texts["postcodes.csv"], problems)
    if len(postcodes) < plausibility.min_postcodes:
        problems.append(
            f"{len(postcodes)} postcodes, expected at least {plausibility.min_postcodes}"
        )
    if problems:
        raise RefreshError(problems)

    division_states = {name: state for name, (_, state) in latest_state.items()}
    divisions = {
        name: Division(name=name, state=members[0].state, member=members[0])
        for name, members in current.items()
    }
    in_postcodes = {name for names in postcodes.values() for name in names}
    unplaced = sorted(in_postcodes - set(division_states))
    if unplaced:
        warnings.append(
            "postcode data names division(s) never seen in representatives.csv (placed by "
            f"postcode range instead): {', '.join(unplaced)}"
        )
    directory = Directory(
        divisions=divisions,
        postcodes=postcodes,
        division_states=division_states,
        source=source,
        as_of=as_of if as_of > dt.date.min else today,
        refreshed_at=now,
    )
    return directory, warnings


def _postcode_index(text: str, problems: list[str]) -> dict[str, tuple[str, ...]]:
    """postcode -> division names, reporting malformed rows as problems."""
    header, rows = _rows(text, "postcodes.csv", ("postcode", "electorate"))
    index: dict[str, list[str]] = defaultdict(list)
    bad: Counter[str] = Counter()
    for row in rows:
        code = "".join(_cell(row, header["postcode"]).split())
        division = _cell(row, header["electorate"])
        if not re.fullmatch(r"\d{4}", code) or not division:
            bad[",".join(row)] += 1
            continue
        if division not in index[code]:
            index[code].append(division)
    problems.extend(f"postcodes.csv: malformed row {row!r}" for row in bad)
    return {code: tuple(sorted(names)) for code, names in index.items()}
