"""The benchmarks' baseline renderer: how a letter renders without the shared set-up."""

from __future__ import annotations

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from letters.domain.compose import Letter
from letters.printing.letter import ASSET_SCHEME, PRINT_STYLESHEET, AssetFetcher, default_renderer


def naive_render(letter: Letter) -> bytes:
    """Benchmark baseline only: new font configuration and stylesheet on every call."""
    renderer = default_renderer()
    font_config = FontConfiguration()
    url_fetcher = AssetFetcher()
    stylesheet = CSS(
        string=PRINT_STYLESHEET.read_text(encoding="utf-8"),
        base_url=f"{ASSET_SCHEME}:",
        url_fetcher=url_fetcher,
        font_config=font_config,
    )
    document = HTML(
        string=renderer.render_html(letter),
        base_url=f"{ASSET_SCHEME}:",
        url_fetcher=url_fetcher,
    )
    return document.write_pdf(stylesheets=[stylesheet], font_config=font_config)
