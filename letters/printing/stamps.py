"""Lay out each campaign paragraph once for a whole batch, and print it in every letter.

WeasyPrint's cost is per line of text (benchmarks/pdf_cost.py), and most of a letter's lines
are the campaign's, the same in hundreds of letters of a batch. So a batch:

1. plans the stamps: the campaign paragraphs and points that two or more of its letters print,
   and the one-element parts they share (date, member's address, greeting, subject, closing);
2. lays each out once, alone on a page of a "stamp sheet" document, in the letter's own markup
   and print.css, and measures it;
3. lays each letter out with an empty block of the same classes and height in each stamped
   paragraph's place (_letter.html's `stamps`), and notes where those blocks fell;
4. while joining, draws the sheet's page over each empty block, moved to where it fell
   (letters/printing/join.py).

Campaign paragraphs are never split across pages (print.css), so an empty block stands for one
exactly: the letter's pages break where they would have, and every line lands where it would
have (tests/test_stamps.py compares the two). A part taller than a page could not be stamped
that way, so a sheet's pages have a continuation page's margins, and a part that ran over two
of them is printed as usual. One difference is invisible on paper: a stamp is drawn after the
rest of its page, so a program reading a batch PDF's text in drawing order meets the stamped
parts after the writer's own words. Single letters' PDFs are drawn in reading order as before.
No Flask, and WeasyPrint only where pages are laid out (the pool's processes): the parent
process plans and joins.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from letters.domain.compose import BulletList, Letter, Paragraph

if TYPE_CHECKING:
    from weasyprint import Document
    from weasyprint.document import Page

PT_PER_PX = 0.75  # WeasyPrint measures in CSS px (1/96 in); PDF in points (1/72 in)
# Where a stamp is, and how tall, is read from WeasyPrint's anchors: _letter.html and
# stamps.html give each stamped block the id letter-stamp-N, and Page.anchors maps each id on a
# page to its box. That attribute is public, but WeasyPrint documents its value as the box's
# top-left point, while WeasyPrint 70 gives the whole border box (x1, y1, x2, y2), which the
# heights need: pyproject.toml pins WeasyPrint to 70, and tests/test_stamps.py's
# test_anchors_are_border_boxes fails on a version that changes it.
ANCHOR = re.compile(r"letter-stamp-(\d+)")
# A sheet's pages carry nothing but their part: no running header, no fold marks. Every page
# has a continuation page's margins, so a part that would not fit on one runs over two.
SHEET_CSS = """
.letter-stamp-sheet { break-before: page; }
@page { @top-left { content: none; } @top-right { content: none; } }
@page :first { background: none; margin-top: 22mm; }
"""


# What a stamp stands for: ("paragraph" | "point", Paragraph), or (slot, the text printed).
Key = tuple[str, Paragraph | str]


def slot_texts(letter: Letter) -> dict[str, str]:
    """The letter's one-element parts, as _letter.html prints them, by slot name."""
    closing = letter.closing if letter.closing.endswith(",") else f"{letter.closing},"
    texts = {
        "date": letter.date_text,
        "recipient": "\n".join(letter.recipient.address_lines),
        "greeting": f"{letter.greeting},",
        "closing": closing,
    }
    if letter.subject:
        texts["subject"] = letter.subject
    return texts


def _keys(letter: Letter) -> Iterator[Key]:
    """Everything in a letter that could be a stamp: all but the writer's own words and name."""
    yield from slot_texts(letter).items()
    for block in letter.body:
        if isinstance(block, BulletList):
            yield from (("point", item) for item in block.items if not item.own)
        elif not block.own:
            yield "paragraph", block


@dataclass(frozen=True)
class StampMap:
    """Which parts of letters are stamps, by number; _letter.html asks it part by part."""

    numbers: dict[Key, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.numbers)

    def paragraph(self, block: Paragraph) -> int | None:
        return self.numbers.get(("paragraph", block))

    def point(self, item: Paragraph) -> int | None:
        return self.numbers.get(("point", item))

    def slot(self, name: str, text: str) -> int | None:
        return self.numbers.get((name, text))

    def blocks(self) -> list[tuple[int, str, Paragraph | str]]:
        """(number, kind, what it prints) for each stamp, in number order: a sheet's pages."""
        return sorted((n, kind, what) for (kind, what), n in self.numbers.items())

    def split(self, size: int) -> list[StampMap]:
        """The stamps in groups of at most `size`, one sheet each: rendered side by side, and
        no process has to lay out hundreds of pages at once."""
        keys = sorted(self.numbers, key=self.numbers.__getitem__)
        return [
            StampMap({key: self.numbers[key] for key in keys[start : start + size]})
            for start in range(0, len(keys), size)
        ]

    def only(self, numbers: Container[int]) -> StampMap:
        """The stamps with these numbers (those the sheets could print)."""
        return StampMap({key: n for key, n in self.numbers.items() if n in numbers})

    def for_letters(self, letters: Iterable[Letter]) -> StampMap:
        """Only the stamps these letters print: what a chunk's job needs to carry."""
        return StampMap(
            {
                key: self.numbers[key]
                for letter in letters
                for key in _keys(letter)
                if key in self.numbers
            }
        )


@dataclass(frozen=True)
class Stamp:
    """A stamp as laid out: its sheet and page, and its border box in CSS px on that page."""

    number: int
    sheet: int
    page: int
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class Overlay:
    """Draw a page of one of a joiner's sheets over a page, moved by (dx, dy) points."""

    sheet: int  # index in the joiner's sheets
    sheet_page: int
    dx: float
    dy: float


@dataclass(frozen=True)
class Placement:
    """Where a letter's empty block for a stamp fell: the page of its part, CSS px on it."""

    page: int
    number: int
    x: float
    y: float


# Whether stamping a part pays: laying it out on a sheet costs about as much as 8 lines of a
# letter (a page of its own: benchmarks/pdf_cost.py puts a line at ~0.4 ms, a document at ~3),
# and each letter after the first saves the part's lines. So a one-line greeting needs 9 letters,
# a member's six-line address 3, a four-line campaign point 3.
SHEET_COST_IN_LINES = 8
CHARACTERS_PER_LINE = 90  # about, at the letter's 9.5 pt across its 174 mm


def _lines(key: Key) -> int:
    """About how many lines a part takes."""
    what = key[1]
    if isinstance(what, Paragraph):
        return 1 + len(what.lead + what.text) // CHARACTERS_PER_LINE
    return 1 + what.count("\n")


def plan(letters: Iterable[Letter], minimum: int = 2) -> StampMap:
    """Number the parts that at least `minimum` letters print, where stamping them pays."""
    counts: Counter[Key] = Counter()
    for letter in letters:
        # dict.fromkeys: once per letter, in the letter's order, so numbers repeat run to run.
        counts.update(dict.fromkeys(_keys(letter), 1))
    shared = (
        key
        for key, count in counts.items()
        if count >= minimum and (count - 1) * _lines(key) >= SHEET_COST_IN_LINES
    )
    return StampMap({key: number for number, key in enumerate(shared)})


def placeholder_css(stamps: Iterable[Stamp]) -> str:
    """Each stamp's empty block gets its paragraph's height (and no bullet of its own)."""
    rules = [".letter-points .letter-stamp { background: none; }"]
    rules += [f".letter-stamp-{s.number} {{ height: {s.height!r}px; }}" for s in stamps]
    return "\n".join(rules)


def stamped_boxes(page: Page) -> Iterator[tuple[int, float, float, float]]:
    """(stamp number, x, y, height) of each block on a laid-out page that carries a stamp."""
    for name, box in page.anchors.items():
        found = ANCHOR.fullmatch(name)
        if found:
            x1, y1, _, y2 = box  # CSS px from the page's top left
            yield int(found.group(1)), x1, y1, y2 - y1


def measure(sheet: Document, index: int) -> dict[int, Stamp]:
    """Each stamp's page and border box on a laid-out stamp sheet (the batch's `index`th).

    A part that ran over two pages is left out: its letters print it as usual. (Each page a
    block spans has an anchor for it.)
    """
    found: dict[int, Stamp] = {}
    split: set[int] = set()
    for page_index, page in enumerate(sheet.pages):
        for number, x, y, height in stamped_boxes(page):
            if number in found:
                split.add(number)
            found[number] = Stamp(number, index, page_index, x, y, height)
    return {number: stamp for number, stamp in found.items() if number not in split}


def placements(pages: Sequence[Page]) -> list[Placement]:
    """Where each empty block fell on a part's laid-out pages."""
    return [
        Placement(index, number, x, y)
        for index, page in enumerate(pages)
        for number, x, y, _ in stamped_boxes(page)
    ]


def overlays(found: Iterable[Placement], stamps: dict[int, Stamp]) -> dict[int, list[Overlay]]:
    """For each page of a part that has stamps, the sheet pages to draw on it, and the move."""
    by_page: dict[int, list[Overlay]] = {}
    for placement in found:
        stamp = stamps[placement.number]
        # Both pages are A4, and y grows downwards in CSS but upwards in PDF.
        by_page.setdefault(placement.page, []).append(
            Overlay(
                stamp.sheet,
                stamp.page,
                (placement.x - stamp.x) * PT_PER_PX,
                (stamp.y - placement.y) * PT_PER_PX,
            )
        )
    return by_page
