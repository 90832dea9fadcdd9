"""CSV downloads, streamed: a row leaves as soon as the database gives it, so a large export
never sits in memory. UTF-8 with a BOM (Excel then reads it as UTF-8; LibreOffice too) and
every cell formula-safe, as every CSV the site writes."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context

from letters.domain.attendees import spreadsheet_safe

BOM = "\ufeff"
# csv quotes a cell holding CR or LF but not these, which some readers take for line ends.
LINE_SEPARATORS = frozenset("\u2028\u2029\x85\x0b\x0c")


def _cell(value: object) -> str:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).isoformat(timespec="seconds")
    elif isinstance(value, dt.date):
        value = value.isoformat()
    return spreadsheet_safe(value)


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The CSV text, one line at a time, BOM first."""
    buffer = io.StringIO()
    plain = csv.writer(buffer, lineterminator="\r\n")
    quoted = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    yield BOM
    plain.writerow([_cell(c) for c in header])
    for row in rows:
        cells = [_cell(c) for c in row]
        breaks = any(ch in LINE_SEPARATORS for cell in cells for ch in cell)
        (quoted if breaks else plain).writerow(cells)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_download(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    response = Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
