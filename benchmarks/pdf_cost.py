"""Where a printed letter's time goes: WeasyPrint's cost per document and per line of text.

Run with `.venv/bin/python benchmarks/pdf_cost.py` (about a minute). It answers one question:
how fast can a batch of this campaign's letters be, if every letter is laid out by WeasyPrint?

  1. Documents of 1 to 80 lines of plain text, in the letter's typeface and width, rendered the
     way the batch renders (shared fonts and stylesheet, 20 documents written as one PDF). A
     straight line through (lines, ms) gives the cost of a document and of each line.
  2. Letters like benchmarks/batch_pdf.py's (real divisions and members, made-up attendees):
     their lines, read back from the PDF, and how many of those lines no other letter in the
     sample has (the writer's name and address, their own words...). Campaign text laid out at
     the same width gives the same lines in every letter; a writer's own lines cannot be
     shared with anyone, so laying them out is the least any renderer must do per letter.
  3. What that means per core at the batch target of 100 letters/s.
  4. Where a letter's time goes, part by part: the same letters with one part of
     templates/letters/_letter.html left out at a time.
"""

from __future__ import annotations

import argparse
import gc
import io
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader

from benchmarks.batch_pdf import make_letters
from letters.printing.letter import ASSET_SCHEME, default_renderer
from letters.printing.pages import usable_cores

WORDS = (
    *("online", "safety", "children", "platforms", "exploitation", "parliament", "legislation"),
    *("recommendations", "commissioner", "companies", "constituent", "community", "protect"),
)
CHUNK = 20  # documents written as one PDF, as letters/printing/pages.py does
TARGET_RATE = 100.0


def line_document(lines: int) -> str:
    """About `lines` lines of letter text: paragraphs of five lines in the letter's classes."""
    words_per_line = 10  # about one line at 9.5 pt across the letter's 174 mm
    paragraphs = []
    for start in range(0, lines, 5):
        count = min(5, lines - start) * words_per_line
        text = " ".join(WORDS[(start + i) % len(WORDS)] for i in range(count))
        paragraphs.append(f'<p class="letter-paragraph">{text}</p>')
    return f'<html><body><article class="letter">{"".join(paragraphs)}</article></body></html>'


def time_documents(htmls: list[str], rounds: int) -> float:
    """Fastest round's milliseconds per document, rendered and written in chunks."""
    from weasyprint import HTML

    renderer = default_renderer()
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        for start in range(0, len(htmls), CHUNK):
            documents = [
                HTML(
                    string=html, base_url=f"{ASSET_SCHEME}:", url_fetcher=renderer.url_fetcher
                ).render(stylesheets=[renderer.stylesheet], font_config=renderer.font_config)
                for html in htmls[start : start + CHUNK]
            ]
            pages = [page for document in documents for page in document.pages]
            documents[0].copy(pages).write_pdf()
        best = min(best, (time.perf_counter() - started) / len(htmls) * 1000)
        gc.enable()
    return best


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    renderer = default_renderer()
    return HTML(
        string=html, base_url=f"{ASSET_SCHEME}:", url_fetcher=renderer.url_fetcher
    ).write_pdf(stylesheets=[renderer.stylesheet], font_config=renderer.font_config)


def pdf_lines(data: bytes) -> list[str]:
    """The text lines of a PDF, page by page."""
    lines: list[str] = []
    for page in PdfReader(io.BytesIO(data)).pages:
        lines += [line.strip() for line in page.extract_text().splitlines() if line.strip()]
    return lines


# Parts of a letter's HTML (templates/letters/_letter.html), as patterns that cut them out.
PARTS = {
    "page 1 head (sender, date, recipient)": r'<header class="letter-head">.*?</header>',
    "greeting, subject and body": r"(?<=</header>).*?(?=<footer)",
    "sign-off and signature": r'<footer class="letter-signoff">.*?</footer>',
}


def part_costs(htmls: list[str], whole_ms: float, rounds: int) -> None:
    """Print what each part of the letter adds, by leaving it out."""
    for name, pattern in PARTS.items():
        without = [re.sub(pattern, "", html, count=1, flags=re.S) for html in htmls]
        assert without != htmls, f"{name}: pattern no longer matches the template"
        cost = whole_ms - time_documents(without, rounds)
        print(f"   {name:<40} {cost:5.1f} ms ({cost / whole_ms:4.0%})")
    empty = [re.sub(r"<article.*?</article>", "", html, flags=re.S) for html in htmls]
    print(f"   {'a document with no letter in it':<40} {time_documents(empty, rounds):5.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200, help="letters in the sample")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the fastest counts")
    args = parser.parse_args()

    renderer = default_renderer()
    renderer.warm_up()
    gc.collect()
    gc.freeze()

    print("1. WeasyPrint's cost, in the letter's typeface, 20 documents a PDF, fastest round:")
    sizes, costs = [], []
    for wanted in (1, 10, 20, 40, 80):
        html = line_document(wanted)
        # Count the lines WeasyPrint made, not the ones asked for.
        sizes.append(len(pdf_lines(html_to_pdf(html))))
        costs.append(time_documents([html] * 40, args.rounds))
        print(f"   {sizes[-1]:>3} lines: {costs[-1]:6.1f} ms a document")
    slope, intercept = statistics.linear_regression(sizes, costs)
    print(f"   fit: {intercept:.1f} ms a document + {slope:.2f} ms a line")

    with tempfile.TemporaryDirectory() as scratch:
        letters = make_letters(args.letters, Path(scratch))
    htmls = [renderer.render_html(letter) for letter in letters]
    letter_ms = time_documents(htmls, args.rounds)
    texts = [pdf_lines(renderer.render(letter)) for letter in letters]
    seen = Counter(line for lines in texts for line in set(lines))
    per_letter = statistics.mean(len(lines) for lines in texts)
    unique = statistics.mean(sum(seen[line] == 1 for line in lines) for lines in texts)
    print(f"\n2. {len(letters)} letters as benchmarks/batch_pdf.py makes them:")
    print(f"   {letter_ms:.1f} ms a letter, {per_letter:.1f} lines a letter")
    # The sample's own words are drawn from a few sentences, so two letters can share a line
    # that real writers would not: this undercounts, which only flatters the floor below.
    print(f"   {unique:.1f} lines a letter that no other letter has (its writer's own)")

    cores = usable_cores()
    budget = cores * 1000 / TARGET_RATE
    floor = intercept + unique * slope
    print(f"\n3. {TARGET_RATE:.0f} letters/s on {cores} cores leaves {budget:.0f} ms a letter.")
    print(f"   Every line through WeasyPrint: {letter_ms:.0f} ms, {cores * 1000 / letter_ms:.0f}/s")
    print(
        f"   Only the writer's own lines (all shared text free): {floor:.0f} ms, "
        f"{cores * 1000 / floor:.0f}/s at best"
    )

    print(f"\n4. Where a letter's {letter_ms:.1f} ms go, each part measured by leaving it out:")
    part_costs(htmls, letter_ms, args.rounds)


if __name__ == "__main__":
    main()
