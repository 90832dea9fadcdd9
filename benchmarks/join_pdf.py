"""Time joining a print run's parts alone: letters/printing/join.py's writer against pikepdf.

Run with `.venv/bin/python benchmarks/join_pdf.py`. It renders 1,000 letters once (as
benchmarks/batch_pdf.py makes them), keeping the parts and stamp sheets the pool wrote and
what each part's stamps need; then each joiner joins those parts (repeated five times for the
5,000-letter figure), each in a fresh process, several rounds in turn, and the fastest round
and the process's peak resident memory are reported. Rendering dominates a print run and is
the same for both, so this shows the joiner's own share without the noise of rendering on a
busy machine.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WAYS = ("pdfjoin", "pikepdf")


class Recorder:
    """Stands in for the joiner during one render: keeps every part and what to draw on it."""

    folder: Path

    def __init__(self, out: BinaryIO, title: str = "", sheets: Any = ()) -> None:
        self._out = out
        self.sheets = []
        for index, sheet in enumerate(sheets):
            kept = self.folder / f"sheet-{index}.pdf"
            shutil.copy(sheet, kept)
            self.sheets.append(str(kept))
        self.parts: list[tuple[str, str, Any]] = []

    def append(self, source: Any, bookmark: str = "", overlays: Any = None) -> int:
        kept = self.folder / f"part-{len(self.parts):05d}.pdf"
        shutil.copy(source, kept)
        self.parts.append((str(kept), bookmark, overlays))
        return 0

    def close(self) -> None:
        (self.folder / "parts.pickle").write_bytes(pickle.dumps((self.sheets, self.parts)))


def record(count: int, folder: Path) -> None:
    """Render `count` letters once, keeping what the joiner would have been given."""
    from benchmarks.batch_pdf import make_letters
    from letters.printing import batch
    from letters.printing.plan import BatchOptions, Targets, electorates

    Recorder.folder = folder
    batch.PdfJoiner = Recorder  # type: ignore[misc,assignment]
    with tempfile.TemporaryDirectory() as scratch:
        letters = make_letters(count, Path(scratch))
        batch.render_batch(
            electorates(letters),
            Targets(pdf=Path(scratch) / "unused.pdf"),
            BatchOptions(heading="Benchmark event"),
        )


def replay(way: str, folder: Path, repeat: int) -> dict[str, float]:
    """Join the recorded parts `repeat` times over with one joiner; seconds and peak MB."""
    sheets, parts = pickle.loads((folder / "parts.pickle").read_bytes())
    if way == "pikepdf":
        from benchmarks.pikepdf_join import PikepdfJoiner as Joiner
    else:
        from letters.printing.join import PdfJoiner as Joiner  # type: ignore[assignment]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with (folder / f"joined-{way}.pdf").open("wb") as out:
        joiner = Joiner(out, title="Benchmark", sheets=sheets)
        for _ in range(repeat):
            for path, bookmark, overlays in parts:
                joiner.append(path, bookmark=bookmark, overlays=overlays)
        joiner.close()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = (folder / f"joined-{way}.pdf").stat().st_size
    return {
        "seconds": seconds,
        "peak_mb": peak / 1024,
        "grew_mb": (peak - before) / 1024,
        "file_mb": size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--replay", nargs=3, metavar=("WAY", "DIR", "REPEAT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.replay:
        way, folder, repeat = args.replay
        print(json.dumps(replay(way, Path(folder), int(repeat))))
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        record(args.letters, folder)
        print(
            f"{'letters':>7}  {'joiner':<8} {'best s':>7} {'letters/s':>10} {'peak MB':>8} "
            f"{'grew MB':>8} {'file MB':>8}"
        )
        for repeat in args.repeats:
            for way in WAYS:
                runs = []
                for _ in range(args.rounds):
                    output = subprocess.run(
                        [sys.executable, __file__, "--replay", way, str(folder), str(repeat)],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    runs.append(json.loads(output.strip().splitlines()[-1]))
                best = min(runs, key=lambda run: run["seconds"])
                letters = args.letters * repeat
                print(
                    f"{letters:>7}  {way:<8} {best['seconds']:>7.2f} "
                    f"{letters / best['seconds']:>10.0f} {best['peak_mb']:>8.0f} "
                    f"{best['grew_mb']:>8.0f} {best['file_mb']:>8.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
