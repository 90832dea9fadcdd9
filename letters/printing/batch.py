"""Print a batch of letters at once: cover sheets, letters, blank letters, labels and envelopes.

render_batch() plans the jobs (plan.py), renders the stamp sheets and then the jobs on a pool
of processes, one per core (pages.py), and joins the parts in order as they arrive (join.py),
so memory stays flat however long the batch. What several letters print (campaign paragraphs,
a member's address...) is laid out once, on stamp sheets rendered before the letters, and
drawn into each letter as it is joined (stamps.py). No Flask: the print-run service (runs.py),
`letters batch-pdf` and the benchmarks call render_batch().
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from letters.printing import stamps as stamping
from letters.printing.join import PdfJoiner
from letters.printing.pages import Part, Sheet, process_pool, run_job, run_sheet, usable_cores
from letters.printing.plan import BatchOptions, Electorate, Job, Targets, plan
from letters.printing.stamps import StampMap

STAMPS_PER_SHEET = 40  # a sheet job: short enough to spread over the pool, and to stay small

Progress = Callable[[int, int, str], None]  # (letters done, letters in all, stage)


@dataclass
class BatchResult:
    """What was written."""

    letters: int = 0
    pages: int = 0
    electorates: int = 0
    files: list[Path] = field(default_factory=list)


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
