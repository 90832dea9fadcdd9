"""CSV downloads, streamed: rows leave as the database gives them, so a large export never
sits in memory. UTF-8 with a BOM (so Excel reads it as UTF-8; LibreOffice does too), every
cell formula-safe, as every CSV the site writes (letters/domain/attendees.csv_lines)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context

from letters.domain.attendees import csv_lines

BOM = "\ufeff"


def _cell(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _with_bom(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    yield BOM
    yield from csv_lines(header, ([_cell(c) for c in row] for row in rows))


def csv_download(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    response = Response(stream_with_context(_with_bom(header, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
