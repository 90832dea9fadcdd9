"""Attendee spreadsheets: read what organisers export, check every cell, report by row and column.

Plain Python: the web import, `letters batch-pdf` and the tests all call read_attendees(), which
never raises for bad data. It returns the rows it could use and a list of problems, each naming
the spreadsheet row (the header is row 1, as Excel numbers it) and the column.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from letters.domain import members, people
from letters.domain.campaign import Campaign
from letters.domain.compose import Letter, Recipient, Sender, compose, stored_choices
from letters.domain.directory import Directory, Division, normalise_state, strip_title
from letters.domain.members import MemberChoice, Named, resolve_member

COLUMNS = (
    "name",
    "email",
    "street",
    "suburb",
    "state",
    "postcode",
    "division",
    "statistics",
    "recommendations",
    "personal_note",
    "may_follow_up",
)
REQUIRED = ("name", "postcode")
# Headings people actually type, mapped to ours (after lower-casing and joining words with "_").
ALIASES = {
    "full_name": "name",
    "attendee": "name",
    "email_address": "email",
    "e_mail": "email",
    "address": "street",
    "street_address": "street",
    "address_line_1": "street",
    "town": "suburb",
    "suburb_or_town": "suburb",
    "city": "suburb",
    "post_code": "postcode",
    "postal_code": "postcode",
    "electorate": "division",
    "federal_electorate": "division",
    "statistic": "statistics",
    "facts": "statistics",
    "recommendation": "recommendations",
    "note": "personal_note",
    "notes": "personal_note",
    "personal_notes": "personal_note",
    "own_words": "personal_note",
    "follow_up": "may_follow_up",
    "may_ask": "may_follow_up",
    "consent": "may_follow_up",
    "may_email": "may_follow_up",
}
# The may_follow_up column: whether the attendee ticked that they may be emailed later to be
# asked whether their MP replied. Blank is no: consent is never assumed.
YES = ("yes", "y", "true", "1")
NO = ("no", "n", "false", "0", "")
MAX_ROWS = 100_000
# Problems kept in a report, which pages and downloads show: a file of 100,000 bad rows has
# half a million, and a report that kept them all would grow with the file.
MAX_PROBLEMS_KEPT = 1_000
_DELIMITERS = (",", ";", "\t")
_KEY_SPLIT = re.compile(r"[;,\n|]+")
# A line ends only at CR, LF or CRLF, as in every spreadsheet's CSV: str.splitlines() would
# also end one at U+2028, NEL and the other Unicode separators and split a person in two.
_CSV_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
# Cells a spreadsheet would run as a formula (OWASP's list, plus the full-width forms Excel
# also accepts). See spreadsheet_safe().
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@dataclass(frozen=True)
class Problem:
    """Something wrong with the file, a row or a cell; a warning still imports the row."""

    row: int | None  # the spreadsheet's row number; None for the whole file
    column: str | None
    message: str
    error: bool = True
    skipped: bool = False  # a duplicate of someone already there: not imported, not an error

    @property
    def where(self) -> str:
        """'row 7, postcode', 'row 7' or 'file'."""
        if self.row is None:
            return f"column {self.column}" if self.column else "file"
        return f"row {self.row}, {self.column}" if self.column else f"row {self.row}"


def person_keys(name: str, email: str, postcode: str) -> set[tuple[str, str]]:
    """What makes two attendee rows one person: their email, or their name and postcode."""
    keys = {("name", " ".join(name.split()).casefold() + "|" + postcode.strip())}
    if email.strip():
        keys.add(("email", email.strip().casefold()))
    return keys


@dataclass
class AttendeeRow:
    """One usable row: the person, their choices, and their division once settled."""

    row: int
    name: str
    postcode: str
    email: str = ""
    street: str = ""
    suburb: str = ""
    state: str = ""
    division: str = ""  # empty until settled
    division_state: str = ""
    member_name: str = ""
    member_party: str = ""
    statistics: tuple[str, ...] = ()  # empty: the campaign's defaults
    recommendations: tuple[str, ...] = ()
    personal_note: str = ""
    may_follow_up: bool = False  # agreed to be asked later whether the member replied
    candidates: tuple[str, ...] = ()  # divisions the organiser chooses from, when unsettled

    @property
    def settled(self) -> bool:
        """True when the row knows its division and member."""
        return bool(self.division and self.member_name)

    def settle(self, division: Division) -> None:
        """Write to this division's current member."""
        members.settle(self, division)
        self.candidates = ()


@dataclass
class ImportReport:
    """What read_attendees() made of a file."""

    rows: list[AttendeeRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""
    columns: tuple[str, ...] = ()
    data_rows: int = 0  # rows with anything in them, good or bad
    blank_rows: int = 0
    # Beyond MAX_PROBLEMS_KEPT only counted: how many, and the rows their errors left out.
    errors_not_kept: int = 0
    warnings_not_kept: int = 0
    rows_rejected_not_kept: set[int] = field(default_factory=set)
    skipped: int = 0  # rows left out as people already in the event, or earlier in the file

    def add(self, problems: Iterable[Problem]) -> None:
        """Record one row's problems: kept while there is room, else only counted."""
        for problem in problems:
            if len(self.problems) < MAX_PROBLEMS_KEPT:
                self.problems.append(problem)
            elif problem.error:
                self.errors_not_kept += 1
                if problem.row is not None:
                    self.rows_rejected_not_kept.add(problem.row)
            else:
                self.warnings_not_kept += 1

    @property
    def problems_not_kept(self) -> int:
        return self.errors_not_kept + self.warnings_not_kept

    @property
    def errors(self) -> list[Problem]:
        """The errors kept (error_count counts them all)."""
        return [p for p in self.problems if p.error]

    @property
    def warnings(self) -> list[Problem]:
        """The warnings kept (warning_count counts them all)."""
        return [p for p in self.problems if not p.error]

    @property
    def error_count(self) -> int:
        return len(self.errors) + self.errors_not_kept

    @property
    def warning_count(self) -> int:
        return len(self.warnings) + self.warnings_not_kept

    @property
    def rejected_rows(self) -> list[int]:
        """Row numbers left out because of an error in them."""
        kept = {p.row for p in self.problems if p.error and p.row is not None}
        return sorted(kept | self.rows_rejected_not_kept)

    @property
    def file_errors(self) -> list[Problem]:
        """Errors about the whole file (e.g. a missing column): then no row is imported."""
        return [p for p in self.problems if p.error and p.row is None]

    @property
    def to_settle(self) -> list[AttendeeRow]:
        return [r for r in self.rows if not r.settled]

    def skip_duplicates(self, existing: Iterable[tuple[str, str, str]]) -> None:
        """Leave out rows for people already in the event (name, email, postcode each), or
        already earlier in this file: the same email, or the same name and postcode.

        Importing one list twice, or a list that overlaps the kiosk's letters, would otherwise
        print two letters from one person.
        """
        seen: dict[tuple[str, str], int | None] = {}
        for name, email, postcode in existing:
            seen.update(dict.fromkeys(person_keys(name, email, postcode)))
        kept = []
        for row in self.rows:
            keys = person_keys(row.name, row.email, row.postcode)
            # An email is the surer match, so it is the one named when both match.
            first = next((k for k in sorted(keys) if k in seen), None)  # "email" < "name"
            if first is None:
                seen.update(dict.fromkeys(keys, row.row))
                kept.append(row)
                continue
            earlier = seen[first]
            where = f"row {earlier} of this file" if earlier else "this event already"
            same = "email address" if first[0] == "email" else "name and postcode"
            self.skipped += 1
            self.add(
                [
                    Problem(
                        row.row,
                        None,
                        f"{row.name} ({row.postcode}) has the same {same} as {where}: "
                        "not imported again.",
                        error=False,
                        skipped=True,
                    )
                ]
            )
        self.rows = kept

    def summary(self) -> str:
        """One line for people: how many rows, imported, left out, to settle."""
        parts = [f"{self.data_rows:,} rows read", f"{len(self.rows):,} imported"]
        if self.skipped:
            parts.append(f"{self.skipped:,} skipped as already there")
        if self.rejected_rows:
            parts.append(f"{len(self.rejected_rows):,} left out because of errors")
        if self.to_settle:
            parts.append(f"{len(self.to_settle):,} need their division chosen")
        if self.blank_rows:
            parts.append(f"{self.blank_rows:,} blank rows skipped")
        return ", ".join(parts) + "."


def decode(data: bytes) -> tuple[str, str, list[Problem]]:
    """Bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8 (with BOM)", []
        except UnicodeDecodeError as exc:
            return "", "", [Problem(None, None, f"The file says it is UTF-8 but is not: {exc}.")]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        try:
            return data.decode("utf-16"), "UTF-16", []
        except UnicodeDecodeError as exc:
            return "", "", [Problem(None, None, f"The file says it is UTF-16 but is not: {exc}.")]
    try:
        return data.decode("utf-8"), "UTF-8", []
    except UnicodeDecodeError:
        pass
    # Not UTF-8: Excel's "CSV (Comma delimited)" on Windows writes Windows-1252, which is
    # Latin-1 plus curly quotes and dashes. Latin-1 itself decodes any byte, so it is the last
    # resort; either way the organiser is told, because a guess can be wrong.
    try:
        text, encoding = data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "Latin-1"
    warning = Problem(
        None,
        None,
        f"The file is not UTF-8, so it was read as {encoding} (what Excel uses for "
        "'CSV (Comma delimited)'). Check that accented names look right below; if not, "
        "save it again as 'CSV UTF-8'.",
        error=False,
    )
    return text, encoding, [warning]


def normalise_heading(heading: str) -> str:
    """'Post Code ' -> 'postcode', 'Personal note' -> 'personal_note'."""
    key = re.sub(r"[^0-9a-z]+", "_", heading.strip().lower()).strip("_")
    return ALIASES.get(key, key)


def _split_header(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def sniff_delimiter(header_line: str) -> str:
    """The separator that splits the header into the most known column names."""

    def score(delimiter: str) -> tuple[int, int]:
        cells = _split_header(header_line, delimiter)
        known = sum(1 for cell in cells if normalise_heading(cell) in COLUMNS)
        return known, len(cells)

    return max(_DELIMITERS, key=score)


def _column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how the organiser's spreadsheet names the column."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def read_attendees(
    data: bytes,
    campaign: Campaign,
    directory: Directory,
    *,
    max_rows: int = MAX_ROWS,
) -> ImportReport:
    """Check every row of an attendee CSV; keep the good ones, report every problem."""
    report = ImportReport()
    if data.startswith(b"PK\x03\x04"):
        report.problems.append(
            Problem(None, None, "This is an Excel workbook (.xlsx), not CSV: save it as CSV first.")
        )
        return report
    text, report.encoding, problems = decode(data)
    report.problems += problems
    if report.file_errors:  # a byte order mark the bytes do not match: there is no text
        return report
    if "\x00" in text:
        report.problems.append(Problem(None, None, "This is not a text file (it holds NUL bytes)."))
        return report
    lines = _lines(text)
    # Excel's "sep=;" hint line, which Excel itself hides.
    if lines and re.fullmatch(r"sep=(.)\r?\n?", lines[0]):
        report.delimiter = lines[0][4]
        lines = lines[1:]
    # Blank lines above the header are rows of the organiser's spreadsheet all the same: rows
    # are numbered as it shows them.
    header_row = 1
    while lines and not lines[0].strip():
        lines = lines[1:]
        header_row += 1
    if not lines:
        report.problems.append(
            Problem(None, None, "The file is empty: it needs a header row and a row per person.")
        )
        return report
    report.delimiter = report.delimiter or sniff_delimiter(lines[0])
    reader = csv.reader(lines, delimiter=report.delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        report.problems.append(
            Problem(
                None,
                None,
                f"The header row's quoting is broken ({exc}), so no row could be read. Look "
                'for a quote mark (") in the first row that is never closed.',
            )
        )
        return report
    columns = _read_header(header, report)
    if report.file_errors:
        return report
    checker = _RowChecker(campaign, directory, columns, len(header))
    row_number = header_row
    try:
        for cells in reader:
            row_number += 1
            if not any(cell.strip() for cell in cells):
                report.blank_rows += 1
                continue
            report.data_rows += 1
            if report.data_rows > max_rows:
                report.problems.append(
                    Problem(
                        row_number,
                        None,
                        f"Only {max_rows:,} rows can be imported at once; this row and the ones "
                        "after it were not read. Split the file.",
                    )
                )
                report.data_rows -= 1
                break
            row = checker.check(row_number, cells, report)
            if row is not None:
                report.rows.append(row)
    except csv.Error as exc:
        report.problems.append(
            Problem(
                row_number + 1,
                None,
                f"The file's quoting breaks here ({exc}); this row and the ones after it were "
                'not read. Look for a quote mark (") that is never closed.',
            )
        )
    report.problems.sort(key=lambda p: (p.row or 0, _column_order(p.column)))
    return report


def _quoted(value: str, limit: int = 40, *, quote: bool = True) -> str:
    """A cell's text for a message, cut short: a report quoting whole cells would grow with
    the file rather than with its problems."""
    short = value if len(value) <= limit else value[:limit] + "…"
    return repr(short) if quote else short


def _lines(text: str) -> list[str]:
    """The file's lines, each with its own line ending, split as a spreadsheet splits them."""
    lines = _CSV_LINE.findall(text)
    return lines[:-1] if lines and not lines[-1] else lines


def _column_order(column: str | None) -> int:
    return COLUMNS.index(column) if column in COLUMNS else -1


def _read_header(header: list[str], report: ImportReport) -> dict[str, int]:
    """Map our column names to their positions; report missing, repeated and unknown columns."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = normalise_heading(cell)
        if not key:
            continue
        where = f"{_column_letter(index)} ({_quoted(cell.strip())})"
        if key not in COLUMNS:
            report.add(
                [Problem(None, where, "This column is not one we use, so it was ignored.", False)]
            )
        elif key in columns:
            report.problems.append(
                Problem(
                    None,
                    where,
                    f"{key} appears twice (also column {_column_letter(columns[key])}): keep one.",
                )
            )
        else:
            columns[key] = index
    report.columns = tuple(columns)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        listed = ", ".join(missing)
        report.problems.append(
            Problem(
                None,
                None,
                f"Missing column{'s' if len(missing) > 1 else ''}: {listed}. The first row must "
                f"name the columns; ours are {', '.join(COLUMNS)} (only name and postcode are "
                "required).",
            )
        )
    return columns


class _Note(Protocol):
    """Records one problem for the row being checked."""

    def __call__(self, column: str | None, message: str, error: bool = True) -> None: ...


class _RowChecker:
    """Checks one row at a time; remembers whom each postcode writes to, which repeats a lot."""

    def __init__(
        self, campaign: Campaign, directory: Directory, columns: dict[str, int], width: int
    ) -> None:
        self.campaign = campaign
        self.directory = directory
        self.columns = columns
        self.width = width
        # Rows of one event share a few postcodes: each (postcode, state, division) once.
        self._choices: dict[tuple[str, str, str], MemberChoice] = {}

    def check(self, number: int, cells: list[str], report: ImportReport) -> AttendeeRow | None:
        found: list[Problem] = []

        def problem(column: str | None, message: str, error: bool = True) -> None:
            found.append(Problem(number, column, message, error))

        def cell(column: str) -> str:
            index = self.columns.get(column)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            extra = len(cells) - self.width
            problem(
                None,
                f"This row has {extra} more value{'s' if extra > 1 else ''} than the header has "
                "columns: a stray separator has probably shifted it.",
            )

        name = cell("name")
        if not name:
            problem("name", "The name is empty.")
        else:
            self._line(problem, people.NAME, name)

        email = cell("email")
        if email:
            email, email_problem = people.check_email(email)
            if email_problem == people.EMAIL_INVALID:
                problem("email", f"{_quoted(email)} is not an email address.")
            elif email_problem:
                problem("email", f"{_quoted(email)}: {email_problem}")

        street = cell("street")
        self._line(problem, people.STREET, street)
        suburb = cell("suburb")
        self._line(problem, people.SUBURB, suburb)

        state_text = cell("state")
        state = ""
        if state_text:
            state = normalise_state(state_text) or ""
            if not state:
                problem(
                    "state", f"{_quoted(state_text)} is not a state or territory (e.g. NSW, Vic)."
                )

        postcode = "".join(cell("postcode").split())
        if not postcode:
            problem("postcode", "The postcode is empty.")
        elif re.fullmatch(r"\d{3}", postcode):
            # Spreadsheets drop the leading zero of NT and some ACT postcodes (0800 -> 800).
            problem("postcode", f"Read {postcode} as 0{postcode}.", error=False)
            postcode = "0" + postcode
        elif not people.POSTCODE_PATTERN.match(postcode):
            problem("postcode", f"{_quoted(postcode)} is not a 4-digit postcode.")

        statistics = self._keys(
            problem, "statistics", cell("statistics"), self.campaign.statistic_keys
        )
        recommendations = self._keys(
            problem, "recommendations", cell("recommendations"), self.campaign.recommendation_keys
        )

        note = people.normalise_text(cell("personal_note"))
        note_problem = people.text_problem(note)
        if note_problem:
            problem("personal_note", note_problem)

        may_follow_up = self._consent(problem, cell("may_follow_up"), email)

        division_text = cell("division")
        division_problem = people.line_problem(division_text, people.DIVISION)
        if division_problem:
            problem("division", division_problem)
            division_text = ""

        row = AttendeeRow(
            row=number,
            name=name,
            postcode=postcode,
            email=email,
            street=street,
            suburb=suburb,
            state=state,
            statistics=statistics,
            recommendations=recommendations,
            personal_note=note,
            may_follow_up=may_follow_up,
        )
        if not any(p.error and p.column in ("postcode", "state") for p in found):
            self._resolve(row, division_text, problem)
        report.add(found)
        return None if any(p.error for p in found) else row

    @staticmethod
    def _line(problem: _Note, detail: people.Detail, value: str) -> None:
        found = people.line_problem(value, detail)
        if found:
            problem(detail.key, found)

    @staticmethod
    def _consent(problem: _Note, text: str, email: str) -> bool:
        """The may_follow_up cell: yes only when it plainly says so and there is an email to
        ask at. Anything else imports the row, not asked, with a warning saying why."""
        value = text.strip().lower()
        if value not in YES:
            if value not in NO:
                problem(
                    "may_follow_up",
                    f"{_quoted(text)} is not yes or no, so this attendee will not be asked "
                    "whether their MP replied (write yes, no, true, false, 1, 0, y or n).",
                    error=False,
                )
            return False
        if not email:
            problem(
                "may_follow_up",
                "Yes, but there is no email address to ask at, so this attendee will not be "
                "asked whether their MP replied: add their email to ask them.",
                error=False,
            )
            return False
        return True

    @staticmethod
    def _keys(problem: _Note, column: str, text: str, known: Sequence[str]) -> tuple[str, ...]:
        keys: list[str] = []
        for part in _KEY_SPLIT.split(text):
            key = part.strip().lower()
            if key and key not in keys:
                keys.append(key)
        unknown = [key for key in keys if key not in known]
        if unknown:
            problem(
                column,
                f"Unknown {column} key{'s' if len(unknown) > 1 else ''}: "
                f"{_quoted(', '.join(unknown), quote=False)}. "
                f"This campaign's are: {', '.join(known)} (leave it empty for the defaults).",
            )
        return tuple(key for key in keys if key in known)

    def _resolve(self, row: AttendeeRow, division_text: str, problem: _Note) -> None:
        """Settle the row's division when the data allows; otherwise list the candidates."""
        key = (row.postcode, row.state, division_text)
        choice = self._choices.get(key)
        if choice is None:
            choice = self._choices[key] = resolve_member(
                self.directory, row.postcode, row.state, division_text, trust_named_in_state=True
            )
        if choice.error:
            problem("postcode", choice.error)
            return
        row.candidates = tuple(d.name for d in choice.candidates)
        if choice.chosen is not None:
            row.settle(choice.chosen)
        given = choice.named_division
        if choice.named is Named.UNKNOWN:
            problem(
                "division",
                f"{_quoted(division_text)} is not a current federal division: choose one below.",
                error=False,
            )
        elif choice.named is Named.UNLISTED_IN_STATE and given is not None:
            problem(
                "division",
                f"Our postcode data does not list {given.name} for {row.postcode}; "
                f"kept {given.name} as the file says.",
                error=False,
            )
        elif choice.named is Named.OTHER_STATE and given is not None:
            problem(
                "division",
                f"{given.name} is in {given.state}, but postcode {row.postcode} is not: "
                "choose the division below.",
                error=False,
            )


class AttendeeLike(Protocol):
    """What a letter needs from an attendee: an AttendeeRow or the stored model."""

    name: str
    email: str
    street: str
    suburb: str
    state: str
    postcode: str
    division: str
    division_state: str
    member_name: str
    member_party: str
    personal_note: str
    may_follow_up: bool

    @property
    def statistics(self) -> Sequence[str]: ...

    @property
    def recommendations(self) -> Sequence[str]: ...


def letter_for_attendee(campaign: Campaign, attendee: AttendeeLike, date: dt.date) -> Letter:
    """The attendee's letter; no choices (or only dropped ones) means the campaign's defaults."""
    return compose(
        campaign,
        Sender(
            name=attendee.name,
            street=attendee.street,
            suburb=attendee.suburb,
            state=attendee.state or attendee.division_state,
            postcode=attendee.postcode,
            email=attendee.email,
        ),
        stored_choices(
            campaign, attendee.statistics, attendee.recommendations, attendee.personal_note
        ),
        recipient_for(attendee),
        today=date,
    )


def recipient_for(attendee: AttendeeLike) -> Recipient:
    """The member a settled attendee writes to."""
    return Recipient(
        name=attendee.member_name,
        division=attendee.division,
        state=attendee.division_state,
        party=attendee.member_party,
    )


def surname_key(name: str) -> str:
    """Sort key by surname: 'Dr Anna van Rijn' -> 'van rijn anna'."""
    tokens = strip_title(name).split()
    if len(tokens) <= 1:
        return " ".join(tokens).casefold()
    start = len(tokens) - 1
    for index in range(1, len(tokens) - 1):
        if tokens[index].lower() in people.SURNAME_PARTICLES:
            start = index
            break
    return " ".join(tokens[start:] + tokens[:start]).casefold()


def print_order(attendee: AttendeeLike) -> tuple[str, str, str]:
    """Letters are printed by state, then division, then surname."""
    return (attendee.division_state, attendee.division.casefold(), surname_key(attendee.name))


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, -, @ gets a quote mark first."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """CSV text for spreadsheets, a piece at a time (a large export need not sit in memory),
    every cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # csv quotes a cell holding CR or LF, not one holding U+2028 or NEL, which some readers
    # (str.splitlines() among them) take for a line end too: a row with one is quoted whole.
    quoting_all = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    for row in itertools.chain([header], rows):
        cells = [spreadsheet_safe(cell) for cell in row]
        breaks = any(ch in people.LINE_SEPARATORS for cell in cells for ch in cell)
        (quoting_all if breaks else writer).writerow(cells)
        if buffer.tell() >= 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text for spreadsheets, every cell made formula-safe (open it with a UTF-8 BOM)."""
    return "".join(csv_lines(header, rows))


def attendee_csv_rows(attendees: Iterable[AttendeeLike]) -> Iterable[list[object]]:
    """Attendees in the import format (so an export can be edited and imported again)."""
    for a in attendees:
        yield [
            a.name,
            a.email,
            a.street,
            a.suburb,
            a.state,
            a.postcode,
            a.division,
            ";".join(a.statistics),
            ";".join(a.recommendations),
            a.personal_note,
            "yes" if a.may_follow_up else "no",
        ]


def sample_attendees(campaign: Campaign) -> list[AttendeeRow]:
    """Two made-up attendees for the sample file: one with choices and words, one without."""
    return [
        AttendeeRow(
            row=2,
            name="Jane Citizen",
            email="jane@example.org",
            street="12 Example Street",
            suburb="Braddon",
            state="ACT",
            postcode="2612",
            statistics=tuple(s.key for s in campaign.statistics[:2]),
            recommendations=tuple(r.key for r in campaign.recommendations[:1]),
            personal_note="I am writing as a parent of two primary school children.",
        ),
        AttendeeRow(row=3, name="Sam Lee", postcode="3000"),
    ]


def _kind(problem: Problem) -> str:
    return "error" if problem.error else "skipped" if problem.skipped else "warning"


def problems_csv(problems: Iterable[Problem]) -> str:
    """Every problem as CSV, for organisers fixing a long file."""
    return write_csv(
        ("row", "column", "problem", "kind"),
        ((p.row or "", p.column or "", p.message, _kind(p)) for p in problems),
    )
