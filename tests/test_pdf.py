"""PDF letters: content, escaping, no fetching, envelope window and pagination."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import io
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import weasyprint
from PIL import Image
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.urls import URLFetcherResponse

from letters.domain.compose import (
    BulletList,
    Letter,
    Paragraph,
    Recipient,
    Sender,
    split_paragraphs,
)
from letters.printing.letter import (
    ASSET_DIRS,
    ASSET_SCHEME,
    AssetFetcher,
    PdfRenderer,
    RefusedURLError,
    default_renderer,
)

BODY = (
    Paragraph(
        "I am writing to you as a constituent in Bean about a federal issue that matters deeply "
        "to me: the online sexual exploitation of children."
    ),
    Paragraph("Consider the scale of the problem:"),
    BulletList(
        (
            Paragraph(
                "The Australian Federal Police received over 40,000 reports of online child "
                "sexual exploitation in 2022-23, 110% more than the year before."
            ),
            Paragraph(
                "The US-based National Center for Missing & Exploited Children received 36.2 "
                "million reports worldwide in 2023."
            ),
        )
    ),
    Paragraph(
        "I ask for your support to strengthen the Online Safety Act so that tech companies must "
        "do more to prevent, detect and block child sexual abuse material."
    ),
    Paragraph(
        "International Justice Mission has made recommendations. I urge you to support them:"
    ),
    BulletList(
        (
            Paragraph(
                "The eSafety Commissioner should have the power to issue more significant "
                "penalties to tech companies that fail to meet their online safety obligations.",
                lead="Increase the fines.",
            ),
            Paragraph(
                "Tech companies should have a legal duty of care to prevent online harm through "
                "their products and services, and the onus should be on them.",
                lead="Protect all children.",
            ),
        )
    ),
    Paragraph(
        "Please represent my concerns to the Minister for Communications and urge the "
        "Government to adopt these recommendations as it strengthens the Online Safety Act."
    ),
    Paragraph("Thank you for taking the time to consider my letter. I look forward to your reply."),
)
NOTE = (
    "I have two children at the local primary school, and I worry about who can reach them "
    "online.\nTheir teachers tell me they see the harm every week.\n\n"
    "Please make the tech companies take responsibility."
)

# A4 in PDF points; text positions are converted to millimetres from the sheet's top-left.
PAGE_HEIGHT_PT = 841.89
MM_PER_PT = 25.4 / 72


def make_letter(personal_note: str = NOTE, **changes: object) -> Letter:
    """A typical letter (about 300 words), built directly: no campaign, no Choices."""
    # As compose() does: the supporter's own words are body paragraphs before the ask.
    own_words = tuple(Paragraph(p, own=True) for p in split_paragraphs(personal_note))
    letter = Letter(
        subject="Please strengthen the Online Safety Act to protect children",
        date=dt.date(2026, 11, 27),
        sender=Sender(
            name="Jane Citizen",
            street="12 Example Street",
            suburb="Tuggeranong",
            state="ACT",
            postcode="2900",
            email="jane@example.org",
        ),
        recipient=Recipient(name="David Smith", division="Bean", state="ACT"),
        body=BODY[:-2] + own_words + BODY[-2:],
        campaign_title="Tougher on Tech",
        personal_note="\n\n".join(p.text for p in own_words),
    )
    return dataclasses.replace(letter, **changes)


def squash(text: str) -> str:
    """Drop all whitespace, so text that wrapped across lines still matches."""
    return "".join(text.split())


def pages_text(data: bytes) -> list[str]:
    """Each page's extracted text."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def text_positions(data: bytes, page: int = 0) -> list[tuple[str, float, float]]:
    """(text, x, baseline y) of each text run on a page, in mm from the sheet's top-left."""
    runs: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text.strip():
            # Text origin in user space: the text matrix's translation through the CTM.
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            runs.append((text.strip(), x * MM_PER_PT, (PAGE_HEIGHT_PT - y) * MM_PER_PT))

    PdfReader(io.BytesIO(data)).pages[page].extract_text(visitor_text=visit)
    return runs


class RecordingFetcher(AssetFetcher):
    """The real fetcher, also noting every URL WeasyPrint asks it for."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        """Record the URL, then decide as the real fetcher does."""
        self.requested.append(url)
        return super().fetch(url, headers)


class CountingHandler(http.server.BaseHTTPRequestHandler):
    """Answers anything with a tiny stylesheet and counts the requests."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = b"p { color: red }"
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_trap() -> Iterator[tuple[str, list[str]]]:
    """A live HTTP server on 127.0.0.1; yields its base URL and the requests it received."""
    requests: list[str] = []
    handler = type("Handler", (CountingHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def renderer() -> PdfRenderer:
    """One renderer for the module, as a process would have."""
    return PdfRenderer()


def test_typical_letter_has_everything(renderer: PdfRenderer) -> None:
    letter = make_letter()
    data = renderer.render(letter)
    (text,) = pages_text(data)
    flat = squash(text)

    for line in (
        "David Smith MP",
        "Member for Bean",
        "PO Box 6022",
        "House of Representatives",
        "Parliament House",
        "Canberra ACT 2600",
        "Jane Citizen",
        "12 Example Street",
        "Tuggeranong ACT 2900",
        "jane@example.org",
        "27 November 2026",
        "Dear David Smith,",
        "Please strengthen the Online Safety Act to protect children",
        "Yours sincerely,",
    ):
        assert squash(line) in flat, line
    for block in BODY:
        items = block.items if isinstance(block, BulletList) else (block,)
        for item in items:
            assert squash(f"{item.lead} {item.text}") in flat, item.text
    for note_line in NOTE.splitlines():
        assert squash(note_line) in flat
    # The address is printed twice: top right, and under the signature.
    assert text.count("12 Example Street") == 2

    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata.author == "Jane Citizen"
    assert metadata.title == letter.subject


def test_personal_note_keeps_its_line_breaks(renderer: PdfRenderer) -> None:
    note = "First line of mine\nSecond line of mine\n\n\n  Another paragraph  "
    letter = make_letter(personal_note=note)
    html = renderer.render_html(letter)
    opening = '<p class="letter-paragraph letter-own">'
    assert f"{opening}First line of mine\nSecond line of mine</p>" in html
    assert f"{opening}Another paragraph</p>" in html

    (text,) = pages_text(renderer.render(letter))
    lines = [line.strip() for line in text.splitlines()]
    assert "First line of mine" in lines
    assert "Second line of mine" in lines


def test_typical_letter_is_one_page_without_running_header(renderer: PdfRenderer) -> None:
    pages = pages_text(renderer.render(make_letter()))
    assert len(pages) == 1
    assert "page 1 of" not in pages[0]
    assert "Jane Citizen to David Smith MP" not in pages[0]


def test_long_letter_flows_onto_page_two_with_running_header(renderer: PdfRenderer) -> None:
    sentence = "My family has lived in this electorate for three generations. "
    note = (sentence * 25)[:1500] + "\n\n" + (sentence * 25)[:1500]
    assert len(note) >= 3000
    pages = pages_text(renderer.render(make_letter(personal_note=note)))

    assert len(pages) == 2
    first, second = pages
    assert "Jane Citizen to David Smith MP" in second
    assert "27 November 2026 · page 2 of 2" in second
    assert "page 1 of" not in first
    assert "Jane Citizen to David Smith MP" not in first
    # The recipient block is page 1's alone; the sign-off ends page 2.
    assert "PO Box 6022" in first
    assert "PO Box 6022" not in second
    assert "Yours sincerely," in second


@pytest.mark.parametrize(
    "recipient",
    [
        Recipient(name="David Smith", division="Bean"),
        # Far wider than the window: clipped at its edge, never wrapped onto more lines.
        Recipient(name="The Honourable Dr Alexandra Fitzgerald-Montgomery", division="Eden-Monaro"),
    ],
)
def test_recipient_block_sits_in_the_dl_envelope_window(
    renderer: PdfRenderer, recipient: Recipient
) -> None:
    letter = make_letter(recipient=recipient)
    runs = text_positions(renderer.render(letter))
    # Everything printed where the window can ever show (10-110 mm across, 39-95 mm down; a
    # baseline up to 98.5 mm still has its ascent in there) must be the recipient block...
    in_band = [run for run in runs if run[1] < 110 and 39 <= run[2] <= 98.5]
    assert len(in_band) == len(recipient.address_lines) == 6
    for (text, x, baseline), line in zip(in_band, recipient.address_lines, strict=True):
        # ...a line too wide for the window ends in an ellipsis rather than wrapping...
        assert text == line or (text.endswith("…") and line.startswith(text[:-1]))
        # ...and it sits where the window always shows (20-100 mm across, 50-84 mm down),
        # leaving room for the ascent (~3.5 mm at 10 pt) above the baseline and the descent.
        assert 20 <= x <= 30
        assert 54 <= baseline <= 82


PRINT_ASSETS = {f"{ASSET_SCHEME}:bullet.svg", f"{ASSET_SCHEME}:fold-marks.svg"}


def page_picture(data: bytes, dpi: int = 200) -> tuple[Image.Image, Callable[[float], int]]:
    """Page 1 in greyscale, and a function turning millimetres into its pixels."""
    document = pdfium.PdfDocument(data)
    try:
        picture = document[0].render(scale=dpi / 72).to_pil().convert("L")
    finally:
        document.close()
    return picture, lambda mm: round(mm * dpi / 25.4)


def test_fold_marks_and_bullets_are_drawn_where_print_css_puts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetcher = RecordingFetcher()
    letter = make_letter()
    with caplog.at_level(logging.WARNING, logger="letters.printing.letter"):
        data = PdfRenderer(url_fetcher=fetcher).render(letter)
    assert set(fetcher.requested) == PRINT_ASSETS
    assert not [record for record in caplog.records if "refused" in record.getMessage()]

    picture, px = page_picture(data)

    def ink(left: float, top: float, right: float, bottom: float) -> int:
        """The darkest pixel (0 black, 255 white) in a box given in mm from the top-left."""
        box = picture.crop((px(left), px(top), px(right) + 1, px(bottom) + 1))
        darkest, _ = box.getextrema()
        return int(darkest)

    # Fold marks: grey strokes 4-9 mm across at a third and two thirds of the sheet's height.
    for third in (99.0, 198.0):
        assert ink(5, third - 0.1, 8, third + 0.3) < 200
        assert ink(5, third - 1.5, 8, third - 0.5) == 255  # a thin line, not a band
        assert ink(0, third - 0.1, 3, third + 0.3) == 255
    assert ink(0, 120, 15, 180) == 255  # nothing else in the left margin

    # Bullets: a black dot just left of the first line of each point, and of nothing else.
    points = [item for block in BODY if isinstance(block, BulletList) for item in block.items]
    runs = text_positions(data)
    firsts = [
        next(run for run in runs if (item.lead or item.text).startswith(run[0][:15]))
        for item in points
    ]

    def dotted(run: tuple[str, float, float]) -> bool:
        _, x, baseline = run
        return ink(x - 3.6, baseline - 2.0, x - 2.4, baseline - 0.5) < 60

    line_starts = [run for run in runs if not any(o[2] == run[2] and o[1] < run[1] for o in runs)]
    assert [run for run in line_starts if dotted(run)] == firsts


def test_minimal_letter_renders(renderer: PdfRenderer) -> None:
    letter = make_letter(
        sender=Sender(name="Sam"),
        recipient=Recipient(name="Alex Member", division="Mayo", salutation="Ms Member"),
        subject="",
        personal_note="",
        closing="Kind regards,",
        body=(Paragraph("Please act."),),
    )
    (text,) = pages_text(renderer.render(letter))
    lines = [line.strip() for line in text.splitlines()]
    assert "Dear Ms Member," in lines
    assert "Kind regards," in lines  # no second comma
    assert lines.count("Sam") == 2
    assert "None" not in text


HOSTILE_FIELDS = ("name", "street", "personal_note")


def hostile_strings(base_url: str) -> tuple[str, ...]:
    """Markup a supporter could type, aimed at the file system and a local server."""
    return (
        '<img src="file:///etc/passwd">',
        "<script>alert(1)</script>",
        f'<link rel=stylesheet href="{base_url}/x.css">',
        f'<img src="{base_url}/pixel.png">',
    )


@pytest.mark.parametrize("field", HOSTILE_FIELDS)
def test_hostile_input_is_literal_text_and_nothing_is_fetched(
    field: str, http_trap: tuple[str, list[str]]
) -> None:
    base_url, requests = http_trap
    fetcher = RecordingFetcher()
    renderer = PdfRenderer(url_fetcher=fetcher)
    hostile = " ".join(hostile_strings(base_url))
    letter = make_letter()
    if field == "personal_note":
        letter = make_letter(personal_note=hostile)
    else:
        letter = dataclasses.replace(
            letter, sender=dataclasses.replace(letter.sender, **{field: hostile})
        )

    html = renderer.render_html(letter)
    for tag in ("<img", "<script", "<link"):
        assert tag not in html
    data = renderer.render(letter)

    flat = squash("".join(pages_text(data)))
    for snippet in hostile_strings(base_url):
        assert squash(snippet) in flat
    assert requests == []
    # Only the print stylesheet's own pictures (bullets, fold marks) were asked for.
    assert set(fetcher.requested) <= PRINT_ASSETS
    if field == "name":
        metadata = PdfReader(io.BytesIO(data)).metadata
        assert metadata is not None
        assert metadata.author == hostile


def test_fetcher_is_the_gate_even_for_real_markup(
    http_trap: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    # If markup ever got past escaping, WeasyPrint would ask the fetcher, which refuses.
    base_url, requests = http_trap
    fetcher = RecordingFetcher()
    markup = "".join(hostile_strings(base_url)) + "<p>still renders</p>"
    with caplog.at_level(logging.WARNING, logger="letters.printing.letter"):
        data = HTML(string=markup, base_url=f"{ASSET_SCHEME}:", url_fetcher=fetcher).write_pdf()

    assert "still renders" in pages_text(data)[0]
    assert "file:///etc/passwd" in fetcher.requested
    assert f"{base_url}/x.css" in fetcher.requested
    assert f"{base_url}/pixel.png" in fetcher.requested
    assert requests == []
    refusals = [record for record in caplog.records if "refused" in record.getMessage()]
    assert len(refusals) == len(fetcher.requested)


OUTSIDE_CSS = os.path.relpath(
    Path(weasyprint.__file__).parent / "css" / "html5_ua.css", ASSET_DIRS[0]
)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1:9/x.css",
        "https://example.org/x.css",
        "ftp://127.0.0.1/x.css",
        "data:text/css,p%7Bcolor:red%7D",
        f"{ASSET_SCHEME}:../../pyproject.toml",
        # A real .css file outside the asset folders: refused by the containment check alone.
        f"{ASSET_SCHEME}:{OUTSIDE_CSS}",
        f"{ASSET_SCHEME}:{OUTSIDE_CSS.replace('/', '%2F')}",
        f"{ASSET_SCHEME}:%2e%2e/%2e%2e/letters/settings.py",
        f"{ASSET_SCHEME}:/etc/passwd",
        f"{ASSET_SCHEME}://127.0.0.1/print.css",
        f"{ASSET_SCHEME}:print.html",
        f"{ASSET_SCHEME}:missing.css",
        "print.css",
    ],
)
def test_fetcher_refuses_everything_but_project_assets(url: str) -> None:
    with pytest.raises(RefusedURLError):
        AssetFetcher().fetch(url)


def test_fetcher_serves_project_assets() -> None:
    response = AssetFetcher().fetch(f"{ASSET_SCHEME}:print.css")
    try:
        assert response.content_type == "text/css"
        assert b"@page" in response.read()
    finally:
        response.close()


def test_default_renderer_is_built_once() -> None:
    assert default_renderer() is default_renderer()


def test_naive_render_matches_shared_renderer(renderer: PdfRenderer) -> None:
    from benchmarks.naive import naive_render  # the benchmarks' baseline must print the same

    letter = make_letter()
    assert pages_text(naive_render(letter)) == pages_text(renderer.render(letter))


def _loads_weasyprint(code: str, tmp_path: Path) -> bool:
    """Run `code` in a new interpreter on the embedded defaults; whether WeasyPrint got loaded."""
    import subprocess
    import sys

    environment = {**os.environ, "LETTERS_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint('weasyprint' in sys.modules)"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.split()[-1] == "True"


@pytest.mark.processes  # new interpreters, to see what each one imports
def test_only_processes_that_render_load_weasyprint(tmp_path: Path) -> None:
    # The app and every task module, as an email worker or `letters batch-pdf` loads them,
    # leave WeasyPrint (about 20 MB) to the processes that render.
    app_and_tasks = (
        "from letters import create_app\n"
        "create_app()\n"
        "import tasks.email, tasks.housekeeping, letters.printing.tasks, letters.cli"
    )
    assert not _loads_weasyprint(app_and_tasks, tmp_path)
    # A web process loads and warms it before its first request.
    web = f"{app_and_tasks}\nimport letters.web_server\nletters.web_server.post_worker_init(None)"
    assert _loads_weasyprint(web, tmp_path)


@pytest.mark.processes
def test_the_render_server_loads_only_what_rendering_needs() -> None:
    # Every print run starts by importing RENDER_MODULES in the render server, which each
    # render process is forked from: what they pull in costs every run's start, and memory in
    # each process that writes to its copy.
    import subprocess
    import sys

    from letters.printing.pages import RENDER_MODULES

    unwanted = ("flask", "celery", "sqlalchemy", "pydantic", "yaml", "pypdf")
    code = (
        "import importlib, sys\n"
        f"for name in {RENDER_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(' '.join(sorted(n for n in {unwanted!r} if n in sys.modules)) or '-')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["-"]


def _page_contents(document: HTML, stylesheets: list, renderer: PdfRenderer) -> list[bytes]:
    """What each page of a document draws (its decoded content stream)."""
    data = document.write_pdf(stylesheets=stylesheets, font_config=renderer.font_config, cache={})
    return [page.get_contents().get_data() for page in PdfReader(io.BytesIO(data)).pages]


def test_every_kind_of_printed_page_lays_out_as_with_weasyprints_own_stylesheet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ua.css replaces WeasyPrint's HTML stylesheet for speed: every print template must draw
    # exactly what it drew with WeasyPrint's, operator for operator.
    from letters.printing import stamps
    from letters.printing.letter import ASSET_SCHEME, PrintHTML
    from letters.printing.pages import BatchRenderer
    from letters.printing.plan import Address, Cover

    pages = BatchRenderer()
    renderer = pages.letters
    member = Recipient("Alex Member", "Sample", "NSW", party="Independent")
    long_letter = make_letter(NOTE * 12)  # runs to a second page, with its running header
    monkeypatch.setattr(stamps, "SHEET_COST_IN_LINES", 0)  # a sheet with every kind of stamp
    sheet = stamps.plan([long_letter, long_letter])
    sheet_css = pages._css(stamps.SHEET_CSS)
    addresses = tuple(Address(member.address_lines, ("Sam Sender", "1 Any Street")) for _ in (1, 2))
    cover = Cover(member, 12, 3, "Hall night", 2, 9, ("Ann Zeta", "Bea Alpha"), 4)
    documents = {
        "letter": (renderer.render_html(long_letter), [renderer.stylesheet]),
        "stamp sheet": (
            renderer.environment.get_template("letters/stamps.html").render(blocks=sheet.blocks()),
            [renderer.stylesheet, sheet_css],
        ),
        "cover": (pages.templates["cover"].render(cover=cover), [pages.stylesheet]),
        "blank letter": (pages.templates["blank"].render(recipient=member), [pages.stylesheet]),
        "labels": (pages.templates["labels"].render(addresses=addresses), [pages.stylesheet]),
        "envelopes": (pages.templates["envelopes"].render(addresses=addresses), [pages.stylesheet]),
    }
    drawn: dict[str, list[bytes]] = {}
    for kind, (html, stylesheets) in documents.items():
        fetching = {"base_url": f"{ASSET_SCHEME}:", "url_fetcher": renderer.url_fetcher}
        drawn[kind] = _page_contents(PrintHTML(string=html, **fetching), stylesheets, renderer)
        theirs = _page_contents(HTML(string=html, **fetching), stylesheets, renderer)
        assert drawn[kind] == theirs, kind
    assert len(drawn["letter"]) == 2 and len(drawn["stamp sheet"]) > 2


def test_weasyprint_still_takes_its_html_stylesheet_from_print_html() -> None:
    # PrintHTML overrides a WeasyPrint method that is not public API. ua.css styles no <nav>:
    # with it, two are inline boxes on one line; with WeasyPrint's own stylesheet, two blocks.
    from letters.printing.letter import PrintHTML

    html = '<p><nav id="a">one</nav><nav id="b">two</nav></p>'
    ours = PrintHTML(string=html).render().pages[0].anchors
    theirs = HTML(string=html).render().pages[0].anchors
    assert ours["a"][1] == ours["b"][1]
    assert theirs["a"][1] != theirs["b"][1]
