"""Print an event's letters at once: cover sheets, letters, blank letters, labels and envelopes.

The work is cut into chunks (never spanning two electorates) that a pool of processes, one per
core, renders with one font configuration each; the parent joins the chunks in order with
PdfJoiner as they arrive, so memory stays flat however long the batch. What several letters
print (campaign paragraphs, a member's address...) is laid out once, on stamp sheets rendered
before the letters, and drawn into each letter as it is joined (letters/stamps.py). No Flask:
the Celery task, `letters batch-pdf` and the benchmarks call render_batch().
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
import re
import shutil
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from letters import stamps as stamping
from letters.domain.compose import Letter, Recipient
from letters.pdfjoin import PdfJoiner
from letters.stamps import Placement, Stamp, StampMap

if TYPE_CHECKING:
    from weasyprint import CSS, Document

    from letters.pdf import PdfRenderer

# WeasyPrint is imported only where pages are rendered (the pool's processes, which fork from
# a server process that preloaded it): the process that plans and joins stays ~40 MB smaller.
RENDER_MODULES = ["letters.batch", "letters.pdf", "letters.stamps"]
BATCH_STYLESHEET = Path(__file__).resolve().parent.parent / "templates" / "letters" / "batch.css"
CHUNK_LETTERS = 20  # letters per chunk: big enough to share a PDF write, small enough to spread
LABELS_PER_SHEET = 21  # Avery L7160: 3 across, 7 down, 63.5 x 38.1 mm
LABEL_SHEETS_PER_CHUNK = 8
ENVELOPES_PER_CHUNK = 40
SENDERS_LISTED = 150  # names listed on a cover sheet before "and N more"
STAMPS_PER_SHEET = 40  # a sheet job: short enough to spread over the pool, and to stay small

Progress = Callable[[int, int, str], None]  # (letters done, letters in all, stage)


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


@dataclass
class BatchResult:
    """What was written."""

    letters: int = 0
    pages: int = 0
    electorates: int = 0
    files: list[Path] = field(default_factory=list)


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


@dataclass(frozen=True)
class Part:
    """A rendered job: its PDF file, and where its letters' stamps go."""

    path: str
    placements: tuple[Placement, ...] = ()


@dataclass(frozen=True)
class Sheet:
    """A rendered stamp sheet: its PDF file, and each of its stamps' place on it."""

    path: str
    stamps: dict[int, Stamp]


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


class BatchRenderer:
    """Renders jobs: the letters with the single-letter renderer, the rest with batch.css."""

    def __init__(self, letters: PdfRenderer | None = None) -> None:
        from weasyprint import CSS

        from letters.pdf import ASSET_SCHEME, default_renderer

        self.letters = letters or default_renderer()
        self.stylesheet = CSS(
            string=BATCH_STYLESHEET.read_text(encoding="utf-8"),
            base_url=f"{ASSET_SCHEME}:",
            url_fetcher=self.letters.url_fetcher,
            font_config=self.letters.font_config,
        )
        environment = self.letters.environment
        self.templates = {
            name: environment.get_template(f"letters/{name}.html")
            for name in ("cover", "blank", "labels", "envelopes")
        }
        self._cache: dict[str, object] = {}
        self._extra_css: dict[str, CSS] = {}

    def _css(self, text: str) -> CSS:
        """A stylesheet from text, parsed once per process (a batch sends the same each job)."""
        from weasyprint import CSS

        found = self._extra_css.get(text)
        if found is None:
            if len(self._extra_css) > 8:
                self._extra_css.clear()
            found = self._extra_css[text] = CSS(string=text, font_config=self.letters.font_config)
        return found

    def _layout(self, html: str, *stylesheets: CSS) -> Document:
        from weasyprint import HTML

        from letters.pdf import ASSET_SCHEME

        return HTML(
            string=html, base_url=f"{ASSET_SCHEME}:", url_fetcher=self.letters.url_fetcher
        ).render(
            stylesheets=list(stylesheets),
            font_config=self.letters.font_config,
            cache=self._cache,
        )

    def render_sheet(self, stamps: StampMap, index: int) -> tuple[bytes, dict[int, Stamp]]:
        """The batch's `index`th stamp sheet as PDF bytes, and where each stamp sits on it."""
        html = self.letters.environment.get_template("letters/stamps.html").render(
            blocks=stamps.blocks()
        )
        sheet = self._layout(html, self.letters.stylesheet, self._css(stamping.SHEET_CSS))
        return sheet.write_pdf(), stamping.measure(sheet, index)

    def _page(self, template: str, **context: object) -> Document:
        return self._layout(self.templates[template].render(**context), self.stylesheet)

    def render(self, job: Job) -> tuple[bytes, list[Placement]]:
        """One job as PDF bytes, its documents laid out one by one; where its stamps go."""
        documents: list[Document] = []
        pages = []
        found: list[Placement] = []
        if job.kind == "letters":
            if job.cover is not None:
                documents.append(self._page("cover", cover=job.cover))
            sheets = [self.letters.stylesheet]
            if job.stamps:
                sheets.append(self._css(job.stamp_css))
            for letter in job.letters:
                # One document per letter: its own "page 2 of 3" and first-page layout.
                html = self.letters.render_html(letter, job.stamps)
                documents.append(self._layout(html, *sheets))
            pages = [page for document in documents for page in document.pages]
            if job.stamps:
                found = stamping.placements(pages)
            if job.blank and job.recipient is not None:
                blank = self._page("blank", recipient=job.recipient)
                documents.append(blank)
                # The blank letter is the same each time: lay it out once, print it N times.
                pages += blank.pages * job.blank
        else:
            documents.append(self._page(job.kind, addresses=job.addresses))
            pages = list(documents[0].pages)
        return documents[0].copy(pages).write_pdf(), found

    def warm_up(self) -> None:
        """Load fonts and templates before the first real job."""
        self.letters.warm_up()
        self._page("cover", cover=_SAMPLE_COVER)


_SAMPLE_COVER = Cover(Recipient("Alex Member", "Sample"), 1, 0, "", 1, 1, ("Sam Sample",), 0)
_worker_renderer: BatchRenderer | None = None


def _init_worker() -> None:
    """Pool process start-up: build and warm the renderer, then freeze what lives on."""
    global _worker_renderer
    _worker_renderer = BatchRenderer()
    _worker_renderer.warm_up()
    gc.collect()
    gc.freeze()


def _renderer() -> BatchRenderer:
    global _worker_renderer
    if _worker_renderer is None:
        _worker_renderer = BatchRenderer()
    return _worker_renderer


def run_job(job: Job, folder: str) -> Part:
    """Render a job to a file in folder (a path crosses processes more cheaply than bytes)."""
    renderer = _renderer()
    # WeasyPrint allocates fast enough that the collector runs every few milliseconds and finds
    # little; one collection per chunk instead is ~7% faster and frees the same memory.
    gc.disable()
    try:
        data, found = renderer.render(job)
    finally:
        gc.enable()
        gc.collect()
    path = Path(folder) / f"part-{job.index:06d}.pdf"
    path.write_bytes(data)
    return Part(str(path), tuple(found))


def run_sheet(stamps: StampMap, index: int, folder: str) -> Sheet:
    """Render a batch's `index`th stamp sheet to a file in folder."""
    data, found = _renderer().render_sheet(stamps, index)
    path = Path(folder) / f"stamps-{index:04d}.pdf"
    path.write_bytes(data)
    return Sheet(str(path), found)


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose processes fork from a clean server process that has the libraries loaded."""
    # Forking the caller directly would copy a web server's or Celery worker's threads and
    # Pango state; "forkserver" forks from a small process that imported only this module.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(RENDER_MODULES)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)


def safe_filename(text: str) -> str:
    """'Eden-Monaro (NSW)' -> 'eden-monaro-nsw'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "file"


class _Outputs:
    """The open output files; takes rendered parts in order and joins them."""

    def __init__(
        self,
        targets: Targets,
        groups: Sequence[Electorate],
        options: BatchOptions,
        sheets: Sequence[Sheet] = (),
    ) -> None:
        self.targets = targets
        self.groups = groups
        self.sheets = [sheet.path for sheet in sheets]
        self.stamps = {n: stamp for sheet in sheets for n, stamp in sheet.stamps.items()}
        self.files: list[BinaryIO] = []
        self.main = self._joiner(self._open(targets.pdf), options.title)
        self.zip = zipfile.ZipFile(targets.zip, "w", zipfile.ZIP_STORED) if targets.zip else None
        self.group: int = -1
        self.group_file: Path | None = None
        self.group_joiner: PdfJoiner | None = None
        self.others: dict[str, PdfJoiner] = {}
        self.pages = 0

    def _open(self, path: Path) -> BinaryIO:
        handle = path.open("wb")
        self.files.append(handle)
        return handle

    def _joiner(self, handle: BinaryIO, title: str) -> PdfJoiner:
        return PdfJoiner(handle, title=title, sheets=self.sheets)

    def add(self, job: Job, rendered: Part) -> None:
        part = Path(rendered.path)
        if job.kind != "letters":
            target = self.targets.labels if job.kind == "labels" else self.targets.envelopes
            assert target is not None
            if job.kind not in self.others:
                self.others[job.kind] = PdfJoiner(self._open(target), title=job.kind.title())
            self.others[job.kind].append(part)
            return
        bookmark = ""
        if job.cover is not None:
            recipient = job.cover.recipient
            bookmark = f"{recipient.division} ({recipient.state}): {job.cover.count} letters"
        overlays = None
        if rendered.placements:
            overlays = stamping.overlays(rendered.placements, self.stamps)
        self.pages += self.main.append(part, bookmark=bookmark, overlays=overlays)
        if self.zip is not None:
            if job.group != self.group:
                self._finish_group()
                self._start_group(job.group)
            assert self.group_joiner is not None
            self.group_joiner.append(part, overlays=overlays)

    def _start_group(self, number: int) -> None:
        assert self.targets.zip is not None
        self.group = number
        self.group_file = self.targets.zip.with_name(f".{self.targets.zip.name}.{number}.pdf")
        handle = self.group_file.open("wb")
        recipient = self.groups[number].recipient
        self.group_joiner = self._joiner(handle, f"Letters to {recipient.name} MP")

    def _finish_group(self) -> None:
        if self.group_joiner is None or self.group_file is None or self.zip is None:
            return
        self.group_joiner.close()
        self.group_joiner._out.close()
        recipient = self.groups[self.group].recipient
        name = f"{self.group + 1:03d}-{recipient.state}-{safe_filename(recipient.division)}.pdf"
        self.zip.write(self.group_file, name)
        self.group_file.unlink()
        self.group_joiner = None
        self.group_file = None

    def close(self) -> None:
        self._finish_group()
        if self.zip is not None:
            self.zip.close()
        self.main.close()
        for joiner in self.others.values():
            joiner.close()
        for handle in self.files:
            handle.close()

    def abort(self) -> None:
        for handle in self.files:
            handle.close()
        if self.group_file is not None:
            self.group_file.unlink(missing_ok=True)


def render_batch(
    groups: Sequence[Electorate],
    targets: Targets,
    options: BatchOptions | None = None,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> BatchResult:
    """Render every group's cover, letters and blank letters, plus labels and envelopes."""
    options = options or BatchOptions()
    jobs = plan(groups, targets, options)
    total = sum(len(group.letters) for group in groups)
    workers = min(workers or usable_cores(), len(jobs)) or 1
    report = progress or (lambda done, all_, stage: None)
    result = BatchResult(letters=total, electorates=len(groups))
    targets.pdf.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".batch-", dir=targets.pdf.parent))
    pool = executor or (process_pool(workers) if workers > 1 else None)
    outputs: _Outputs | None = None
    done = 0
    report(0, total, "letters")
    try:
        stamps = stamping.plan(letter for group in groups for letter in group.letters)
        sheets = _render_sheets(stamps, str(folder), pool) if stamps else []
        if sheets:
            jobs = _with_stamps(jobs, stamps, sheets)
        outputs = _Outputs(targets, groups, options, sheets)
        for job, part in _run(jobs, str(folder), pool, workers):
            outputs.add(job, part)
            Path(part.path).unlink()
            if job.kind == "letters":
                done += len(job.letters)
            report(done, total, job.kind)
        outputs.close()
    except BaseException:
        if outputs is not None:
            outputs.abort()
        raise
    finally:
        if pool is not None and executor is None:
            pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(folder, ignore_errors=True)
    assert outputs is not None
    result.pages = outputs.pages
    result.files = [p for p in (targets.pdf, targets.zip, targets.labels, targets.envelopes) if p]
    report(total, total, "done")
    return result


def _render_sheets(stamps: StampMap, folder: str, pool: Executor | None) -> list[Sheet]:
    """The batch's stamp sheets, rendered before any letter (their jobs need the heights)."""
    groups = stamps.split(STAMPS_PER_SHEET)
    if pool is None:
        return [run_sheet(group, index, folder) for index, group in enumerate(groups)]
    futures = [pool.submit(run_sheet, group, index, folder) for index, group in enumerate(groups)]
    return [future.result() for future in futures]


def _with_stamps(jobs: Sequence[Job], planned: StampMap, sheets: Sequence[Sheet]) -> list[Job]:
    """Each letters job with the stamps its letters print, and every stamp's height."""
    measured = {number for sheet in sheets for number in sheet.stamps}
    stamps = planned.only(measured)  # not the parts too tall to stamp
    # One stylesheet for the whole batch, so each process parses it once.
    css = stamping.placeholder_css(stamp for sheet in sheets for stamp in sheet.stamps.values())
    return [
        dataclasses.replace(job, stamps=stamps.for_letters(job.letters), stamp_css=css)
        if job.kind == "letters" and job.letters
        else job
        for job in jobs
    ]


def _run(
    jobs: Sequence[Job], folder: str, pool: Executor | None, workers: int
) -> Iterator[tuple[Job, Part]]:
    """Jobs' rendered parts, in job order; rendered in this process or by a pool."""
    if pool is None:
        for job in jobs:
            yield job, run_job(job, folder)
        return
    # A few jobs ahead per process keeps every process busy without piling up finished parts.
    ahead = 2 * workers
    pending: deque[tuple[Job, Future[Part]]] = deque()
    upcoming = iter(jobs)
    for job in upcoming:
        pending.append((job, pool.submit(run_job, job, folder)))
        if len(pending) >= ahead:
            break
    while pending:
        job, future = pending.popleft()
        part = future.result()
        following = next(upcoming, None)
        if following is not None:
            pending.append((following, pool.submit(run_job, following, folder)))
        yield job, part
