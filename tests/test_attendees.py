"""Reading attendee spreadsheets: every problem reported by row and column, good rows kept."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io

import pytest

from letters.domain.attendees import (
    COLUMNS,
    AttendeeRow,
    Problem,
    attendee_csv_rows,
    decode,
    letter_for_attendee,
    print_order,
    problems_csv,
    read_attendees,
    sample_attendees,
    sniff_delimiter,
    spreadsheet_safe,
    surname_key,
    write_csv,
)
from letters.domain.campaign import load_campaign
from letters.domain.compose import Recipient, Sender
from letters.domain.directory import Directory, load_directory
from letters.settings import PROJECT_ROOT
from tests.conftest import FIXTURES, load_fixture_members

ATTENDEES = FIXTURES / "attendees"
CAMPAIGN = load_campaign(PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml")


@pytest.fixture(scope="module")
def directory(tmp_path_factory) -> Directory:
    """The made-up parliament of the fixture files (Banksia, Wattle, Ghost Gum...)."""
    folder = tmp_path_factory.mktemp("data")
    load_fixture_members(folder)
    loaded = load_directory(folder)
    assert loaded is not None
    return loaded


def read(name: str, directory: Directory):
    return read_attendees((ATTENDEES / name).read_bytes(), CAMPAIGN, directory)


def problems_by_place(report) -> dict[tuple[int | None, str | None], list[str]]:
    found: dict[tuple[int | None, str | None], list[str]] = {}
    for problem in report.problems:
        found.setdefault((problem.row, problem.column), []).append(problem.message)
    return found


def test_a_good_file_is_read_with_splits_left_to_settle(directory):
    report = read("good.csv", directory)
    assert report.encoding == "UTF-8" and report.delimiter == ","
    assert report.errors == []
    by_name = {row.name: row for row in report.rows}
    assert len(report.rows) == 5

    jane = by_name["Jane Citizen"]
    assert (jane.row, jane.division, jane.member_name) == (2, "Banksia", "Priya Nandakumar")
    assert jane.statistics == ("afp-reports", "tech-enabled")
    assert jane.recommendations == ()  # the campaign's defaults, at print time
    assert jane.personal_note == "My niece is eleven."

    # A formula typed as a name is just a name: kept as text, never evaluated.
    formula = by_name['=HYPERLINK("http://evil.example/","click")']
    assert formula.division == "Wattle"

    split = by_name["Kim Split"]
    assert not split.settled and split.candidates == ("Banksia", "Wattle")
    # A division column settles a split postcode.
    assert by_name["Lee Chosen"].division == "Wattle"
    # A postcode whose only division was abolished offers the state's current ones.
    ghost = by_name["Gus Ghost"]
    assert not ghost.settled and "Ghost Gum" not in ghost.candidates
    assert {"Saltbush", "Ironbark"} <= set(ghost.candidates)
    assert [r.name for r in report.to_settle] == ["Kim Split", "Gus Ghost"]


def test_every_bad_row_is_reported_by_row_and_column_and_good_rows_kept(directory):
    report = read("bad-rows.csv", directory)
    places = problems_by_place(report)
    assert [r.name for r in report.rows] == ["Good Row", "Also Good"]
    assert report.rejected_rows == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "The name is empty." in places[(3, "name")]
    assert "'not-an-email' is not an email address." in places[(4, "email")]
    assert "'26OO' is not a 4-digit postcode." in places[(5, "postcode")]
    assert "Unknown statistics key: no-such-fact." in places[(6, "statistics")][0]
    assert "Unknown recommendations key: made-up." in places[(6, "recommendations")][0]
    assert "not VIC" in places[(7, "postcode")][0]
    assert "We don't know postcode 9999" in places[(8, "postcode")][0]
    assert "'Narnia' is not a state" in places[(9, "state")][0]
    assert "stray separator" in places[(10, None)][0]
    assert report.summary() == "10 rows read, 2 imported, 8 left out because of errors."


def test_each_rows_problems_are_listed_word_for_word_whole_row_first_then_by_column(directory):
    # A row's problems are found cell by cell (the postcode's lookup last) but listed in our
    # column order, a problem with the whole row first.
    data = (
        b"name,email,postcode,statistics,division,personal_note\n"
        b",,2001,,,,surplus\n"
        b"Two Extra,,2001,,,,a,b\n"
        b"No Postcode,,,,,\n"
        b"Many Problems,,9999,no-such-fact,Wattle=?,bell\x07\n"
        b"Nt Zero,,801,,,\n"
    )
    report = read_attendees(data, CAMPAIGN, directory)
    stray = "than the header has columns: a stray separator has probably shifted it."
    assert report.problems == [
        Problem(2, None, f"This row has 1 more value {stray}"),
        Problem(2, "name", "The name is empty."),
        Problem(3, None, f"This row has 2 more values {stray}"),
        Problem(4, "postcode", "The postcode is empty."),
        Problem(5, "postcode", directory.lookup("9999", None).error),
        Problem(
            5,
            "division",
            "Remove \u201c=?\u201d: it is email coding, not part of a name or address.",
        ),
        Problem(
            5,
            "statistics",
            f"Unknown statistics key: no-such-fact. This campaign's are: "
            f"{', '.join(CAMPAIGN.statistic_keys)} (leave it empty for the defaults).",
        ),
        Problem(5, "personal_note", "Remove the invisible control characters from the text."),
        Problem(6, "postcode", "Read 801 as 0801.", error=False),
    ]
    assert [(r.row, r.name, r.postcode, r.division) for r in report.rows] == [
        (6, "Nt Zero", "0801", "Spinifex")
    ]


def test_a_rows_other_problems_are_said_word_for_word_and_a_bad_state_looks_up_no_postcode(
    directory,
):
    data = (
        b"name,street,state,postcode,statistics,division\n"
        b"Coded Street,1 Main St=?,,2001,,\n"
        b"Coded Division,,,2001,,Wattle=?\n"
        b"Narnia Row,,Narnia,9999,,\n"
        b"Two Unknown,,,2001,no-such-fact;made-up,\n"
        b"One Unknown,,,2001,made-up,\n"
    )
    report = read_attendees(data, CAMPAIGN, directory)
    coding = "Remove \u201c=?\u201d: it is email coding, not part of a name or address."
    keys = (
        f"This campaign's are: {', '.join(CAMPAIGN.statistic_keys)} "
        "(leave it empty for the defaults)."
    )
    assert report.problems == [
        Problem(2, "street", coding),
        # The division that was coding is dropped, not looked up as a division.
        Problem(3, "division", coding),
        # A state we cannot read is the row's one problem: its postcode is not looked up in it.
        Problem(4, "state", "'Narnia' is not a state or territory (e.g. NSW, Vic)."),
        Problem(5, "statistics", f"Unknown statistics keys: no-such-fact, made-up. {keys}"),
        Problem(6, "statistics", f"Unknown statistics key: made-up. {keys}"),
    ]


def test_short_rows_blank_trailing_cells_and_spaced_postcodes_still_import(directory):
    # Spreadsheets leave off a row's empty last cells, or add empty ones after the header's
    # last column; a postcode may be typed with spaces in it.
    data = (
        b"name,email,postcode,statistics,division\n"
        b"Short Row,,2001\n"
        b"Blank Extras,,2001,,,, \n"
        b"Spaced Postcode,,2 0 0 3,,\n"
    )
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.problems == []
    assert [(r.row, r.name, r.postcode, r.division) for r in report.rows] == [
        (2, "Short Row", "2001", "Banksia"),
        (3, "Blank Extras", "2001", "Banksia"),
        (4, "Spaced Postcode", "2003", "Wattle"),
    ]


def test_a_settled_row_offers_no_divisions_to_choose_from(directory):
    report = read("good.csv", directory)
    # Lee Chosen's 2002 is split, but the division column settled it: nothing left to choose.
    assert [(r.name, r.division, r.candidates) for r in report.rows] == [
        ("Jane Citizen", "Banksia", ()),
        ('=HYPERLINK("http://evil.example/","click")', "Wattle", ()),
        ("Kim Split", "", ("Banksia", "Wattle")),
        ("Lee Chosen", "Wattle", ()),
        # 3002's only division was abolished: Victoria's current ones are offered.
        ("Gus Ghost", "", ("Ironbark", "Saltbush", "Lyrebird")),
    ]


def test_a_named_division_is_kept_when_in_the_postcodes_state_and_questioned_otherwise(directory):
    # 2001's data lists only Banksia. Wattle is in NSW too: the file is trusted over older
    # data, with a warning. Saltbush is in Victoria and Atlantis is no division: the row
    # imports unsettled, to choose from 2001's own divisions.
    data = (
        b"name,postcode,division\n"
        b"Listed Here,2002,Wattle\n"
        b"Unlisted Here,2001,Wattle\n"
        b"Other State,2001,Saltbush\n"
        b"No Such,2001,Atlantis\n"
    )
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.problems == [
        Problem(
            3,
            "division",
            "Our postcode data does not list Wattle for 2001; kept Wattle as the file says.",
            error=False,
        ),
        Problem(
            4,
            "division",
            "Saltbush is in VIC, but postcode 2001 is not: choose the division below.",
            error=False,
        ),
        Problem(
            5,
            "division",
            "'Atlantis' is not a current federal division: choose one below.",
            error=False,
        ),
    ]
    assert [(r.name, r.division, r.candidates) for r in report.rows] == [
        ("Listed Here", "Wattle", ()),
        ("Unlisted Here", "Wattle", ()),
        ("Other State", "", ("Banksia",)),
        ("No Such", "", ("Banksia",)),
    ]


def test_missing_columns_import_nothing_and_say_which(directory):
    report = read("missing-columns.csv", directory)
    assert report.rows == []
    [error] = report.file_errors
    assert error.message.startswith("Missing column: postcode.")
    # "full name" was understood as name; "suburb" is ours; nothing else to warn about.
    assert report.columns == ("name", "email", "suburb")


def test_with_both_required_columns_missing_both_are_named(directory):
    report = read_attendees(b"email,suburb\njo@example.org,Braddon\n", CAMPAIGN, directory)
    assert report.rows == [] and report.columns == ("email", "suburb")
    assert [p.message for p in report.problems] == [
        "Missing columns: name, postcode. The first row must name the columns; ours are "
        + ", ".join(COLUMNS)
        + " (only name and postcode are required)."
    ]


def test_an_unused_columns_heading_is_quoted_up_to_forty_characters(directory):
    forty, longer = "x" * 40, "y" * 41
    data = f"name,postcode,{forty},{longer}\n".encode()
    report = read_attendees(data, CAMPAIGN, directory)
    assert [p.where for p in report.problems] == [
        f"column C ('{forty}')",
        f"column D ('{'y' * 40}…')",
    ]


def test_unknown_and_repeated_columns(directory):
    data = b"name,postcode,Phone,Name\nJane,2001,555,Jane again\n"
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.rows == []
    messages = {p.column: (p.message, p.error) for p in report.problems}
    assert messages["C ('Phone')"] == ("This column is not one we use, so it was ignored.", False)
    assert messages["D ('Name')"][0].startswith("name appears twice (also column A)")


def test_an_empty_file_says_so(directory):
    report = read("empty.csv", directory)
    assert report.rows == []
    assert [p.message for p in report.file_errors] == [
        "The file is empty: it needs a header row and a row per person."
    ]
    header_only = read_attendees(b"name,postcode\r\n\r\n", CAMPAIGN, directory)
    assert header_only.rows == [] and header_only.data_rows == 0
    assert header_only.blank_rows == 1
    assert header_only.summary() == "0 rows read, 0 imported, 1 blank rows skipped."


def test_blank_lines_before_the_header_and_between_rows_are_skipped(directory):
    data = b" \r\nname,postcode\r\nJo Bloggs,2001\r\n,\r\n\r\nAnn Lee,2001\r\n"
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.errors == [] and report.columns == ("name", "postcode")
    # Numbered as the spreadsheet shows them: the blank line above the header is its row 1.
    assert [(r.row, r.name) for r in report.rows] == [(3, "Jo Bloggs"), (6, "Ann Lee")]
    assert (report.data_rows, report.blank_rows) == (2, 2)


def test_latin1_excel_file_with_semicolons(directory):
    report = read("latin1-semicolon.csv", directory)
    assert report.encoding == "Windows-1252" and report.delimiter == ";"
    assert report.errors == []
    names = [row.name for row in report.rows]
    assert names == ["Zoë Ångström", "François Dubois", "Renée O\u2019Brien"]
    assert report.rows[0].personal_note == "\u201cCurly quotes\u201d \u2013 and a dash"
    assert report.rows[1].state == "VIC"
    # Excel dropped the NT postcode's leading zero; it is put back, and the organiser told.
    assert report.rows[2].postcode == "0801"
    warnings = [(p.row, p.column, p.message) for p in report.warnings]
    assert warnings[0][:2] == (None, None) and "read as Windows-1252" in warnings[0][2]
    assert (4, "postcode", "Read 801 as 0801.") in warnings


def test_excel_utf8_with_bom_and_quoted_semicolons(directory):
    report = read("excel-utf8-bom-semicolon.csv", directory)
    assert report.encoding == "UTF-8 (with BOM)" and report.delimiter == ";"
    assert report.errors == []
    mei, ruby = report.rows
    assert mei.statistics == ("afp-reports", "tech-enabled")
    assert mei.recommendations == ("duty-of-care",)
    assert mei.personal_note == "Two lines\nof note"
    assert mei.division == "Ironbark" and ruby.division == "Cassowary"


def test_each_encoding_is_named_and_a_byte_order_mark_that_lies_is_an_error():
    assert decode(codecs.BOM_UTF8 + "Zoë".encode()) == ("Zoë", "UTF-8 (with BOM)", [])
    assert decode("Zoë".encode("utf-16")) == ("Zoë", "UTF-16", [])
    assert decode("Zoë".encode()) == ("Zoë", "UTF-8", [])
    assert decode(codecs.BOM_UTF8 + b"\xff") == (
        "",
        "",
        [
            Problem(
                None,
                None,
                "The file says it is UTF-8 but is not: 'utf-8' codec can't decode byte 0xff "
                "in position 0: invalid start byte.",
            )
        ],
    )
    assert decode(codecs.BOM_UTF16_LE + b"A") == (
        "",
        "",
        [
            Problem(
                None,
                None,
                "The file says it is UTF-16 but is not: 'utf-16-le' codec can't decode byte "
                "0x41 in position 2: truncated data.",
            )
        ],
    )
    # Windows-1252 leaves five bytes (0x81 among them) undefined; Latin-1 reads any byte.
    assert decode(b"Zo\xeb \x81") == (
        "Zo\u00eb \x81",
        "Latin-1",
        [
            Problem(
                None,
                None,
                "The file is not UTF-8, so it was read as Latin-1 (what Excel uses for "
                "'CSV (Comma delimited)'). Check that accented names look right below; if not, "
                "save it again as 'CSV UTF-8'.",
                error=False,
            )
        ],
    )
    # The import stops there, rather than also calling the file empty.
    lying = codecs.BOM_UTF8 + b"name,postcode\n\xff,2001\n"
    assert read_attendees(lying, CAMPAIGN, None).problems == decode(lying)[2]


def test_workbooks_binary_files_and_broken_quotes(directory):
    workbook = read_attendees(b"PK\x03\x04rest-of-a-zip", CAMPAIGN, directory)
    assert "Excel workbook" in workbook.file_errors[0].message
    binary = read_attendees(b"name,postcode\x00\n", CAMPAIGN, directory)
    assert "NUL" in binary.file_errors[0].message
    broken = read_attendees(
        b'name,postcode\nJane,2001\n"Unclosed,2001\nLost,2001\n', CAMPAIGN, directory
    )
    assert [r.name for r in broken.rows] == ["Jane"]
    [problem] = broken.errors
    assert problem.row == 3 and "quoting breaks" in problem.message


def test_broken_quoting_is_reported_word_for_word_in_the_header_or_at_its_row(directory):
    header = read_attendees(b'"name,postcode\nJo,2001\n', CAMPAIGN, directory)
    assert header.problems == [
        Problem(
            None,
            None,
            "The header row's quoting is broken (unexpected end of data), so no row could be "
            'read. Look for a quote mark (") in the first row that is never closed.',
        )
    ]
    row = read_attendees(b'name,postcode\nJo,2001\n"Unclosed,2001\n', CAMPAIGN, directory)
    assert row.problems == [
        Problem(
            3,
            None,
            "The file's quoting breaks here (unexpected end of data); this row and the ones after "
            'it were not read. Look for a quote mark (") that is never closed.',
        )
    ]


def test_fifty_thousand_rows_are_all_read_and_their_problems_counted(directory):
    # How fast a file this size is read is measured by benchmarks/attendee_import.py.
    lines = ["name,email,postcode,statistics"]
    postcodes = ("2001", "2002", "3005", "4001", "9999")
    for index in range(50_000):
        lines.append(f"Person {index},p{index}@example.org,{postcodes[index % 5]},afp-reports")
    data = ("\n".join(lines) + "\n").encode()
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.data_rows == 50_000
    assert len(report.rows) == 40_000  # every 9999 row is refused...
    assert report.error_count == 10_000  # ...each with its own problem
    assert len(report.rejected_rows) == 10_000
    assert len(report.problems) == 1_000  # the first ones kept; the rest only counted
    assert len(report.to_settle) == 10_000  # the 2002 rows: Banksia or Wattle
    assert report.rows[-1].row == 50_000  # Person 49998, on line 50,000 (the last is a 9999)


def test_problems_beyond_those_kept_are_counted_as_errors_or_warnings(directory):
    lines = ["name,postcode"]
    lines += [f"Unknown {n},9999" for n in range(1_000)]  # rows 2 to 1,001: errors, all kept
    lines += [f"Dropped Zero {n},801" for n in range(3)]  # rows 1,002 to 1,004: warnings
    lines += [f"Unknown again {n},9999" for n in range(2)]  # rows 1,005 and 1,006: errors
    report = read_attendees("\n".join(lines).encode(), CAMPAIGN, directory)
    assert len(report.problems) == 1_000 and len(report.rows) == 3
    assert (report.error_count, report.warning_count, report.problems_not_kept) == (1_002, 3, 5)
    assert report.rejected_rows == [*range(2, 1_002), 1_005, 1_006]


def test_row_limit_is_reported_not_silent(directory):
    data = b"name,postcode\n" + b"".join(b"P%d,2001\n" % i for i in range(12))
    report = read_attendees(data, CAMPAIGN, directory, max_rows=10)
    assert len(report.rows) == 10
    assert report.errors[-1].row == 12 and "Only 10 rows" in report.errors[-1].message
    assert report.data_rows == 10
    assert report.problems == [
        Problem(
            12,
            None,
            "Only 10 rows can be imported at once; this row and the ones after it were not "
            "read. Split the file.",
        )
    ]


def test_formulas_come_out_as_text_in_every_csv_we_write(directory):
    assert spreadsheet_safe('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    for risky in ("+1", "-2+3", "@SUM(A1)", "\tx", "\uff1d1+1"):
        assert spreadsheet_safe(risky).startswith("'")
    assert spreadsheet_safe("Jane = citizen") == "Jane = citizen"
    assert spreadsheet_safe(None) == "" and spreadsheet_safe(7) == "7"
    # A long file is written in pieces; joined, they are one CSV with every row whole.
    long = write_csv(["note"], [["x" * 1000]] * 200)
    assert list(csv.reader(io.StringIO(long.lstrip("\ufeff")))) == [["note"]] + [["x" * 1000]] * 200

    report = read("good.csv", directory)
    text = write_csv(["name", "postcode"], [[row.name, row.postcode] for row in report.rows])
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert '\'=HYPERLINK("http://evil.example/","click")' in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)

    bad = read_attendees(b"name,postcode\n=1+1,99\n", CAMPAIGN, directory)
    problem_cells = [
        cell for row in csv.reader(io.StringIO(problems_csv(bad.problems))) for cell in row
    ]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in problem_cells)


def test_people_already_in_the_event_or_the_file_are_left_out_saying_whom_they_repeat(directory):
    data = (
        b"name,email,postcode\n"
        b"Jo Bloggs,jo@example.org,2001\n"
        b"Jo Bloggs,,2001\n"
        b"Sam Lee,jo@example.org,2003\n"
        b"Jo Bloggs,jo@example.org,2001\n"
        b"Ann Other,,2001\n"
        b"Bo Kept,bo@example.org,2003\n"
    )
    report = read_attendees(data, CAMPAIGN, directory)
    report.skip_duplicates([("Ann Other", "", "2001")])
    assert [row.name for row in report.rows] == ["Jo Bloggs", "Bo Kept"]
    assert report.skipped == 4
    assert report.summary() == "6 rows read, 2 imported, 4 skipped as already there."
    said = {p.row: p.message for p in report.problems if p.skipped}
    assert said == {
        3: "Jo Bloggs (2001) has the same name and postcode as row 2 of this file: "
        "not imported again.",
        4: "Sam Lee (2003) has the same email address as row 2 of this file: not imported again.",
        # Both match: the email, the surer of the two, is the one named.
        5: "Jo Bloggs (2001) has the same email address as row 2 of this file: not imported again.",
        6: "Ann Other (2001) has the same name and postcode as this event already: "
        "not imported again.",
    }


def test_a_skipped_row_is_a_problem_that_is_neither_an_error_nor_imported(directory):
    data = b"name,email,postcode\nJo Bloggs,,2001\nJo  bloggs,,2001\n"
    report = read_attendees(data, CAMPAIGN, directory)
    report.skip_duplicates([])
    assert [row.row for row in report.rows] == [2]
    assert report.problems == [
        Problem(
            3,
            None,
            "Jo  bloggs (2001) has the same name and postcode as row 2 of this file: "
            "not imported again.",
            error=False,
            skipped=True,
        )
    ]


def test_the_problems_file_says_what_each_problem_did_to_its_row():
    from letters.domain.attendees import Problem

    problems = [
        Problem(None, None, "not a CSV file"),
        Problem(2, "postcode", "no such postcode"),
        Problem(3, None, "a duplicate", error=False, skipped=True),
        Problem(4, "name", "looks odd", error=False),
    ]
    rows = list(csv.reader(io.StringIO(problems_csv(problems).lstrip("\ufeff"))))
    assert rows == [
        ["row", "column", "problem", "kind"],
        ["", "", "not a CSV file", "error"],
        ["2", "postcode", "no such postcode", "error"],
        ["3", "", "a duplicate", "skipped"],
        ["4", "name", "looks odd", "warning"],
    ]


def test_print_order_is_state_division_then_surname():
    def row(name: str, division: str, state: str) -> AttendeeRow:
        r = AttendeeRow(row=0, name=name, postcode="2001")
        r.division, r.division_state, r.member_name = division, state, "M"
        return r

    rows = [
        row("Zed Adams", "Wattle", "NSW"),
        row("Anna van Rijn", "Banksia", "NSW"),
        row("Bob Brown", "Banksia", "NSW"),
        row("Cat Citizen", "Brindabella", "ACT"),
        row("Dr Alice Zhou", "Banksia", "NSW"),
    ]
    ordered = [r.name for r in sorted(rows, key=print_order)]
    assert ordered == ["Cat Citizen", "Bob Brown", "Anna van Rijn", "Dr Alice Zhou", "Zed Adams"]
    assert surname_key("Dr Anna van Rijn") == "van rijn anna"
    assert surname_key("Mononym") == "mononym"  # one word: it is the surname
    assert surname_key("") == ""


def test_an_attendee_letter_uses_the_defaults_when_nothing_was_chosen(directory):
    row = read_attendees(b"name,postcode\nJane,2001\n", CAMPAIGN, directory).rows[0]
    letter = letter_for_attendee(CAMPAIGN, row, dt.date(2026, 12, 5))
    assert (
        letter.recipient.name == "Priya Nandakumar" and letter.greeting == "Dear Priya Nandakumar"
    )
    texts = [item.text for block in letter.body if hasattr(block, "items") for item in block.items]
    defaults = [s.text for s in CAMPAIGN.statistics if s.default]
    assert all(text in texts for text in defaults)


def test_an_attendee_letter_is_from_them_as_imported_and_to_their_member(directory):
    # No state in the file: the letter gives the state of the division the postcode settled.
    data = b"name,email,street,suburb,postcode\nJo Bloggs,jo@example.org,1 Main St,Haymarket,2001\n"
    (row,) = read_attendees(data, CAMPAIGN, directory).rows
    assert row.settled and row.state == "" and row.division_state and row.member_party
    letter = letter_for_attendee(CAMPAIGN, row, dt.date(2026, 12, 5))
    assert letter.date == dt.date(2026, 12, 5)  # the event's day, not the day it is printed
    assert letter.sender == Sender(
        name="Jo Bloggs",
        street="1 Main St",
        suburb="Haymarket",
        state=row.division_state,
        postcode="2001",
        email="jo@example.org",
    )
    assert letter.sender.address_lines == ("1 Main St", f"Haymarket {row.division_state} 2001")
    assert letter.recipient == Recipient(
        name=row.member_name,
        division=row.division,
        state=row.division_state,
        party=row.member_party,
    )
    assert letter.recipient.address_lines[1] == f"Member for {row.division}"


def test_an_exported_list_imports_again_with_the_same_choices(directory):
    data = (
        b"name,email,postcode,statistics,recommendations,may_follow_up\n"
        b"Jo Bloggs,jo@example.org,2001,ncmec-reports;afp-reports,increase-fines;duty-of-care,yes\n"
        b"Sam Lee,,2003,tech-enabled,expand-expectations,\n"
    )
    first = read_attendees(data, CAMPAIGN, directory)
    assert first.errors == [] and len(first.rows) == 2
    exported = write_csv(COLUMNS, attendee_csv_rows(first.rows))
    # The consent column says yes or no, as the README tells organisers to write it.
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert [row["may_follow_up"] for row in rows] == ["yes", "no"]
    again = read_attendees(exported.encode(), CAMPAIGN, directory)
    assert again.errors == []
    assert [(r.name, r.statistics, r.recommendations, r.may_follow_up) for r in again.rows] == [
        ("Jo Bloggs", ("ncmec-reports", "afp-reports"), ("increase-fines", "duty-of-care"), True),
        ("Sam Lee", ("tech-enabled",), ("expand-expectations",), False),
    ]


def test_the_sample_file_shows_a_full_row_and_one_with_only_what_is_required():
    sample = write_csv(COLUMNS, attendee_csv_rows(sample_attendees(CAMPAIGN)))
    header, full, bare = csv.reader(io.StringIO(sample.lstrip("\ufeff")))
    assert header == list(COLUMNS)
    statistics = ";".join(s.key for s in CAMPAIGN.statistics[:2])
    assert full == [
        "Jane Citizen",
        "jane@example.org",
        "12 Example Street",
        "Braddon",
        "ACT",
        "2612",
        "",
        statistics,
        CAMPAIGN.recommendations[0].key,
        "I am writing as a parent of two primary school children.",
        "no",
    ]
    assert bare == ["Sam Lee", "", "", "", "", "3000", "", "", "", "", "no"]


def test_a_first_name_that_is_also_a_surname_particle_is_still_a_first_name():
    def row(name: str) -> AttendeeRow:
        r = AttendeeRow(row=0, name=name, postcode="2001")
        r.division, r.division_state, r.member_name = "Banksia", "NSW", "M"
        return r

    rows = [row("Anna Nguyen"), row("Van Morrison"), row("Dai Le")]
    # Le, Morrison, Nguyen: "Van" and "Dai" are first names; "Le" is Dai's surname.
    assert [r.name for r in sorted(rows, key=print_order)] == [
        "Dai Le",
        "Van Morrison",
        "Anna Nguyen",
    ]


def test_excels_sep_line_sets_the_separator_and_is_not_the_header(directory):
    # Excel writes (and hides) "sep=;" where the list separator is a semicolon; a comma in a
    # street must then stay inside its cell.
    data = b"sep=;\r\nname;postcode;street\r\nJo Bloggs;2001;1 Main St, Rear\r\n"
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.delimiter == ";" and report.errors == []
    (row,) = report.rows
    assert (row.row, row.name, row.postcode, row.street) == (
        2,
        "Jo Bloggs",
        "2001",
        "1 Main St, Rear",
    )


def test_excels_sep_line_wins_over_the_header_and_any_header_is_read_by_it(directory):
    # Split by commas this header names as many of our columns as by semicolons: only the
    # hint can tell, and it does whatever the header's first word.
    report = read_attendees(b"sep=;\r\npostcode;name,email\r\n", CAMPAIGN, directory)
    assert report.delimiter == ";"
    assert report.columns == ("postcode",)
    data = b"sep=;\r\nPostcode;Name\r\n2001;Jo Bloggs, Jr\r\n"
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.delimiter == ";" and report.errors == []
    assert [(r.name, r.postcode) for r in report.rows] == [("Jo Bloggs, Jr", "2001")]


def test_a_workbook_or_a_binary_file_is_refused_whole_saying_what_it_is(directory):
    workbook = read_attendees(b"PK\x03\x04 the rest of a zip", CAMPAIGN, directory)
    assert workbook.problems == [
        Problem(None, None, "This is an Excel workbook (.xlsx), not CSV: save it as CSV first.")
    ]
    binary = read_attendees(b"name,postcode\nJo\x00,2001\n", CAMPAIGN, directory)
    assert binary.problems == [Problem(None, None, "This is not a text file (it holds NUL bytes).")]
    assert workbook.rows == binary.rows == []


def test_unused_columns_are_named_by_their_spreadsheet_letters(directory):
    # A, B... Z, AA...: blank headings count as columns too.
    header = ["name", "postcode", *[""] * 25, "extra", *[""] * 24, "more", *[""] * 649, "last"]
    assert (header.index("extra"), header.index("more"), header.index("last")) == (27, 52, 702)
    report = read_attendees((",".join(header) + "\n").encode(), CAMPAIGN, directory)
    assert [p.where for p in report.problems] == [
        "column AB ('extra')",
        "column BA ('more')",
        "column AAA ('last')",
    ]


def test_headings_are_matched_whatever_their_case_spacing_and_punctuation(directory):
    report = read_attendees(b"(Name):,  POST CODE ,Personal note\n", CAMPAIGN, directory)
    assert report.columns == ("name", "postcode", "personal_note")


def test_the_separator_is_the_one_that_finds_our_column_names_not_the_most_cells():
    assert sniff_delimiter("name;postcode;heard of it from (poster, email, friend, other)") == ";"
    assert sniff_delimiter("name\tpostcode\tnote (a; b; c)") == "\t"


def test_the_may_follow_up_column_says_yes_only_plainly_and_with_an_email(directory):
    cells = ["yes", "Y", "TRUE", "1", "no", "n", "false", "0", "", "maybe", "yes"]
    lines = ["name,email,postcode,may_follow_up"]
    for n, cell in enumerate(cells):
        email = "" if n == len(cells) - 1 else f"p{n}@example.org"
        lines.append(f"Person {n},{email},2003,{cell}")
    report = read_attendees("\n".join(lines).encode(), CAMPAIGN, directory)
    assert report.errors == [] and len(report.rows) == len(cells)  # no letter is left out
    assert [row.may_follow_up for row in report.rows] == [True] * 4 + [False] * 7
    warnings = problems_by_place(report)
    maybe_row, no_email_row = len(cells), len(cells) + 1  # the header is row 1
    assert "'maybe' is not yes or no" in warnings[(maybe_row, "may_follow_up")][0]
    assert "no email address" in warnings[(no_email_row, "may_follow_up")][0]
    assert set(warnings) == {(maybe_row, "may_follow_up"), (no_email_row, "may_follow_up")}


def test_the_may_follow_up_warnings_say_word_for_word_why_nobody_will_be_asked(directory):
    data = b"name,email,postcode,may_follow_up\nAl,al@example.org,2003,maybe\nBo,,2003,yes\n"
    report = read_attendees(data, CAMPAIGN, directory)
    assert [(r.name, r.may_follow_up) for r in report.rows] == [("Al", False), ("Bo", False)]
    assert report.problems == [
        Problem(
            2,
            "may_follow_up",
            "'maybe' is not yes or no, so this attendee will not be asked whether their MP "
            "replied (write yes, no, true, false, 1, 0, y or n).",
            error=False,
        ),
        Problem(
            3,
            "may_follow_up",
            "Yes, but there is no email address to ask at, so this attendee will not be asked "
            "whether their MP replied: add their email to ask them.",
            error=False,
        ),
    ]


def test_without_the_column_nobody_is_asked_and_the_export_carries_it(directory):
    report = read("good.csv", directory)
    assert report.rows and not any(row.may_follow_up for row in report.rows)
    text = write_csv(COLUMNS, attendee_csv_rows(report.rows))
    header, first = text.splitlines()[:2]
    assert header.endswith(",may_follow_up") and first.endswith(",no")
