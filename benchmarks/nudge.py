"""How long the letter page's own-words check takes with 5,000 letters to one member.

Fills a fresh database (SQLite by default; a PostgreSQL URL as `--postgres URL` or in
LETTERS_BENCH_DATABASE_URL, which is emptied first) with 5,000 letters to one member, and
letters to other members beside them, through the same code the form uses to file their own
words. A fifth of the member's letters share one pasted "personal" paragraph, a tenth have
none, a tenth have the full 2,000 characters, the rest two sentences of their own. Then it
times the check (letters/messages/own_words.py: nudge_for) for letters of each kind and
prints the median and the 95th percentile. Target: under 20 ms.

    .venv/bin/python benchmarks/nudge.py [--letters 5000] [--others 20000] [--runs 400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from benchmarks.bench_app import bench_app  # noqa: E402
from letters.domain.own_words import shingles  # noqa: E402
from letters.extensions import db  # noqa: E402
from letters.messages.own_words import nudge_for  # noqa: E402
from letters.models import Message, OwnWordsShingle  # noqa: E402

MEMBER = ("Banksia", "Priya Nandakumar")
PASTED = (
    "As a parent I am horrified that tech giants profit while children suffer. I demand that "
    "you act now to hold these companies to account for the harm they cause to our kids."
)
VOCABULARY = [
    "child", "children", "school", "online", "phone", "tablet", "game", "daughter", "son",
    "niece", "nephew", "grandson", "granddaughter", "church", "club", "coach", "teacher", "nurse",
    "parent", "mother", "father", "family", "town", "suburb", "street", "friend", "worry", "safe",
    "harm", "app", "message", "stranger", "night", "week", "year", "every", "always", "never",
    "told", "saw", "heard", "learned", "watched", "wrote", "read", "please", "because", "when",
    "while", "after", "before", "our", "my", "her", "his", "their", "we", "they", "she", "he",
    "it", "is", "was", "were", "are", "be", "have", "has", "had", "do", "did", "not", "very",
    "really", "more", "less", "still", "only", "just", "also", "even", "ever", "local",
    "community", "neighbour", "reported", "police"
]  # fmt: skip


def sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(VOCABULARY) for _ in range(words)]
    return " ".join(chosen).capitalize() + "."


def note_for(kind: str, rng: random.Random) -> str:
    if kind == "none":
        return ""
    if kind == "pasted":
        return PASTED
    if kind == "long":
        text = ""
        while len(text) < 1900:
            text += sentence(rng, rng.randint(8, 16)) + " "
        return text[:2000].strip()
    return sentence(rng, rng.randint(8, 14)) + " " + sentence(rng, rng.randint(8, 14))


def kind_of(n: int) -> str:
    return ("pasted", "pasted", "none", "long", *(["own"] * 6))[n % 10]


def fill(letters: int, others: int, rng: random.Random) -> dict[str, list[uuid.UUID]]:
    """Letters to the member (by kind) and to 150 others, each with its shingles filed."""
    now = dt.datetime.now(dt.UTC)
    by_kind: dict[str, list[uuid.UUID]] = {}
    messages, shingle_rows = [], []
    for n in range(letters + others):
        ours = n < letters
        division, member = MEMBER if ours else (f"Division {n % 150}", f"Member {n % 150}")
        kind = kind_of(n) if ours else rng.choice(("own", "own", "none", "pasted"))
        note = note_for(kind, rng)
        written = now - dt.timedelta(minutes=rng.randint(1, 60 * 24 * 27))
        message_id = uuid.uuid4()
        if ours:
            by_kind.setdefault(kind, []).append(message_id)
        messages.append(
            {
                "id": message_id,
                "token": uuid.uuid4().hex,
                "campaign_key": "tougher-on-tech",
                "delivery": "pdf",
                "state": "draft",
                "sender_name": f"Supporter {n}",
                "sender_postcode": "2001",
                "division": division,
                "member_name": member,
                "statistics": [],
                "recommendations": [],
                "personal_note": note,
                "letter_date": written.date(),
                "created_at": written,
                "updated_at": written,
            }
        )
        shingle_rows += [
            {"message_id": message_id, "shingle": s, "division": division, "written_at": written}
            for s in shingles(note)
        ]
        if len(messages) == 2000:
            db.session.execute(insert(Message), messages)
            db.session.execute(insert(OwnWordsShingle), shingle_rows)
            messages, shingle_rows = [], []
    if messages:
        db.session.execute(insert(Message), messages)
        db.session.execute(insert(OwnWordsShingle), shingle_rows)
    db.session.commit()
    return by_kind


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=5000, help="letters to the one member")
    parser.add_argument("--others", type=int, default=20000, help="letters to 150 other members")
    parser.add_argument("--runs", type=int, default=800)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LETTERS_BENCH_DATABASE_URL", ""),
        help="a PostgreSQL URL to use (emptied)",
    )
    parser.add_argument(
        "--analyze", action="store_true", help="ANALYZE first (PostgreSQL's autovacuum does)"
    )
    args = parser.parse_args()
    rng = random.Random(12)
    with bench_app(args.postgres) as (_, url):
        started = time.perf_counter()
        by_kind = fill(args.letters, args.others, rng)
        filed = db.session.query(OwnWordsShingle).count()
        print(
            f"{url.split(':')[0]}: {args.letters:,} letters to one member and "
            f"{args.others:,} to others, {filed:,} shingles, stored in "
            f"{time.perf_counter() - started:.1f} s"
        )
        if args.analyze or args.postgres:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        # Wall time is what a supporter waits; this process's CPU time leaves out waiting
        # for the other work on a shared machine (and, on PostgreSQL, the server's part).
        took: dict[str, list[float]] = {kind: [] for kind in by_kind}
        used: dict[str, list[float]] = {kind: [] for kind in by_kind}
        kinds = sorted(by_kind)
        for run in range(args.runs):
            kind = kinds[run % len(kinds)]
            letter = db.session.scalar(
                select(Message).where(Message.id == rng.choice(by_kind[kind]))
            )
            started, cpu = time.perf_counter(), time.thread_time()
            nudge = nudge_for(letter)
            took[kind].append(time.perf_counter() - started)
            used[kind].append(time.thread_time() - cpu)
            assert (nudge.kind == "shared-own-words") == (kind == "pasted"), (kind, nudge)
            db.session.rollback()
        took["all"] = [t for kind in kinds for t in took[kind]]
        used["all"] = [t for kind in kinds for t in used[kind]]
        for kind in [*kinds, "all"]:
            times, cpu_times = took[kind], used[kind]
            print(
                f"  {kind:7} letters: median {statistics.median(times) * 1000:6.2f} ms, "
                f"p95 {percentile(times, 0.95) * 1000:6.2f} ms, "
                f"slowest {max(times) * 1000:6.2f} ms; CPU median "
                f"{statistics.median(cpu_times) * 1000:5.2f} ms, "
                f"p95 {percentile(cpu_times, 0.95) * 1000:5.2f} ms ({len(times)} checks)"
            )
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
