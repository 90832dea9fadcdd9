"""Printing many letters: order, cover counts, labels, envelopes, the ZIP, the joiner, the pool."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import zipfile
from collections.abc import Callable

import pytest
from pypdf import PdfReader

from letters.domain.attendees import AttendeeRow, letter_for_attendee, print_order
from letters.domain.campaign import load_campaign
from letters.domain.compose import Letter, Recipient
from letters.printing.batch import render_batch
from letters.printing.join import PdfJoiner
from letters.printing.letter import default_renderer
from letters.printing.plan import LABELS_PER_SHEET, BatchOptions, Electorate, Targets, electorates
from letters.settings import PROJECT_ROOT
from tests.organiser_helpers import read_batch

CAMPAIGN = load_campaign(PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml")
MM = 72 / 25.4
MEMBERS = {  # division: (state, member)
    "Banksia": ("NSW", "Priya Nandakumar"),
    "Wattle": ("NSW", "Harry Fernsby"),
    "Brindabella": ("ACT", "Samuel Okafor"),
    "Huon": ("TAS", "Hattie Scully"),
}
SURNAMES = ["Zhou", "Adams", "van Rijn", "O'Brien", "Nguyen", "Brown", "Citizen", "Lee", "Kaur"]


def long_note(index: int) -> str:
    """Every eleventh attendee's own words run to a second page."""
    if index % 11:
        return ""
    return ("A long paragraph about why this matters to me. " * 40 + "\n\n") * 3


def attendees(
    count: int,
    note: Callable[[int], str] = long_note,
    recommendations: Callable[[int], tuple[str, ...]] = lambda index: (),
) -> list[AttendeeRow]:
    """Attendees spread over four electorates, with the own words and points given by index."""
    rows = []
    divisions = list(MEMBERS)
    for index in range(count):
        division = divisions[index % len(divisions)]
        state, member = MEMBERS[division]
        row = AttendeeRow(
            row=index + 2,
            name=f"Person{index:03d} {SURNAMES[index % len(SURNAMES)]}",
            postcode="2001",
            street=f"{index} Example St",
            suburb="Sampleton",
            recommendations=recommendations(index),
            personal_note=note(index),
        )
        row.division, row.division_state, row.member_name = division, state, member
        rows.append(row)
    return rows


def letters_in_order(rows: list[AttendeeRow]) -> tuple[list[AttendeeRow], list[Letter]]:
    ordered = sorted(rows, key=lambda r: (*print_order(r), r.row))
    return ordered, [letter_for_attendee(CAMPAIGN, r, dt.date(2026, 12, 5)) for r in ordered]


def test_every_letter_is_printed_once_in_order_after_a_cover_that_counts_it(tmp_path):
    rows, letters = letters_in_order(attendees(23))
    groups = electorates(letters, blank=2)
    assert [(g.recipient.state, g.recipient.division) for g in groups] == [
        ("ACT", "Brindabella"),
        ("NSW", "Banksia"),
        ("NSW", "Wattle"),
        ("TAS", "Huon"),
    ]
    progress: list[tuple[int, int, str]] = []
    result = render_batch(
        groups,
        Targets(pdf=tmp_path / "letters.pdf"),
        BatchOptions(heading="Hall · 5 December 2026", chunk_letters=4),
        workers=1,
        progress=lambda *args: progress.append(args),
    )
    bundles = read_batch(tmp_path / "letters.pdf")

    assert [(b.state, b.division) for b in bundles] == [
        (g.recipient.state, g.recipient.division) for g in groups
    ]
    printed = [name for b in bundles for name in b.senders]
    assert printed == [r.name for r in rows]  # every row exactly once, in print order
    for bundle in bundles:
        assert bundle.count == len(bundle.senders)  # the cover's count is what follows it
        assert set(bundle.members) == {bundle.division}
        assert bundle.blank_printed == bundle.blanks == 2
    # Surnames in order inside an electorate (van Rijn sorts under v).
    banksia = next(b for b in bundles if b.division == "Banksia")
    assert banksia.senders == sorted(banksia.senders, key=lambda n: n.split(" ", 1)[1].lower())
    assert result.pages == len(PdfReader(tmp_path / "letters.pdf").pages)
    assert result.pages == sum(b.pages for b in bundles)
    assert any(b.pages > 1 + b.count + b.blanks for b in bundles), "no two-page letter tested"
    assert progress[-1] == (23, 23, "done")
    assert [done for done, _, _ in progress] == sorted(done for done, _, _ in progress)

    outline = PdfReader(tmp_path / "letters.pdf").outline
    assert [item.title for item in outline][:2] == [
        "Brindabella (ACT): 6 letters",
        "Banksia (NSW): 6 letters",
    ]


def test_a_pool_of_processes_prints_the_same_as_one(tmp_path):
    rows, letters = letters_in_order(attendees(18))
    targets = Targets(pdf=tmp_path / "pool.pdf", zip=tmp_path / "pool.zip")
    render_batch(electorates(letters), targets, BatchOptions(chunk_letters=3), workers=2)
    bundles = read_batch(tmp_path / "pool.pdf")
    assert [name for b in bundles for name in b.senders] == [r.name for r in rows]

    with zipfile.ZipFile(tmp_path / "pool.zip") as archive:
        names = archive.namelist()
        assert names == [
            "001-ACT-brindabella.pdf",
            "002-NSW-banksia.pdf",
            "003-NSW-wattle.pdf",
            "004-TAS-huon.pdf",
        ]
        for name, bundle in zip(names, bundles, strict=True):
            part = PdfReader(io.BytesIO(archive.read(name)))
            assert len(part.pages) == bundle.pages
            assert bundle.division in (part.pages[0].extract_text() or "")


def test_labels_are_laid_out_as_avery_l7160(tmp_path):
    _, letters = letters_in_order(attendees(23))
    targets = Targets(pdf=tmp_path / "l.pdf", labels=tmp_path / "labels.pdf")
    render_batch(electorates(letters), targets, workers=1)
    labels = PdfReader(tmp_path / "labels.pdf")
    assert len(labels.pages) == 2  # 23 labels: 21 on the first sheet, 2 on the next
    page = labels.pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
        (210 * MM, 297 * MM), abs=0.5
    )
    starts: list[tuple[float, float]] = []

    def visit(text, cm, tm, font, size):
        if text.strip().endswith(" MP"):
            # Where the line starts on the page: the text matrix through the page's CTM.
            x, y = tm[4], tm[5]
            starts.append((cm[0] * x + cm[2] * y + cm[4], cm[1] * x + cm[3] * y + cm[5]))

    page.extract_text(visitor_text=visit)
    assert len(starts) == LABELS_PER_SHEET
    columns = sorted({round(x / MM, 1) for x, _ in starts})
    rows_mm = sorted({round(297 - y / MM, 1) for _, y in starts})
    # 3 columns 66.04 mm apart, 7 rows 38.1 mm apart, from 7.21 mm and 15.15 mm plus padding.
    assert len(columns) == 3 and len(rows_mm) == 7
    assert [b - a for a, b in itertools.pairwise(columns)] == pytest.approx([66.04, 66.04], abs=0.2)
    assert [b - a for a, b in itertools.pairwise(rows_mm)] == pytest.approx([38.1] * 6, abs=0.2)
    assert 7.21 < columns[0] < 7.21 + 10 and 15.15 < rows_mm[0] < 15.15 + 10


def test_envelopes_one_per_letter_or_per_electorate(tmp_path):
    rows, letters = letters_in_order(attendees(9))
    groups = electorates(letters)
    per_letter = Targets(pdf=tmp_path / "a.pdf", envelopes=tmp_path / "env.pdf")
    render_batch(groups, per_letter, workers=1)
    envelopes = PdfReader(tmp_path / "env.pdf")
    assert len(envelopes.pages) == 9
    box = envelopes.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((220 * MM, 110 * MM), abs=0.5)
    first = envelopes.pages[0].extract_text()
    assert rows[0].name in first and "Member for Brindabella" in first

    per_electorate = Targets(pdf=tmp_path / "b.pdf", envelopes=tmp_path / "env2.pdf")
    render_batch(groups, per_electorate, BatchOptions(address_per="electorate"), workers=1)
    assert len(PdfReader(tmp_path / "env2.pdf").pages) == len(groups)


def test_user_text_is_escaped_on_cover_sheets_and_labels(tmp_path):
    recipient = Recipient("Alex <b>Member</b>", "Sample & <i>Co</i>", "ACT")
    letter = letter_for_attendee(
        CAMPAIGN,
        _settled('<img src="http://evil.example/x.png">Eve', "Sample & <i>Co</i>"),
        dt.date(2026, 12, 5),
    )
    letter = Letter(**{**letter.__dict__, "recipient": recipient})
    targets = Targets(pdf=tmp_path / "x.pdf", labels=tmp_path / "x-labels.pdf")
    render_batch([Electorate(recipient, (letter,))], targets, workers=1)
    cover = PdfReader(tmp_path / "x.pdf").pages[0].extract_text()
    assert "Sample & <i>Co</i> (ACT)" in cover
    assert '<img src="http://evil.example/x.png">Eve' in cover
    assert "Alex <b>Member</b> MP" in PdfReader(tmp_path / "x-labels.pdf").pages[0].extract_text()


def _settled(name: str, division: str) -> AttendeeRow:
    row = AttendeeRow(row=2, name=name, postcode="2600")
    row.division, row.division_state, row.member_name = division, "ACT", "Alex Member"
    return row


def test_the_joiner_keeps_pages_text_and_bookmarks(tmp_path):
    renderer = default_renderer()
    _, letters = letters_in_order(attendees(4)[1:])  # one-page letters (no long note)
    parts = [renderer.render(letter) for letter in letters]
    target = tmp_path / "joined.pdf"
    with target.open("wb") as handle:
        joiner = PdfJoiner(handle, title="Zoë\u2019s letters")
        for index, part in enumerate(parts):
            assert joiner.append(part, bookmark=f"Letter {index + 1}") == 1
        joiner.close()
    joined = PdfReader(target, strict=True)
    assert joined.metadata.title == "Zoë\u2019s letters"
    assert [o.title for o in joined.outline] == ["Letter 1", "Letter 2", "Letter 3"]
    assert [joined.get_destination_page_number(o) for o in joined.outline] == [0, 1, 2]
    for page, letter in zip(joined.pages, letters, strict=True):
        assert page.extract_text().splitlines()[0] == letter.sender.name
