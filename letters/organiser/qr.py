"""QR codes for the organiser's pages: inline SVG drawn by segno (no image file, no request)."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str, *, title: str) -> Markup:
    """The QR code of `text` as an <svg> element, named by `title` for screen readers.

    segno escapes the title and draws only paths, so the markup is safe to put in a page.
    Error correction "M" survives a creased or smudged table card.
    """
    code = segno.make(text, error="m")
    # No width or height: a viewBox instead, so that the page's CSS sizes it for screen and card.
    svg = code.svg_inline(title=title, svgclass="qr", lineclass=None, omitsize=True)
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 (see above)
