"""How fast an attendee CSV is read and checked, and whether the cost per row stays flat.

Writes attendee files of growing size (made-up people at real postcodes, settled to real
divisions, from ../shared/reference-data, read in place and never copied), then times
letters.domain.attendees.read_attendees on each, best of three, and prints rows/s and the cost
of a row at each size against the smallest. A cost per row that grows with the file would mean
something quadratic crept in; the import page and `letters batch-pdf` read files of up to
100,000 rows (MAX_ROWS). Target: 50,000 rows in under 5 s, and a row at 50,000 costing no more
than twice a row at 5,000.

    .venv/bin/python benchmarks/attendee_import.py [--sizes 5000 20000 50000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.batch_pdf import CAMPAIGN, load_real_directory, make_attendees
from letters.domain.attendees import (
    COLUMNS,
    attendee_csv_rows,
    read_attendees,
    write_csv,
)
from letters.domain.campaign import load_campaign

TARGET_SECONDS_AT_50K = 5.0
TARGET_GROWTH = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000, 50_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    campaign = load_campaign(CAMPAIGN)
    with tempfile.TemporaryDirectory() as scratch:
        directory = load_real_directory(Path(scratch) / "data")
        people = make_attendees(directory, max(args.sizes))
    first_cost = None
    for size in sorted(args.sizes):
        data = write_csv(COLUMNS, attendee_csv_rows(people[:size])).encode()
        best = float("inf")
        for _ in range(args.runs):
            started = time.perf_counter()
            report = read_attendees(data, campaign, directory)
            best = min(best, time.perf_counter() - started)
        # Every made-up attendee is valid and settled: anything else means the file was misread.
        assert report.data_rows == size and len(report.rows) == size, report.summary()
        assert not report.rejected_rows and not report.to_settle, report.summary()
        cost = best / size
        first_cost = first_cost or cost
        print(
            f"{size:>7,} rows ({len(data) / 1e6:.1f} MB): {best:6.2f} s, "
            f"{size / best:,.0f} rows/s, {cost * 1e6:.0f} µs a row "
            f"({cost / first_cost:.2f}x the smallest file's)"
        )
    print(
        f"targets: 50,000 rows in under {TARGET_SECONDS_AT_50K:.0f} s; "
        f"a row's cost growing no more than {TARGET_GROWTH:.0f}x from the smallest file"
    )


if __name__ == "__main__":
    main()
