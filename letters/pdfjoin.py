"""Join PDFs into one file as they arrive, holding only the one being copied in memory.

pypdf's PdfWriter keeps every page of the result in memory until it writes, so its memory
grows with the batch. PdfJoiner reads each part with pypdf, renumbers the objects its pages
reach, writes them to the output straight away and keeps only their offsets (a few bytes an
object); the page tree, the bookmarks and the cross-reference table are written at the end.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    TextStringObject,
)

_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def _ref(number: int) -> IndirectObject:
    """A reference to an object of the output (pypdf wants no reader for writing one)."""
    return IndirectObject(number, 0, None)  # type: ignore[arg-type]


class PdfJoiner:
    """Append whole PDFs (or their pages) to one output stream; close() finishes the file."""

    def __init__(self, out: BinaryIO, title: str = "") -> None:
        self._out = out
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

    def append(self, source: bytes | str | Path, bookmark: str = "") -> int:
        """Copy every page of a PDF to the end; a bookmark opens at its first page."""
        reader = PdfReader(io.BytesIO(source) if isinstance(source, bytes) else source)
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
        while queue:
            ref, number = queue.pop()
            obj = ref.get_object()
            if number in page_numbers:
                assert isinstance(obj, DictionaryObject)
                obj[NameObject("/Parent")] = _ref(self._pages_root)
            self._write(
                number, self._remap(obj, renumbered, queue, skip_parent=number in page_numbers)
            )
        if bookmark and len(self._pages) > first:
            self._bookmarks.append((bookmark, first))
        return len(self._pages) - first

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
