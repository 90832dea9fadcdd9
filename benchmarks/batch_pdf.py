"""Time event printing: letters/s and peak memory, the batch renderer against the naive way.

Run with `.venv/bin/python benchmarks/batch_pdf.py` (about twenty minutes on two cores). Letters
are written by made-up attendees to the real current divisions and members (from
../shared/reference-data, read in place, never copied), with the campaign's real text. Each way
runs twice, each time in a fresh process: once timed, and once for its peak memory, the highest
total proportional set size (PSS) of that process and its children, sampled every 100 ms. PSS
shares a page that several processes map between them, so the pool's processes are not counted
twice for the libraries they share. The two are measured apart because reading PSS is not
free: each sample walks every process's page tables in the kernel, on the same two cores the
letters render on, and timed runs with the sampler on were 10-15% slower.

  naive: one WeasyPrint document per letter with a fresh font configuration and stylesheet
         each time (benchmarks/naive.py), each PDF written to its own file.
  batch: letters.printing.batch.render_batch: chunks of letters rendered by a pool of processes
         (one per core), each with one font configuration, joined in order into one PDF by
         letters/printing/join.py; the campaign paragraphs several letters share are laid out
         once and stamped into each (letters/printing/stamps.py).
  batch-pikepdf: the same, joined and stamped with pikepdf (benchmarks/pikepdf_join.py).
  cli:   `letters batch-pdf ATTENDEES.csv -o OUT.pdf`, as an organiser runs it: the same
         attendees written to a CSV first (untimed), then the whole command timed, from a new
         interpreter reading and checking the file to the last page written. Its memory is that
         command's processes alone.

`--sizes 200 --ways batch` gives a quick run; `--out DIR` keeps the PDFs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader

from benchmarks.sample_people import FIRST_NAMES, LAST_NAMES, NOTE_SENTENCES, STREETS
from letters.domain.attendees import AttendeeRow, letter_for_attendee, print_order
from letters.domain.campaign import load_campaign
from letters.domain.compose import Letter
from letters.domain.directory import Directory, load_directory
from letters.refresh import refresh
from letters.settings import PROJECT_ROOT

REFERENCE = PROJECT_ROOT.parent / "shared" / "reference-data" / "openaustralia-parser"
CAMPAIGN = PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml"
SEED = 20261205
TARGET_RATE = 100.0
TARGET_PEAK_MB = 300.0


def load_real_directory(folder: Path) -> Directory:
    """The real current members and postcode index, refreshed into a scratch folder."""
    if not (REFERENCE / "representatives.csv").exists():
        raise SystemExit(f"reference data not found at {REFERENCE}")
    refresh(str(REFERENCE), folder)
    directory = load_directory(folder)
    assert directory is not None
    return directory


def make_attendees(directory: Directory, count: int) -> list[AttendeeRow]:
    """Deterministic attendees spread over real postcodes, each settled to a real division."""
    rng = random.Random(SEED)
    campaign = load_campaign(CAMPAIGN)
    postcodes = sorted(directory.postcodes)
    rows: list[AttendeeRow] = []
    while len(rows) < count:
        postcode = rng.choice(postcodes)
        found = directory.lookup(postcode)
        candidates = [d for d in found.divisions if d.member is not None and d.likely]
        if found.error or not candidates:
            continue
        index = len(rows)
        note = ""
        if index % 5:
            paragraphs = rng.randint(1, 6) if index % 7 == 0 else rng.randint(1, 2)
            note = "\n\n".join(
                " ".join(rng.choices(NOTE_SENTENCES, k=rng.randint(2, 5)))
                for _ in range(paragraphs)
            )
        stats = campaign.statistic_keys
        recs = campaign.recommendation_keys
        row = AttendeeRow(
            row=index + 2,
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            postcode=postcode,
            email=f"attendee{index}@example.org" if index % 3 else "",
            street=f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
            suburb="Sampleton",
            state=candidates[0].state,
            statistics=tuple(rng.sample(stats, rng.randint(0, 3))),
            recommendations=tuple(rng.sample(recs, rng.randint(0, len(recs)))),
            personal_note=note,
        )
        row.settle(rng.choice(candidates))
        rows.append(row)
    return rows


def write_attendee_csv(count: int, scratch: Path) -> Path:
    """The benchmark's attendees as an import file, and the member data `letters` reads."""
    from letters.domain.attendees import COLUMNS, attendee_csv_rows, write_csv

    directory = load_real_directory(scratch / "data")
    path = scratch / "attendees.csv"
    path.write_text(write_csv(COLUMNS, attendee_csv_rows(make_attendees(directory, count))))
    return path


def cli_command(attendees: Path, scratch: Path, target: Path) -> tuple[list[str], dict[str, str]]:
    """`letters batch-pdf` on the embedded defaults in a scratch folder: command, environment."""
    environment = {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(scratch / "instance"),
        "LETTERS_DATA_DIR": str(scratch / "data"),
    }
    command = [sys.executable, "-m", "letters", "batch-pdf", str(attendees)]
    command += ["-o", str(target / "batch.pdf"), "--date", "2026-12-05"]
    command += ["--heading", "Benchmark event"]
    return command, environment


def make_letters(count: int, scratch: Path) -> list[Letter]:
    """The benchmark's letters, in print order."""
    directory = load_real_directory(scratch / "data")
    campaign = load_campaign(CAMPAIGN)
    rows = sorted(make_attendees(directory, count), key=print_order)
    return [letter_for_attendee(campaign, row, dt.date(2026, 12, 5)) for row in rows]


def child(way: str, count: int, out: Path | None) -> None:
    """Run one way in this process and print its figures as JSON."""
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        target = out or scratch / "out"
        target.mkdir(parents=True, exist_ok=True)
        letters = make_letters(count, scratch)
        started = time.perf_counter()
        if way == "naive":
            from benchmarks.naive import naive_render

            for index, letter in enumerate(letters):
                (target / f"letter-{index:05d}.pdf").write_bytes(naive_render(letter))
            files = len(letters)
        else:
            from letters.printing import batch
            from letters.printing.batch import render_batch
            from letters.printing.plan import BatchOptions, Targets, electorates

            if way == "batch-pikepdf":
                from benchmarks.pikepdf_join import PikepdfJoiner

                batch.PdfJoiner = PikepdfJoiner  # type: ignore[misc,assignment]
            render_batch(
                electorates(letters),
                Targets(pdf=target / f"batch-{count}.pdf"),
                BatchOptions(heading="Benchmark event"),
                workers=1 if way == "batch-1" else None,
            )
            files = 1
        seconds = time.perf_counter() - started
        # Untimed: the pages written (a batch adds a cover sheet per electorate).
        pages = sum(len(PdfReader(path).pages) for path in target.glob("*.pdf"))
    print(json.dumps({"seconds": seconds, "pages": pages, "files": files}))


def _children_of(pid: int) -> list[int]:
    """A process's children, from /proc (each of its threads lists the ones it started)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as handle:
                found += [int(child) for child in handle.read().split()]
        except OSError:
            continue
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(way: str, count: int, out: Path | None) -> dict[str, float]:
    """Run a way twice in fresh processes: its time from one run, its peak memory from another."""
    if way == "cli":
        return measure_cli(count, out)
    command = [sys.executable, __file__, "--child", way, str(count)]
    timed = command + (["--out", str(out / f"{way}-{count}")] if out else [])
    output, _ = _run(timed, sample=False)
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    figures["peak_mb"] = _run(command, sample=True)[1]
    return figures


def measure_cli(count: int, out: Path | None) -> dict[str, float]:
    """Time and sample `letters batch-pdf` alone: the CSV and member data are made beforehand."""
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        attendees = write_attendee_csv(count, scratch)
        target = out / f"cli-{count}" if out else scratch / "out"
        target.mkdir(parents=True, exist_ok=True)
        command, environment = cli_command(attendees, scratch, target)
        started = time.perf_counter()
        _run(command, sample=False, environment=environment)
        seconds = time.perf_counter() - started
        pages = sum(len(PdfReader(path).pages) for path in target.glob("*.pdf"))
        peak_mb = _run(command, sample=True, environment=environment)[1]
    return {"seconds": seconds, "pages": pages, "files": 1, "peak_mb": peak_mb}


def _run(
    command: list[str], *, sample: bool, environment: dict[str, str] | None = None
) -> tuple[str, float]:
    """Run a command to its end: what it printed, and (if asked) its tree's peak PSS in MB."""
    # The CLI's progress bar goes to stderr; a benchmark child's errors should be seen.
    errors = subprocess.DEVNULL if environment else None
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment
    )
    peak_kb = 0
    stop = threading.Event()

    def sample_memory() -> None:
        nonlocal peak_kb
        while not stop.is_set():
            tree = [process.pid]
            index = 0
            while index < len(tree):
                tree += _children_of(tree[index])
                index += 1
            peak_kb = max(peak_kb, sum(_pss_kb(pid) for pid in tree))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    if sample:
        sampler.start()
    output, _ = process.communicate()
    stop.set()
    if sample:
        sampler.join()
    if process.returncode:
        raise SystemExit(f"{command[1:]} failed with exit code {process.returncode}")
    return output, peak_kb / 1024


def main() -> None:
    """Run each way at each size and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument(
        "--ways",
        nargs="+",
        default=["naive", "batch"],
        choices=["naive", "batch", "batch-1", "batch-pikepdf", "cli"],
    )
    parser.add_argument("--out", type=Path, help="keep the PDFs here")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.out)
        return

    from letters.printing.pages import usable_cores

    print(f"cores usable: {usable_cores()} (cpu count {os.cpu_count()})")
    print(f"letters from {REFERENCE} (real divisions and members), campaign {CAMPAIGN.name}")
    labels = {
        "naive": "naive: 1 document per letter, fresh fonts",
        "batch": f"batch: chunks, {usable_cores()} processes, joined",
        "batch-1": "batch: chunks, 1 process, joined",
        "batch-pikepdf": f"batch: chunks, {usable_cores()} processes, pikepdf",
        "cli": "letters batch-pdf on a CSV, end to end",
    }
    print(
        f"{'letters':>7}  {'way':<44} {'seconds':>8} {'letters/s':>10} {'peak MB':>8} {'pages':>6}"
    )
    results: dict[tuple[str, int], dict[str, float]] = {}
    for count in args.sizes:
        for way in args.ways:
            figures = measure(way, count, args.out)
            results[(way, count)] = figures
            rate = count / figures["seconds"]
            print(
                f"{count:>7}  {labels[way]:<44} {figures['seconds']:>8.1f} {rate:>10.1f} "
                f"{figures['peak_mb']:>8.0f} {figures['pages']:>6.0f}",
                flush=True,
            )
    for count in args.sizes:
        naive, batch = results.get(("naive", count)), results.get(("batch", count))
        if naive and batch:
            print(
                f"{count} letters: batch is {naive['seconds'] / batch['seconds']:.1f}x the "
                "naive way's speed"
            )
    if "batch" in args.ways:
        largest = max(args.sizes)
        best = results[("batch", largest)]
        rate = largest / best["seconds"]
        verdict = "meets" if rate >= TARGET_RATE else "MISSES"
        print(f"target >= {TARGET_RATE:.0f} letters/s at {largest}: {rate:.0f}, {verdict}")
        verdict = "meets" if best["peak_mb"] <= TARGET_PEAK_MB else "MISSES"
        print(
            f"target peak <= {TARGET_PEAK_MB:.0f} MB at {largest}: {best['peak_mb']:.0f}, {verdict}"
        )
        if len(args.sizes) > 1:
            smallest = min(args.sizes)
            small = results[("batch", smallest)]["peak_mb"]
            print(
                f"peak memory, batch: {small:.0f} MB at {smallest}, {best['peak_mb']:.0f} MB at "
                f"{largest} ({best['peak_mb'] / small:.2f}x for {largest // smallest}x the letters)"
            )


if __name__ == "__main__":
    main()
