"""A print run's plan: its letters grouped by electorate, then cut into jobs in output order.

Each job is a chunk a pool process renders (letters/printing/pages.py): never spanning two
electorates, so each bundle starts with its cover sheet; labels and envelopes come after the
letters. Plain data and no WeasyPrint: the process that plans is not the one that renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from letters.domain.compose import Letter, Recipient
from letters.printing.stamps import StampMap

CHUNK_LETTERS = 20  # letters per chunk: big enough to share a PDF write, small enough to spread
LABELS_PER_SHEET = 21  # Avery L7160: 3 across, 7 down, 63.5 x 38.1 mm
LABEL_SHEETS_PER_CHUNK = 8
ENVELOPES_PER_CHUNK = 40
SENDERS_LISTED = 150  # names listed on a cover sheet before "and N more"


@dataclass(frozen=True)
class Electorate:
    """The letters to one member, in print order, and how many blank letters to add."""

    recipient: Recipient
    letters: tuple[Letter, ...]
    blank: int = 0


@dataclass(frozen=True)
class Targets:
    """Where to write each output; None leaves that output out."""

    pdf: Path
    zip: Path | None = None  # one PDF per electorate
    labels: Path | None = None
    envelopes: Path | None = None


@dataclass(frozen=True)
class BatchOptions:
    """How to print: the heading on each cover sheet, and one address per letter or electorate."""

    heading: str = ""
    address_per: str = "letter"  # "letter" or "electorate": labels and envelopes
    title: str = "Letters to members"
    chunk_letters: int = CHUNK_LETTERS


@dataclass(frozen=True)
class Address:
    """One label or envelope: the member's address and, on envelopes, who it is from."""

    lines: tuple[str, ...]
    sender: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cover:
    """What a cover sheet says about its electorate's bundle."""

    recipient: Recipient
    count: int
    blank: int
    heading: str
    position: int
    electorates: int
    senders: tuple[str, ...]
    more_senders: int


@dataclass(frozen=True)
class Job:
    """One chunk for a pool process: some of an electorate's letters, labels or envelopes."""

    index: int
    kind: str  # "letters" | "labels" | "envelopes"
    group: int = -1  # the electorate, for letters
    cover: Cover | None = None
    letters: tuple[Letter, ...] = ()
    blank: int = 0
    recipient: Recipient | None = None  # for blank letters
    addresses: tuple[Address, ...] = ()
    stamps: StampMap | None = None  # the stamps its letters print, by number
    stamp_css: str = ""  # the batch's stamps' heights, for their empty blocks


def electorates(letters: Iterable[Letter], blank: int = 0) -> list[Electorate]:
    """Group letters already in print order by their member's division."""
    groups: list[Electorate] = []
    current: list[Letter] = []
    for letter in letters:
        if current and _division_key(current[0]) != _division_key(letter):
            groups.append(Electorate(current[0].recipient, tuple(current), blank))
            current = []
        current.append(letter)
    if current:
        groups.append(Electorate(current[0].recipient, tuple(current), blank))
    return groups


def _division_key(letter: Letter) -> tuple[str, str]:
    return (letter.recipient.state, letter.recipient.division)


def plan(groups: Sequence[Electorate], targets: Targets, options: BatchOptions) -> list[Job]:
    """Cut the batch into jobs, in output order: letters, then labels, then envelopes."""
    jobs: list[Job] = []
    size = max(1, options.chunk_letters)
    for number, group in enumerate(groups):
        senders = tuple(letter.sender.name for letter in group.letters)
        cover = Cover(
            recipient=group.recipient,
            count=len(group.letters),
            blank=group.blank,
            heading=options.heading,
            position=number + 1,
            electorates=len(groups),
            senders=senders[:SENDERS_LISTED],
            more_senders=max(0, len(senders) - SENDERS_LISTED),
        )
        starts = range(0, max(1, len(group.letters)), size)
        for start in starts:
            last = start == starts[-1]
            jobs.append(
                Job(
                    index=len(jobs),
                    kind="letters",
                    group=number,
                    cover=cover if start == 0 else None,
                    letters=group.letters[start : start + size],
                    blank=group.blank if last else 0,
                    recipient=group.recipient,
                )
            )
    addresses = list(_addresses(groups, options.address_per))
    for kind, target, per_job in (
        ("labels", targets.labels, LABELS_PER_SHEET * LABEL_SHEETS_PER_CHUNK),
        ("envelopes", targets.envelopes, ENVELOPES_PER_CHUNK),
    ):
        if target is None:
            continue
        for start in range(0, len(addresses), per_job):
            jobs.append(
                Job(index=len(jobs), kind=kind, addresses=tuple(addresses[start : start + per_job]))
            )
    return jobs


def _addresses(groups: Sequence[Electorate], per: str) -> Iterator[Address]:
    for group in groups:
        lines = group.recipient.address_lines
        if per == "electorate":
            yield Address(lines)
            continue
        for letter in group.letters:
            sender = (letter.sender.name, *letter.sender.address_lines)
            yield Address(lines, sender)
