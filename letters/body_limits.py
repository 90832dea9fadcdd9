"""How large a request body may be, per route, however it is sent.

Werkzeug enforces `Request.max_content_length` both on a `Content-Length` (at once, before
reading) and on a chunked body (while reading: the stream raises 413 past the limit, as long
as the server marks the stream as terminated, which Werkzeug's server and gunicorn do).
Forms are parsed in CSRF's `before_request`, before any view runs, so a view cannot set its
own limit in time: this request class reads it from the matched view instead.

Every route gets `MAX_CONTENT_LENGTH` (LETTERS_MAX_FORM_BYTES) unless its view is marked
with `@body_limit(...)`; and only a view marked `json=True` takes a JSON body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TypeVar

from flask import Flask, Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

View = TypeVar("View", bound=Callable[..., object])
ATTRIBUTE = "max_body_bytes"
JSON_ATTRIBUTE = "takes_json"


def body_limit(size: int, *, json: bool = False) -> Callable[[View], View]:
    """Let this view take a body of up to `size` bytes (put it below the route decorator)."""

    def mark(view: View) -> View:
        setattr(view, ATTRIBUTE, size)
        setattr(view, JSON_ATTRIBUTE, json)
        return view

    return mark


def init_app(app: Flask) -> None:
    """Use the limits; call before CSRF's init, whose check must not see a refused body."""
    app.request_class = LimitedRequest

    @app.before_request
    def _forms_take_forms() -> None:
        # Flask-WTF fills a form from a JSON body when there is one, and fails with a
        # TypeError or UnicodeDecodeError when it is not an object: only a view that reads
        # JSON itself takes it.
        if request.method == "POST" and request.is_json:
            view = app.view_functions.get(request.endpoint or "")
            if not getattr(view, JSON_ATTRIBUTE, False):
                raise UnsupportedMediaType("This page takes a form, not JSON.")


class LimitedRequest(Request):
    """A request whose body limit is its view's, or the site's default."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None or not current_app:
            return super().max_content_length
        view = current_app.view_functions.get(self.endpoint or "")
        size = getattr(view, ATTRIBUTE, None)
        if size is None:
            size = super().max_content_length
        if self.mimetype == "application/x-www-form-urlencoded" and size is not None:
            # Such a form is parsed in memory whole (a file comes as multipart, and goes to
            # disk): a route that takes a large upload takes no large urlencoded body.
            size = min(size, self.max_form_memory_size or size)
        if size is not None and self.content_length is None:
            # Werkzeug's stream refuses any read once a chunked body reaches the limit, even
            # its final empty one: one byte of slack lets a body of exactly `size` through.
            size += 1
        return size

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _load_form_data(self) -> None:
        limit = self.max_content_length
        if (
            "form" not in self.__dict__
            and self.content_length is None
            and self.mimetype == "application/x-www-form-urlencoded"
            and limit is not None
        ):
            # Werkzeug reads such a body only up to the limit and parses what it got: a
            # chunked form over it would be cut short silently. Refuse it instead (413).
            self._cached_data = read_at_most(self.stream, limit - 1)
        super()._load_form_data()

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # Remembered, so that an upload refused halfway (413) still has its temporary file
        # closed with the request: Werkzeug closes only the files of a form it finished.
        stream = super()._get_file_stream(
            total_content_length, content_type, filename, content_length
        )
        self.__dict__.setdefault("_upload_streams", []).append(stream)
        return stream

    def close(self) -> None:
        super().close()
        for stream in self.__dict__.pop("_upload_streams", ()):
            stream.close()


def read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """The whole body, reading no more than `limit` + 1 bytes; 413 if it is longer."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = stream.read(min(64 * 1024, limit + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
    raise RequestEntityTooLarge()
