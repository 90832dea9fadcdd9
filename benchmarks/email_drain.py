"""Drain 10,000 queued email letters through 2 worker processes into a local fake SendGrid.

Production topology: PostgreSQL and Redis on this machine (127.0.0.1), real `letters worker`
processes, the real sendgrid client pointed at tests/fakes/sendgrid.py. Prints letters/s,
duplicates and losses. Target: >= 300 letters/s, 0 duplicates, 0 lost.

    .venv/bin/python benchmarks/email_drain.py [--letters 10000] [--threads 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from letters import create_app, settings  # noqa: E402
from letters.extensions import db  # noqa: E402
from letters.models import Message  # noqa: E402
from tests.fakes.sendgrid import API_KEY, FakeSendGrid  # noqa: E402

POSTGRES = os.environ.get("LETTERS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("LETTERS_BENCH_REDIS", "redis://127.0.0.1:6379/1")
DATABASE = "letters_bench"


def fresh_database() -> str:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return f"{POSTGRES}/{DATABASE}"


def queued_rows(count: int) -> list[dict]:
    now = dt.datetime.now(dt.UTC)
    return [
        {
            "id": uuid.uuid4(),
            "token": uuid.uuid4().hex,
            "campaign_key": "tougher-on-tech",
            "delivery": "email",
            "state": "queued",
            "sender_name": f"Supporter {n}",
            "sender_email": f"supporter{n}@example.org",
            "sender_street": f"{n} Example Street",
            "sender_suburb": "Braddon",
            "sender_state": "ACT",
            "sender_postcode": "2612",
            "division": "Canberra",
            "division_state": "ACT",
            "member_name": "Alicia Payne",
            "member_party": "ALP",
            "statistics": ["afp-reports", "tech-enabled"][: 1 + n % 2],
            "recommendations": ["increase-fines", "expand-expectations", "duty-of-care"],
            "personal_note": f"Letter number {n}: this matters to my family.",
            "letter_date": now.date(),
            "recipient_email": "Alicia.Payne.MP@aph.gov.au",
            "confirmed_at": now,
            # Queued ten minutes ago and never picked up (a backlog after an outage, say):
            # exactly what the periodic sweep exists to find.
            "queued_at": now - dt.timedelta(minutes=10),
        }
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8, help="threads in each worker process")
    parser.add_argument(
        "--one-task-per-letter",
        action="store_true",
        help="enqueue send_letter for every row (as confirmations do) instead of one sweep",
    )
    args = parser.parse_args()

    fake = FakeSendGrid().start()
    instance = Path(tempfile.mkdtemp(prefix="letters-bench-"))
    env = {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(instance),
        "LETTERS_DATABASE_URL": fresh_database(),
        "LETTERS_BROKER_URL": REDIS,
        "LETTERS_TASK_QUEUE": f"bench-{uuid.uuid4().hex}",
        "LETTERS_SECRET_KEY": "bench",
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_API_HOST": fake.url,
    }
    app = create_app(settings.from_environment(env))
    with app.app_context():
        db.create_all()
        rows = queued_rows(args.letters)
        for start in range(0, len(rows), 2000):
            db.session.execute(insert(Message), rows[start : start + 2000])
        db.session.commit()
    ids = [str(row["id"]) for row in rows]

    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "letters",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(args.threads),
                "--loglevel",
                "WARNING",
            ],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=(instance / f"worker{n}.log").open("w"),
        )
        for n in range(2)
    ]
    from tasks.email import send_letter, sweep

    with app.app_context():
        # Start the clock only once both workers answer: their start-up is not drain time.
        control = app.extensions["celery"].control
        while len(control.ping(timeout=1.0)) < len(workers):
            pass
        started = time.perf_counter()
        if args.one_task_per_letter:
            for message_id in ids:
                send_letter.delay(message_id)
        else:
            sweep.delay()  # what beat does every LETTERS_SWEEP_INTERVAL_SECONDS
        enqueued = time.perf_counter() - started
        deadline = time.monotonic() + 600
        # Watch the fake SendGrid (in this process) rather than poll the database: counting
        # rows every few milliseconds would load the very server being measured.
        while len(fake.received) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        # Then the rows themselves: every one recorded as sent (the last commit may trail).
        while time.monotonic() < deadline:
            db.session.expire_all()
            done = db.session.scalar(
                select(func.count()).select_from(Message).where(Message.state == "sent")
            )
            if done >= len(ids):
                break
            time.sleep(0.2)

    for worker in workers:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    counts = fake.count_by_message()
    fake.stop()
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    lost = len(set(ids) - set(counts))
    how = "one send_letter task per letter" if args.one_task_per_letter else "one sweep, batches"
    print(f"letters: {len(ids)}, 2 worker processes x {args.threads} threads, Redis + PostgreSQL")
    print(f"woken by: {how} (enqueueing took {enqueued:.1f} s)")
    print(f"cpu count: {os.cpu_count()}")
    print(
        f"drained: {len(fake.received)} at SendGrid in {elapsed:.1f} s = "
        f"{len(fake.received) / elapsed:,.0f} letters/s; {done} rows recorded as sent"
    )
    print(f"duplicates: {duplicates}   lost: {lost}")
    rate = len(fake.received) / elapsed
    ok = rate >= 300 and done == len(ids) and not duplicates and not lost
    print(f"target >= 300 letters/s, 0 duplicates, 0 lost: {'meets' if ok else 'MISSES'}")


if __name__ == "__main__":
    main()
