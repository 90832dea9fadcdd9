"""Time one-letter PDF renders: the shared PdfRenderer against a fresh setup per letter.

Run with `.venv/bin/python benchmarks/pdf_single.py`. Add `--no-harfbuzz-subset` to make
WeasyPrint subset fonts with fontTools instead, as it does when libharfbuzz-subset0 is missing,
and `--out DIR` to keep the PDFs (benchmarks/out/ is git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import logging
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pypdf import PdfReader  # a test dependency; only for the summary line

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.naive import naive_render
from benchmarks.sample_people import FIRST_NAMES, LAST_NAMES, NOTE_SENTENCES, STREETS
from letters.domain.compose import (
    Block,
    BulletList,
    Letter,
    Paragraph,
    Recipient,
    Sender,
)
from letters.printing.letter import default_renderer

LETTERS = 50
ROUNDS = 3  # each letter is rendered this many times each way: 150 samples steady the p95
SEED = 20261127
TARGET_P95_MS = 50.0

MEMBERS = (
    ("David Smith", "Bean", "ACT"),
    ("Alicia Payne", "Canberra", "ACT"),
    ("Andrew Leigh", "Fenner", "ACT"),
    ("Kristy McBain", "Eden-Monaro", "NSW"),
    ("Zali Steggall", "Warringah", "NSW"),
    ("Bob Katter", "Kennedy", "QLD"),
    ("Rebekha Sharkie", "Mayo", "SA"),
    ("Helen Haines", "Indi", "VIC"),
    ("Andrew Wilkie", "Clark", "TAS"),
    ("Kate Chaney", "Curtin", "WA"),
    ("Marion Scrymgour", "Lingiari", "NT"),
    ("Allegra Spender", "Wentworth", "NSW"),
)
PLACES = (
    ("Tuggeranong", "ACT", "2900"),
    ("Queanbeyan", "NSW", "2620"),
    ("Mount Isa", "QLD", "4825"),
    ("Victor Harbor", "SA", "5211"),
    ("Wodonga", "VIC", "3690"),
    ("Hobart", "TAS", "7000"),
    ("Cottesloe", "WA", "6011"),
    ("Alice Springs", "NT", "0870"),
    ("Bondi", "NSW", "2026"),
)

STATISTICS = (
    "The US-based National Center for Missing & Exploited Children received 36.2 million "
    "reports of suspected online child sexual exploitation and abuse worldwide in 2023, a 12% "
    "rise on 2022.",
    "Almost half a million children in the Philippines are trafficked to produce child sexual "
    "abuse material for paying customers, and Australian offenders are the third-highest "
    "consumers.",
    "The Australian Federal Police received over 40,000 reports of online child sexual "
    "exploitation in 2022-23, 110% more than the year before.",
    "This crime is enabled by tech companies that provide popular social media and messaging "
    "services in Australia.",
)
RECOMMENDATIONS = (
    (
        "Increase the fines.",
        "The eSafety Commissioner should have the power to issue more "
        "significant penalties to tech companies that fail to meet their online safety "
        "obligations.",
    ),
    (
        "Expand safety expectations.",
        "Tech companies must put the safety and rights of children "
        "affected by their products and services at the centre of their design.",
    ),
    (
        "Protect all children.",
        "Tech companies should have a legal duty of care to prevent "
        "online harm through their products and services. The onus should be on them to make "
        "sure their platform design, algorithms and business models do not facilitate the "
        "sexual exploitation or abuse of children.",
    ),
)


def make_letter(rng: random.Random, index: int) -> Letter:
    """One deterministic, varied letter: sender, member, points and note all differ."""
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    suburb, state, postcode = rng.choice(PLACES)
    member, division, member_state = MEMBERS[index % len(MEMBERS)]
    statistics_chosen = rng.sample(STATISTICS, rng.randint(1, 3))
    recommendations_chosen = rng.sample(RECOMMENDATIONS, rng.randint(1, 3))
    body: list[Block] = [
        Paragraph(
            f"I am writing to you as a constituent in {division} about a federal issue "
            "that matters deeply to me: the online sexual exploitation of children."
        ),
        Paragraph(
            "I am concerned that the tech sector is not doing enough to stop livestreamed "
            "child sexual abuse and exploitation on its online platforms."
        ),
        Paragraph("Consider the scale of the problem:"),
        BulletList(tuple(Paragraph(text) for text in statistics_chosen)),
        Paragraph(
            "I ask for your support to strengthen the Online Safety Act so that tech "
            "companies must do more to prevent, detect and block child sexual abuse "
            "material on their products and services."
        ),
        Paragraph(
            "International Justice Mission has made recommendations on the Online Safety "
            "Act. I urge you to support them:"
        ),
        BulletList(tuple(Paragraph(text, lead=lead) for lead, text in recommendations_chosen)),
        Paragraph(
            "Thank you for taking the time to consider my letter. I look forward to your reply."
        ),
    ]
    # Every fifth letter has no note; the rest have one to six paragraphs, so a few run to a
    # second page.
    note = ""
    if index % 5:
        paragraphs = rng.randint(1, 6) if index % 7 == 0 else rng.randint(1, 2)
        note = "\n\n".join(
            " ".join(rng.choices(NOTE_SENTENCES, k=rng.randint(2, 5))) for _ in range(paragraphs)
        )
    return Letter(
        subject="Please strengthen the Online Safety Act to protect children",
        date=dt.date(2026, 1, 1) + dt.timedelta(days=index * 7),
        sender=Sender(
            name=name,
            street=f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
            suburb=suburb,
            state=state,
            postcode=postcode,
            email=f"supporter{index}@example.org",
        ),
        recipient=Recipient(name=member, division=division, state=member_state),
        body=tuple(body),
        campaign_title="Tougher on Tech",
        personal_note=note,
    )


def time_renders(
    render: Callable[[Letter], bytes], letters: list[Letter], rounds: int
) -> list[float]:
    """Milliseconds per render, one letter at a time, all letters once per round."""
    timings = []
    for _ in range(rounds):
        for letter in letters:
            start = time.perf_counter()
            render(letter)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 50 values is the 48th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def harfbuzz_subset_package() -> str:
    """The Debian package's installed version, or a note that it is missing."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status} ${Version}", "libharfbuzz-subset0"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return "unknown (no dpkg-query)"
    if result.returncode or "install ok installed" not in result.stdout:
        return "not installed"
    return f"installed ({result.stdout.rsplit(' ', 1)[-1]})"


def main() -> None:
    """Render the letters both ways and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-harfbuzz-subset",
        action="store_true",
        help="subset fonts with fontTools, as without libharfbuzz-subset0",
    )
    parser.add_argument("--out", type=Path, help="write the shared renderer's PDFs here")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="renders per letter each way")
    args = parser.parse_args()

    from weasyprint.pdf import fonts as weasyprint_fonts
    from weasyprint.text import ffi as weasyprint_ffi

    if args.no_harfbuzz_subset:
        weasyprint_fonts.harfbuzz_subset = None
        # WeasyPrint warns once per font per render about the fallback; keep the output clean.
        logging.getLogger("weasyprint").setLevel(logging.ERROR)

    rng = random.Random(SEED)
    letters = [make_letter(rng, index) for index in range(LETTERS)]
    warmup = make_letter(random.Random(SEED + 1), LETTERS)

    started = time.perf_counter()
    renderer = default_renderer()
    build_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    renderer.render(warmup)  # not one of the timed letters
    warm_ms = (time.perf_counter() - started) * 1000

    shared = time_renders(renderer.render, letters, args.rounds)
    naive = time_renders(naive_render, letters, args.rounds)
    # What a worker should do once at start-up, after warming the renderer: move the ~100k
    # objects of the imported libraries out of the collector's sight, so the full collections
    # that WeasyPrint's allocation rate triggers every few renders stop walking them.
    gc.collect()
    gc.freeze()
    frozen = time_renders(renderer.render, letters, args.rounds)
    gc.unfreeze()

    # Untimed: page counts and sizes for the summary, and the PDFs if asked for.
    sizes = []
    page_counts = []
    for index, letter in enumerate(letters):
        data = renderer.render(letter)
        sizes.append(len(data))
        page_counts.append(len(PdfReader(io.BytesIO(data)).pages))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"letter-{index:02d}.pdf").write_bytes(data)

    subsetter = (
        "fontTools (forced by --no-harfbuzz-subset)"
        if args.no_harfbuzz_subset
        else "HarfBuzz"
        if weasyprint_ffi.harfbuzz_subset is not None
        else "fontTools (libharfbuzz-subset not loadable)"
    )
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(
        f"letters: {LETTERS} different letters, "
        f"{min(page_counts)}-{max(page_counts)} pages "
        f"({page_counts.count(1)} one-page, {LETTERS - page_counts.count(1)} longer), "
        f"{min(sizes) // 1024}-{max(sizes) // 1024} KiB each"
    )
    print(f"cpu count: {os.cpu_count()} (usable by this process: {affinity})")
    print(
        f"libharfbuzz-subset0: {harfbuzz_subset_package()}; WeasyPrint subsets fonts with "
        f"{subsetter}"
    )
    print(
        f"shared renderer: built in {build_ms:.0f} ms, then warmed with one untimed render "
        f"({warm_ms:.0f} ms) before timing"
    )
    print(
        f"timed: {LETTERS} letters x {args.rounds} rounds = {len(shared)} renders each way, "
        "in the order below"
    )
    rows = (
        ("shared PdfRenderer", shared),
        ("naive (new fonts+CSS)", naive),
        ("shared, gc.freeze()", frozen),
    )
    for label, timings in rows:
        print(
            f"{label:>22}: p50 {statistics.median(timings):6.1f} ms   "
            f"p95 {percentile(timings, 0.95):6.1f} ms   max {max(timings):6.1f} ms"
        )
    for label, timings in (rows[0], rows[2]):
        verdict = "meets" if percentile(timings, 0.95) <= TARGET_P95_MS else "MISSES"
        print(f"target p95 <= {TARGET_P95_MS:.0f} ms, {label}: {verdict}")


if __name__ == "__main__":
    main()
