"""Stamps: a batch lays campaign paragraphs out once, and prints exactly the letters it would."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader
from weasyprint import HTML

from letters.domain.attendees import AttendeeRow, letter_for_attendee, print_order
from letters.domain.compose import BulletList, Letter, Paragraph
from letters.printing import stamps
from letters.printing.batch import render_batch
from letters.printing.join import PdfJoiner
from letters.printing.letter import default_renderer
from letters.printing.plan import BatchOptions, Targets, electorates
from letters.printing.stamps import Overlay
from tests.test_batch import CAMPAIGN, MEMBERS
from tests.test_batch import attendees as batch_attendees

SENTENCE = "My children's school asked us to talk about this at home, and we did. "
# A campaign paragraph of about eight lines: orphans and widows alone would let it break.
LONG_POINT = Paragraph(
    "Every platform that reaches Australian children should have to show, each year, what it "
    "has done to find and remove child sexual abuse material. " * 6,
    lead="Report every year.",
)


def attendees(count: int) -> list[AttendeeRow]:
    """Attendees over four electorates whose own words grow a line or two at a time, so that
    page breaks fall before, after and (but for print.css) inside every campaign paragraph."""
    points = CAMPAIGN.recommendation_keys
    return batch_attendees(
        count,
        note=lambda index: SENTENCE * (index * 2) if index % 3 else "",
        recommendations=lambda index: tuple(points[: 1 + index % len(points)]),
    )


def letters_in_order(rows: list[AttendeeRow]) -> list[Letter]:
    """The attendees' letters in print order, each with LONG_POINT near its end."""
    ordered = sorted(rows, key=lambda r: (*print_order(r), r.row))
    letters = [letter_for_attendee(CAMPAIGN, r, dt.date(2026, 12, 5)) for r in ordered]
    return [
        dataclasses.replace(letter, body=(*letter.body[:-2], LONG_POINT, *letter.body[-2:]))
        for letter in letters
    ]


def pictures(data: bytes, dpi: int = 60) -> list[Image.Image]:
    document = pdfium.PdfDocument(data)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def largest_difference(a: Image.Image, b: Image.Image) -> int:
    """0 when two pictures are the same; anti-aliasing rounding differs by a level or two."""
    assert a.size == b.size
    return int(ImageChops.difference(a, b).getextrema()[1])


def overlaid_pages(path: Path) -> int:
    """How many pages of a PDF draw a page of a stamp sheet."""
    count = 0
    for page in PdfReader(path).pages:
        contents = page.get_contents()
        count += contents is not None and b"/LetterSheet" in contents.get_data()
    return count


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stamped_batch_prints_each_letter_exactly_as_the_letter_alone(
    tmp_path, workers, monkeypatch
):
    # Stamp everything two letters share, even where it does not pay, to try every kind.
    monkeypatch.setattr(stamps, "SHEET_COST_IN_LINES", 0)
    letters = letters_in_order(attendees(26))
    planned = stamps.plan(letters)
    kinds = {kind for kind, _ in planned.numbers}
    assert kinds == {"paragraph", "point", "date", "recipient", "greeting", "subject", "closing"}
    groups = electorates(letters)
    out = tmp_path / "letters.pdf"
    render_batch(
        groups,
        Targets(pdf=out, zip=tmp_path / "letters.zip"),
        BatchOptions(chunk_letters=5),
        workers=workers,
    )
    printed = pictures(out.read_bytes())
    renderer = default_renderer()
    alone: list[Image.Image] = []
    for group in groups:
        alone.append(printed[len(alone)])  # its cover sheet, not compared
        for letter in group.letters:
            alone += pictures(renderer.render(letter))
    assert len(printed) == len(alone) > len(letters) + len(groups)  # some run to two pages
    assert max(largest_difference(a, b) for a, b in zip(printed, alone, strict=True)) <= 4
    # ...and that is not because nothing was stamped: every letter page drew some.
    assert overlaid_pages(out) == len(printed) - len(groups)

    # The ZIP's per-electorate PDFs are stamped too, and match the same pages.
    with zipfile.ZipFile(tmp_path / "letters.zip") as bundle:
        first = bundle.read(sorted(bundle.namelist())[0])
    own = pictures(first)
    assert max(largest_difference(a, b) for a, b in zip(own, printed, strict=False)) <= 4


def test_a_campaign_paragraph_taller_than_a_page_is_printed_as_usual(tmp_path):
    tall = Paragraph(LONG_POINT.text * 10, lead="A very long point.")  # about 80 lines
    letters = [
        dataclasses.replace(letter, body=(*letter.body[:3], tall, *letter.body[3:]))
        for letter in letters_in_order(attendees(4))[:3]
    ]
    assert ("paragraph", tall) in stamps.plan(letters).numbers
    out = tmp_path / "letters.pdf"
    groups = electorates(letters)
    render_batch(groups, Targets(pdf=out), workers=1)

    printed = pictures(out.read_bytes())
    alone: list[Image.Image] = []
    for group in groups:
        alone.append(printed[len(alone)])
        for letter in group.letters:
            alone += pictures(default_renderer().render(letter))
    assert len(printed) == len(alone)
    assert max(largest_difference(a, b) for a, b in zip(printed, alone, strict=True)) <= 4
    # The rest of each letter was still stamped.
    assert overlaid_pages(out) >= len(letters)


def test_a_part_is_stamped_only_where_stamping_it_pays():
    letters = letters_in_order(attendees(12))  # three letters to each of four members
    kinds = {kind for kind, _ in stamps.plan(letters).numbers}
    # A six-line address shared by three letters saves more than its sheet page costs; a
    # one-line greeting shared by three does not; the date, subject and closing are in all 12.
    assert "recipient" in kinds and "greeting" not in kinds
    assert {"date", "subject", "closing"} <= kinds


def test_the_supporters_own_words_are_never_stamped():
    letters = letters_in_order(attendees(12))
    # Every supporter typed a campaign paragraph as their own words: still their own.
    copied = [
        dataclasses.replace(letter, body=(*letter.body, dataclasses.replace(LONG_POINT, own=True)))
        for letter in letters
    ]
    planned = stamps.plan(copied)
    stamped = [what for kind, what in planned.numbers if kind in ("paragraph", "point")]
    assert LONG_POINT in stamped
    assert not any(isinstance(p, Paragraph) and p.own for p in stamped)


def test_only_what_two_letters_share_is_stamped_and_jobs_carry_only_their_own(monkeypatch):
    monkeypatch.setattr(stamps, "SHEET_COST_IN_LINES", 0)
    letters = letters_in_order(attendees(8))
    planned = stamps.plan(letters)
    counts = dict.fromkeys(planned.numbers, 0)
    for letter in letters:
        for key in planned.for_letters([letter]).numbers:
            counts[key] += 1
    assert counts and min(counts.values()) >= 2
    # A member's address is shared within an electorate, never across.
    recipients = [what for kind, what in planned.numbers if kind == "recipient"]
    assert len(recipients) == len(MEMBERS)

    mine = planned.for_letters(letters[:1])
    assert mine and set(mine.numbers.items()) <= set(planned.numbers.items())
    assert len(mine.numbers) < len(planned.numbers)

    parts = planned.split(7)
    assert [len(part.numbers) for part in parts[:-1]] == [7] * (len(parts) - 1)
    merged = {key: n for part in parts for key, n in part.numbers.items()}
    assert merged == planned.numbers


def test_campaign_paragraphs_move_whole_to_the_next_page_and_own_words_flow():
    renderer = default_renderer()
    base = letters_in_order(attendees(1))[0]
    campaign = [
        item
        for block in base.body
        for item in (block.items if isinstance(block, BulletList) else (block,))
        if not item.own
    ]
    split_own = False
    # Push the body down a line at a time with the supporter's own words, before the rest.
    for lines in range(0, 60, 2):
        note = Paragraph(SENTENCE * lines, own=True) if lines else None
        body = (*base.body[:2], note, *base.body[2:]) if note else base.body
        pages = [
            " ".join(page.extract_text().split())
            for page in PdfReader(
                io.BytesIO(renderer.render(dataclasses.replace(base, body=body)))
            ).pages
        ]
        for item in campaign:
            whole = " ".join(item.text.split())
            assert any(whole in page for page in pages), (
                f"{lines} lines of own words split a campaign paragraph: {item.text[:40]}"
            )
        if note:
            split_own |= not any(" ".join(note.text.split()) in page for page in pages)
    assert split_own, "the supporter's own words never flowed onto a second page"


def test_the_joiner_draws_a_sheet_page_over_a_page_moved_as_asked(tmp_path):
    def pdf(html: str) -> bytes:
        return HTML(string=f"<style>@page {{ size: A4; margin: 0 }}</style>{html}").write_pdf()

    square = '<div style="width: 20mm; height: 20mm; background: #000"></div>'
    # Two pages, which WeasyPrint gives one shared resources dictionary.
    text = '<p style="margin: 100mm 0 0 100mm{}">{}</p>'
    base = pdf(text.format("", "one") + text.format("; break-before: page", "two"))
    sheet = tmp_path / "sheet.pdf"
    sheet.write_bytes(pdf(square))
    out = io.BytesIO()
    joiner = PdfJoiner(out, sheets=[sheet])
    mm = 72 / 25.4
    joiner.append(base, overlays={1: [Overlay(0, 0, 0, -50 * mm)]})  # 50 mm further down
    joiner.append(base)
    joiner.close()

    first, second, third, fourth = pictures(out.getvalue(), dpi=72)

    def ink(picture: Image.Image, top: float) -> int:
        """The darkest pixel 5-15 mm across and `top` to `top` + 5 mm down."""
        box = (round(5 * mm), round(top * mm), round(15 * mm), round((top + 5) * mm))
        darkest, _ = picture.crop(box).getextrema()
        return int(darkest)

    assert ink(second, 55) == 0 and ink(second, 5) == 255  # moved down 50 mm
    assert ink(first, 55) == 255 and ink(first, 5) == 255  # the page sharing its resources
    assert ink(third, 55) == 255 and ink(fourth, 55) == 255
    # Each page still has its own text, and the sheet's form is written once.
    texts = [page.extract_text().strip() for page in PdfReader(io.BytesIO(out.getvalue())).pages]
    assert texts == ["one", "two", "one", "two"]


def test_anchors_are_border_boxes():
    """What stamps.py reads from WeasyPrint's public Page.anchors: each stamped block's border
    box, on every page it reaches. An upgrade that changes this fails here first."""
    html = (
        "<style>@page { size: 400px 300px; margin: 0 } body { margin: 0 }"
        " p { padding: 5px; border: 2px solid; margin: 20px 30px 0 }</style>"
        '<p id="letter-stamp-3" style="height: 50px">x</p>'
        f'<p id="letter-stamp-4">{"line<br>" * 40}</p>'  # runs onto the next page
    )
    pages = HTML(string=html).render().pages
    first = sorted(stamps.stamped_boxes(pages[0]))
    assert first[0] == (3, 30, 20, 64)  # 50 high, 5 padding and 2 border above and below
    assert first[1][:3] == (4, 30, 104)
    assert [number for number, *_ in stamps.stamped_boxes(pages[1])] == [4]
    assert list(stamps.measure(HTML(string=html).render(), 0)) == [3]  # 4 is no stamp
