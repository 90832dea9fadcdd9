"""A joiner with pikepdf (qpdf) in place of letters/printing/join.py's own writer, to measure.

The same interface as PdfJoiner: append() parts with bookmarks and stamp overlays, close()
writes the file. qpdf keeps the whole output in memory until it is saved, where PdfJoiner
writes each part as it arrives; benchmarks/batch_pdf.py (`--ways batch batch-pikepdf`) and
benchmarks/join_pdf.py measure what that costs. pikepdf is not among the project's
dependencies: `.venv/bin/pip install pikepdf` to run them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import pikepdf

from letters.printing.stamps import Overlay


class PikepdfJoiner:
    """Append whole PDFs to one output; close() saves it to the stream."""

    def __init__(
        self, out: BinaryIO, title: str = "", sheets: Sequence[bytes | str | Path] = ()
    ) -> None:
        self._out = out
        self._pdf = pikepdf.Pdf.new()
        self._sheets = list(sheets)
        self._sheet_pdfs: dict[int, pikepdf.Pdf] = {}
        self._forms: dict[tuple[int, int], pikepdf.Object] = {}
        self._parts: list[pikepdf.Pdf] = []  # qpdf copies lazily: kept open until saved
        self._bookmarks: list[tuple[str, int]] = []
        self._title = title
        self._closed = False

    @property
    def page_count(self) -> int:
        return len(self._pdf.pages)

    def append(
        self,
        source: bytes | str | Path,
        bookmark: str = "",
        overlays: Mapping[int, Sequence[Overlay]] | None = None,
    ) -> int:
        part = _open(source)
        self._parts.append(part)
        first = len(self._pdf.pages)
        self._pdf.pages.extend(part.pages)
        for index, drawn in (overlays or {}).items():
            page = self._pdf.pages[first + index]
            for overlay in drawn:
                form, box = self._form(overlay.sheet, overlay.sheet_page)
                page.add_overlay(
                    form,
                    pikepdf.Rectangle(
                        box.llx + overlay.dx,
                        box.lly + overlay.dy,
                        box.urx + overlay.dx,
                        box.ury + overlay.dy,
                    ),
                )
        if bookmark and len(self._pdf.pages) > first:
            self._bookmarks.append((bookmark, first))
        return len(self._pdf.pages) - first

    def _form(self, sheet: int, sheet_page: int) -> tuple[pikepdf.Object, pikepdf.Rectangle]:
        """A sheet page as a form XObject of the output, made on first use."""
        key = (sheet, sheet_page)
        if key not in self._forms:
            if sheet not in self._sheet_pdfs:
                self._sheet_pdfs[sheet] = _open(self._sheets[sheet])
            page = self._sheet_pdfs[sheet].pages[sheet_page]
            self._forms[key] = self._pdf.copy_foreign(page.as_form_xobject())
        form = self._forms[key]
        return form, pikepdf.Rectangle(form.BBox)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bookmarks:
            with self._pdf.open_outline() as outline:
                for title, page in self._bookmarks:
                    outline.root.append(pikepdf.OutlineItem(title, page))
            self._pdf.Root.PageMode = pikepdf.Name.UseOutlines
        self._pdf.docinfo["/Producer"] = "letters"
        if self._title:
            self._pdf.docinfo["/Title"] = self._title
        self._pdf.save(self._out)
        for part in [*self._parts, *self._sheet_pdfs.values()]:
            part.close()


def _open(source: bytes | str | Path) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(source) if isinstance(source, bytes) else source)
