"""How long the organiser's dashboard takes at scale: 100,000 letters and 20,000 answers.

Fills a fresh database (SQLite by default; `--postgres URL` for a server, which is emptied
first), logs an organiser in through the form, then renders /organiser/dashboard and each
CSV export several times, printing the median and the slowest. Target: the page under 1 s.

    .venv/bin/python benchmarks/dashboard.py [--letters 100000] [--answers 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from benchmarks.bench_app import bench_app  # noqa: E402
from letters.extensions import db  # noqa: E402
from letters.models import FollowUp, Message  # noqa: E402
from tests.organiser_helpers import login, make_organiser  # noqa: E402

STATES = ["delivered"] * 6 + ["sent"] * 2 + ["bounced", "awaiting_confirmation", "queued"]
ANSWERS = ["real", "acknowledgement", "no_reply", "rather_not_say"]


def fill(letters: int, answers: int) -> None:
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    divisions = [(f"Division {n}", f"Member {n}", rng.choice(["ALP", "LP", "GRN", ""]))
                 for n in range(151)]  # fmt: skip
    ids: list[uuid.UUID] = []
    batch = []
    for n in range(letters):
        division, member, party = rng.choice(divisions)
        state = rng.choice(STATES) if n % 5 else "draft"
        email = state != "draft"
        sent = now - dt.timedelta(days=rng.randint(15, 90))
        message_id = uuid.uuid4()
        ids.append(message_id) if state in ("delivered", "sent") else None
        batch.append(
            {
                "id": message_id,
                "token": uuid.uuid4().hex,
                "campaign_key": "tougher-on-tech",
                "delivery": "email" if email else "pdf",
                "state": state,
                "sender_name": "(removed)",
                "sender_postcode": "2000",
                "division": division,
                "division_state": "NSW",
                "member_name": member,
                "member_party": party,
                "letter_date": sent.date(),
                "confirmed_at": sent if state not in ("draft", "awaiting_confirmation") else None,
                "sent_at": sent if state in ("delivered", "sent", "bounced") else None,
                "statistics": [],
                "recommendations": [],
                "created_at": sent,
                "updated_at": sent,
            }
        )
        if len(batch) == 5000:
            db.session.execute(insert(Message), batch)
            batch = []
    if batch:
        db.session.execute(insert(Message), batch)
    follow_ups = [
        {
            "message_id": message_id,
            "asked_at": now - dt.timedelta(days=20),
            "answer": rng.choice(ANSWERS),
            "answered_at": now - dt.timedelta(days=rng.randint(1, 19)),
        }
        for message_id in rng.sample(ids, min(answers, len(ids)))
    ]
    for start in range(0, len(follow_ups), 5000):
        db.session.execute(insert(FollowUp), follow_ups[start : start + 5000])
    db.session.commit()


def timed(client, url: str, runs: int) -> list[float]:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        took.append(time.perf_counter() - started)
        assert response.status_code == 200 and body, (url, response.status_code)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=100_000)
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL to use (emptied)")
    args = parser.parse_args()
    with bench_app(args.postgres) as (app, url):
        started = time.perf_counter()
        fill(args.letters, args.answers)
        print(f"{url.split(':')[0]}: {args.letters:,} letters, {args.answers:,} answers "
              f"stored in {time.perf_counter() - started:.1f} s")  # fmt: skip
        make_organiser(app)
        client = app.test_client()
        login(client)
        for path in (
            "/organiser/dashboard",
            "/organiser/dashboard/divisions.csv",
            "/organiser/dashboard/answers.csv",
            "/organiser/dashboard/letters.csv",
        ):
            took = timed(client, path, args.runs)
            print(f"{path:40} median {statistics.median(took) * 1000:7.0f} ms, "
                  f"slowest {max(took) * 1000:7.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
