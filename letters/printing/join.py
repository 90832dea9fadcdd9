"""Join PDFs into one file as they arrive, holding only the one being copied in memory.

PdfJoiner reads each part with pypdf, renumbers the objects its pages reach, writes them to
the output straight away and keeps only their offsets (a few bytes an object); the page tree,
the bookmarks and the cross-reference table are written at the end. pypdf's PdfWriter, and
pikepdf's (qpdf's) Pdf, keep the whole result in memory until they write, so their memory
grows with the batch: benchmarks/join_pdf.py measured joining 5,000 letters' parts at 6.2 s
and 77 MB with PdfJoiner against 7.5 s and 655 MB with pikepdf (1,000 letters: 1.5 s and
74 MB against 1.3 s and 179 MB), so this writer stays.

It can also draw pages of "sheet" PDFs over the pages it copies (letters/printing/stamps.py
prints a batch's shared paragraphs that way): each sheet page becomes one form XObject in the
output, written the first time a page uses it, and each use costs a few bytes of content. A
joiner keeps the sheets it has used open (they are small) until it is closed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    TextStringObject,
)

from letters.printing.stamps import Overlay

_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def _ref(number: int) -> IndirectObject:
    """A reference to an object of the output (pypdf wants no reader for writing one)."""
    return IndirectObject(number, 0, None)  # type: ignore[arg-type]


Overlays = Mapping[int, Sequence[Overlay]]  # by index of the page in the appended PDF


class PdfJoiner:
    """Append whole PDFs (or their pages) to one output stream; close() finishes the file."""

    def __init__(
        self, out: BinaryIO, title: str = "", sheets: Sequence[bytes | str | Path] = ()
    ) -> None:
        self._out = out
        self._sheets = list(sheets)
        self._sheet_readers: dict[int, PdfReader] = {}  # opened on first use
        self._sheet_renumbered: dict[int, dict[int, int]] = {}
        self._forms: dict[tuple[int, int], int] = {}  # (sheet, page) -> form XObject
        self._save_state: int | None = None  # a "q" content stream, written on first use
        self._start = out.tell()
        self._offsets: list[int] = [0]  # by object number; 0 is the free-list head
        self._pages: list[int] = []
        self._bookmarks: list[tuple[str, int]] = []  # title, index of the page it opens
        self._title = title
        self._closed = False
        out.write(_HEADER)
        # Pages point at their parent, so its number is fixed before the first page is copied.
        self._pages_root = self._reserve()

    @property
    def page_count(self) -> int:
        return len(self._pages)

    def append(
        self, source: bytes | str | Path, bookmark: str = "", overlays: Overlays | None = None
    ) -> int:
        """Copy every page of a PDF to the end; a bookmark opens at its first page.

        `overlays` draws pages of the sheets over some of the copied pages.
        """
        reader = _reader(source)
        first = len(self._pages)
        renumbered: dict[int, int] = {}
        queue: list[tuple[IndirectObject, int]] = []
        page_numbers: set[int] = set()
        for page in reader.pages:
            # reader.pages has already copied inherited attributes (MediaBox, Resources...)
            # into each page, so it stands alone under its new parent.
            ref = page.indirect_reference
            assert ref is not None
            number = self._renumber(ref, renumbered, queue)
            self._pages.append(number)
            page_numbers.add(number)
        for index, drawn in (overlays or {}).items():
            ref = reader.pages[index].indirect_reference
            page = ref.get_object() if ref is not None else None
            if drawn and isinstance(page, DictionaryObject):
                # The very object the queue below copies (reader.pages may wrap a copy of it).
                self._add_overlays(page, drawn)
        while queue:
            ref, number = queue.pop()
            obj = ref.get_object()
            is_page = number in page_numbers
            if is_page:
                assert isinstance(obj, DictionaryObject)
                obj[NameObject("/Parent")] = _ref(self._pages_root)
            self._write(number, self._remap(obj, renumbered, queue, skip_parent=is_page))
        if bookmark and len(self._pages) > first:
            self._bookmarks.append((bookmark, first))
        return len(self._pages) - first

    def _add_overlays(self, page: DictionaryObject, drawn: Sequence[Overlay]) -> None:
        """Before a page is copied: name the overlays' forms in its resources, draw them last."""
        # The forms are written first, so the page refers to them by their output numbers,
        # which _remap() leaves alone. The resources may be shared with other pages of the PDF,
        # which is harmless: a name that a page does not use costs a few bytes.
        resources = page["/Resources"]
        assert isinstance(resources, DictionaryObject)
        xobjects = resources.get("/XObject")
        if xobjects is None:
            xobjects = resources[NameObject("/XObject")] = DictionaryObject()
        xobjects = xobjects.get_object()
        assert isinstance(xobjects, DictionaryObject)
        # The newline ends the page's last operator, whatever a reader makes of stream ends.
        operations = [b"\nQ"]  # ends the "q" put before the page's own content
        for overlay in drawn:
            name = f"/LetterSheet{overlay.sheet}-{overlay.sheet_page}"
            xobjects[NameObject(name)] = _ref(self._form(overlay.sheet, overlay.sheet_page))
            operations.append(
                f"q 1 0 0 1 {overlay.dx:.4f} {overlay.dy:.4f} cm {name} Do Q".encode("ascii")
            )
        if self._save_state is None:
            self._save_state = self._write_stream(b"q\n")
        contents = page.get("/Contents")  # raw: a reference, or an array of them
        if isinstance(contents, IndirectObject) and isinstance(contents.get_object(), ArrayObject):
            contents = contents.get_object()
        if contents is None:
            own = []
        else:
            own = list(contents) if isinstance(contents, ArrayObject) else [contents]
        # The page's own content may leave its coordinates changed (WeasyPrint's does), so it
        # runs between q and Q and the overlays start from the page's default coordinates.
        page[NameObject("/Contents")] = ArrayObject(
            [_ref(self._save_state), *own, _ref(self._write_stream(b"\n".join(operations)))]
        )

    def _form(self, sheet: int, sheet_page: int) -> int:
        """The output object of a sheet page as a form XObject, written on first use."""
        number = self._forms.get((sheet, sheet_page))
        if number is not None:
            return number
        reader = self._sheet_readers.get(sheet)
        if reader is None:
            reader = self._sheet_readers[sheet] = _reader(self._sheets[sheet])
        renumbered = self._sheet_renumbered.setdefault(sheet, {})
        page = reader.pages[sheet_page]
        contents = page.get("/Contents")
        streams = contents.get_object() if contents is not None else ArrayObject()
        if not isinstance(streams, ArrayObject):
            streams = ArrayObject([streams])
        form = DecodedStreamObject()
        form.set_data(b"\n".join(stream.get_object().get_data() for stream in streams))
        form = form.flate_encode()
        form.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Form"),
                NameObject("/BBox"): ArrayObject(page.mediabox),
                # raw_get keeps the reference: the sheet's pages share one resources object.
                NameObject("/Resources"): page.raw_get("/Resources"),
            }
        )
        queue: list[tuple[IndirectObject, int]] = []
        form = self._remap(form, renumbered, queue)
        while queue:
            ref, queued = queue.pop()
            self._write(queued, self._remap(ref.get_object(), renumbered, queue))
        number = self._forms[sheet, sheet_page] = self._reserve()
        self._write(number, form)
        return number

    def _write_stream(self, data: bytes) -> int:
        stream = DecodedStreamObject()
        stream.set_data(data)
        number = self._reserve()
        self._write(number, stream)
        return number

    def close(self) -> None:
        """Write the page tree, bookmarks, document information and cross-reference table."""
        if self._closed:
            return
        self._closed = True
        kids = ArrayObject(_ref(n) for n in self._pages)
        pages = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Pages"),
                NameObject("/Kids"): kids,
                NameObject("/Count"): NumberObject(len(self._pages)),
            }
        )
        self._write(self._pages_root, pages)
        catalog = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Catalog"),
                NameObject("/Pages"): _ref(self._pages_root),
            }
        )
        outline = self._write_outline()
        if outline:
            catalog[NameObject("/Outlines")] = _ref(outline)
            catalog[NameObject("/PageMode")] = NameObject("/UseOutlines")
        root = self._reserve()
        self._write(root, catalog)
        info = self._reserve()
        info_dict = DictionaryObject({NameObject("/Producer"): TextStringObject("letters")})
        if self._title:
            info_dict[NameObject("/Title")] = TextStringObject(self._title)
        self._write(info, info_dict)

        xref_at = self._out.tell() - self._start
        size = len(self._offsets)
        lines = [f"xref\n0 {size}\n", "0000000000 65535 f \n"]
        lines += [f"{offset:010d} 00000 n \n" for offset in self._offsets[1:]]
        self._out.write("".join(lines).encode("ascii"))
        self._out.write(
            f"trailer\n<< /Size {size} /Root {root} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{xref_at}\n%%EOF\n".encode("ascii")
        )

    def _reserve(self) -> int:
        self._offsets.append(-1)
        return len(self._offsets) - 1

    def _renumber(
        self,
        ref: IndirectObject,
        renumbered: dict[int, int],
        queue: list[tuple[IndirectObject, int]],
    ) -> int:
        number = renumbered.get(ref.idnum)
        if number is None:
            number = renumbered[ref.idnum] = self._reserve()
            queue.append((ref, number))
        return number

    def _remap(
        self,
        obj: PdfObject,
        renumbered: dict[int, int],
        queue: list[tuple[IndirectObject, int]],
        *,
        skip_parent: bool = False,
    ) -> PdfObject:
        """The object with every reference pointing at its new number (changed in place)."""
        if isinstance(obj, IndirectObject) and obj.pdf is None:
            return obj  # already an output reference: a form or stream written for overlays
        if isinstance(obj, IndirectObject):
            return _ref(self._renumber(obj, renumbered, queue))
        if isinstance(obj, DictionaryObject):  # streams too: their data is copied as it is
            for key, value in list(obj.items()):
                if skip_parent and key == "/Parent":
                    continue
                obj[key] = self._remap(value, renumbered, queue)
            return obj
        if isinstance(obj, ArrayObject):
            for index, value in enumerate(obj):
                obj[index] = self._remap(value, renumbered, queue)
            return obj
        return obj

    def _write(self, number: int, obj: PdfObject) -> None:
        self._offsets[number] = self._out.tell() - self._start
        self._out.write(f"{number} 0 obj\n".encode("ascii"))
        obj.write_to_stream(self._out)
        self._out.write(b"\nendobj\n")

    def _write_outline(self) -> int | None:
        """A flat list of bookmarks, one per appended part that asked for one."""
        if not self._bookmarks:
            return None
        outline = self._reserve()
        items = [self._reserve() for _ in self._bookmarks]
        for index, (title, page_index) in enumerate(self._bookmarks):
            item = DictionaryObject(
                {
                    NameObject("/Title"): TextStringObject(title),
                    NameObject("/Parent"): _ref(outline),
                    NameObject("/Dest"): ArrayObject(
                        [
                            _ref(self._pages[page_index]),
                            NameObject("/Fit"),
                        ]
                    ),
                }
            )
            if index > 0:
                item[NameObject("/Prev")] = _ref(items[index - 1])
            if index + 1 < len(items):
                item[NameObject("/Next")] = _ref(items[index + 1])
            self._write(items[index], item)
        self._write(
            outline,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Outlines"),
                    NameObject("/First"): _ref(items[0]),
                    NameObject("/Last"): _ref(items[-1]),
                    NameObject("/Count"): NumberObject(len(items)),
                }
            ),
        )
        return outline


def _reader(source: bytes | str | Path) -> PdfReader:
    return PdfReader(io.BytesIO(source) if isinstance(source, bytes) else source)
