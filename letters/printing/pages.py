"""Render a print run's jobs to PDF parts, in the pool's processes (or in the caller's).

BatchRenderer lays out letters with the single-letter renderer (letters/printing/letter.py)
and cover sheets, blank letters, labels and envelopes with batch.css; a stamp sheet's parts
are measured where they fell (letters/printing/stamps.py). Each pool process builds one
renderer, warms it and freezes what lives on; parts go back as file paths, which cross
processes more cheaply than bytes.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.forkserver
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from letters.domain.compose import Recipient
from letters.printing import stamps as stamping
from letters.printing.plan import Cover, Job
from letters.printing.stamps import Placement, Stamp, StampMap

if TYPE_CHECKING:
    from weasyprint import CSS, Document

    from letters.printing.letter import PdfRenderer

# WeasyPrint is imported only where pages are rendered (the pool's processes, which fork from
# a server process that preloaded it): the process that plans and joins stays ~40 MB smaller.
RENDER_MODULES = [
    "letters.printing.pages",
    "letters.printing.letter",
    "letters.printing.stamps",
    "letters.printing.render_server",  # last: it freezes what the others built
]
BATCH_STYLESHEET = (
    Path(__file__).resolve().parent.parent.parent / "templates" / "letters" / "batch.css"
)


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


class BatchRenderer:
    """Renders jobs: the letters with the single-letter renderer, the rest with batch.css."""

    def __init__(self, letters: PdfRenderer | None = None) -> None:
        from weasyprint import CSS

        from letters.printing.letter import ASSET_SCHEME, default_renderer

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
        from letters.printing.letter import ASSET_SCHEME, PrintHTML

        return PrintHTML(
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


def start_render_server() -> multiprocessing.context.BaseContext:
    """Start the server process the pool's processes fork from, if it is not running yet.

    It takes most of a second to start (a new interpreter importing WeasyPrint), so a caller
    with other work to do first (reading an attendee file, say) starts it before that work.
    """
    # Forking the caller directly would copy a web server's or Celery worker's threads and
    # Pango state; "forkserver" forks from a small process that imported only RENDER_MODULES.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(RENDER_MODULES)
    multiprocessing.forkserver.ensure_running()
    return context


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose processes fork from a clean server process that has the libraries loaded."""
    context = start_render_server()
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
