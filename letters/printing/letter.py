"""Render a Letter as a printable A4 PDF with WeasyPrint; no Flask (web, workers and CLI use it)."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import mimetypes
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from letters.domain.compose import BulletList, Letter, Paragraph, Recipient, Sender

if TYPE_CHECKING:
    from letters.printing.stamps import StampMap

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
PRINT_TEMPLATE = "letters/print.html"
PRINT_STYLESHEET = TEMPLATES_DIR / "letters" / "print.css"
USER_AGENT_STYLESHEET = TEMPLATES_DIR / "letters" / "ua.css"

# Templates and stylesheets refer to the project's own files as letters-asset:<name>, e.g.
# letters-asset:logo.svg; nothing else is ever fetched while rendering a letter.
ASSET_SCHEME = "letters-asset"
ASSET_DIRS = (TEMPLATES_DIR / "letters", PROJECT_ROOT / "letters" / "static")
ASSET_SUFFIXES = frozenset(
    {".css", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".ttf", ".otf"}
)


class RefusedURLError(ValueError):
    """A letter asked for a URL the asset fetcher does not serve."""


class AssetFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves letters-asset: files and refuses every other URL."""

    def __init__(self, asset_dirs: Iterable[Path] = ASSET_DIRS) -> None:
        # allowed_protocols=() makes the inherited urllib machinery refuse everything too, in
        # case some WeasyPrint path ever reaches it instead of fetch() below.
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        self.asset_dirs = tuple(path.resolve() for path in asset_dirs)
        self._bodies: dict[Path, bytes] = {}
        self._lock = threading.Lock()

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        """Return an asset's bytes, or raise RefusedURLError (WeasyPrint logs it and goes on)."""
        path = self.resolve(url)
        if path is None:
            # Supporters' text is escaped, so only a template bug (or an attack that got past
            # escaping) can get here: worth a warning, never a fetch.
            log.warning("letters refused to fetch %r", url[:200])
            raise RefusedURLError(f"letters PDFs fetch only {ASSET_SCHEME}: assets")
        with self._lock:
            body = self._bodies.get(path)
            if body is None:
                # Assets ship with the code, so reading each once per process is enough.
                body = self._bodies[path] = path.read_bytes()
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body, {"Content-Type": mime_type})

    def resolve(self, url: str) -> Path | None:
        """Map a letters-asset: URL to a file inside the asset folders; None for anything else."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if parts.scheme.lower() != ASSET_SCHEME or parts.netloc:
            return None
        name = unquote(parts.path).lstrip("/")
        if not name or "\x00" in name or Path(name).suffix.lower() not in ASSET_SUFFIXES:
            return None
        for root in self.asset_dirs:
            candidate = (root / name).resolve()
            # resolve() follows "..", and symlinks, so this also stops escapes from the folder.
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None


def sample_letter() -> Letter:
    """A short, fixed letter for warming up a renderer."""
    return Letter(
        subject="A sample letter",
        date=dt.date(2026, 1, 1),
        sender=Sender("Sam Sample", "1 Sample St", "Canberra", "ACT", "2600", "sam@example.org"),
        recipient=Recipient("Alex Member", "Sample"),
        body=(
            Paragraph("I am writing to you as a constituent about an issue that matters to me."),
            BulletList((Paragraph("The first point, with a lead.", lead="Lead."),)),
            Paragraph("Thank you for considering my letter. I look forward to your reply."),
        ),
    )


@cache
def user_agent_stylesheet() -> CSS:
    """ua.css, parsed once per process: the defaults the print templates use, and no more."""
    return CSS(string=USER_AGENT_STYLESHEET.read_text(encoding="utf-8"))


class PrintHTML(HTML):
    """A document laid out with ua.css instead of WeasyPrint's full HTML stylesheet.

    WeasyPrint offers no public way to change its own stylesheet, so this overrides the method
    it calls for it (weasyprint/css/__init__.py, get_all_computed_styles). pyproject.toml pins
    WeasyPrint's major version, and tests/test_pdf.py fails on an upgrade that stops calling
    it: letters would still print correctly, only more slowly (benchmarks/batch_pdf.py).
    """

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        return [user_agent_stylesheet()]


class PdfRenderer:
    """Everything that is the same for every letter, built once per process."""

    def __init__(
        self,
        templates_dir: Path = TEMPLATES_DIR,
        stylesheet: Path = PRINT_STYLESHEET,
        url_fetcher: URLFetcher | None = None,
    ) -> None:
        self.url_fetcher = url_fetcher or AssetFetcher()
        self.font_config = FontConfiguration()
        self.environment = Environment(
            loader=FileSystemLoader(templates_dir),
            autoescape=True,
            undefined=StrictUndefined,
            auto_reload=False,
        )
        self.template: Template = self.environment.get_template(PRINT_TEMPLATE)
        self.stylesheet = CSS(
            string=stylesheet.read_text(encoding="utf-8"),
            base_url=f"{ASSET_SCHEME}:",
            url_fetcher=self.url_fetcher,
            font_config=self.font_config,
        )
        # Images from the stylesheet or templates (logos, say) are decoded once and reused;
        # bounded because the fetcher serves only the project's own files.
        self._image_cache: dict[str, object] = {}
        # A Pango font map is not safe to share between threads; renders are CPU-bound under
        # the GIL anyway, so one at a time per process costs little.
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Render a sample letter now, so the first real one is not slow (fonts load lazily)."""
        # Worker start-up (after any fork: Pango and fontconfig state should not cross one):
        # default_renderer().warm_up(), then gc.freeze(). Freezing keeps the full collections
        # WeasyPrint's allocation rate triggers from walking every imported object; it cut the
        # p95 by several ms in benchmarks/pdf_single.py. It is process-wide, so it is left to
        # the process owner rather than done here.
        self.render(sample_letter())

    def render_html(self, letter: Letter, stamps: StampMap | None = None) -> str:
        """The HTML document that render() lays out; a batch's stamps leave empty blocks."""
        if stamps:
            return self.template.render(letter=letter, stamps=stamps)
        return self.template.render(letter=letter)

    def render(self, letter: Letter) -> bytes:
        """One letter as PDF bytes."""
        document = PrintHTML(
            string=self.render_html(letter),
            base_url=f"{ASSET_SCHEME}:",
            url_fetcher=self.url_fetcher,
        )
        with self._lock:
            return document.write_pdf(
                stylesheets=[self.stylesheet],
                font_config=self.font_config,
                cache=self._image_cache,
            )


@cache
def default_renderer() -> PdfRenderer:
    """The process-wide renderer, built on first use."""
    return PdfRenderer()


def prepare_process() -> None:
    """Ready a long-lived process (web server, worker) to render PDFs at full speed."""
    default_renderer().warm_up()
    # Everything built so far (app, fonts, templates) lives as long as the process; freezing it
    # keeps the garbage collector from re-walking it, which otherwise shows up as 30-40 ms
    # pauses in about one render in twenty (benchmarks/pdf_single.py measures both).
    gc.collect()
    gc.freeze()


def render_letter(letter: Letter) -> bytes:
    """One letter as PDF bytes, with the process-wide renderer."""
    return default_renderer().render(letter)
