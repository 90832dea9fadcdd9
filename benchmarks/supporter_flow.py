"""What one supporter's whole flow costs the web: time and SQL statements per request.

Runs the email letter's flow in this process with Flask's test client, N supporters one after
another, each with a browser (cookie jar) of their own: `GET /write`, `POST /write`, the letter
page, the confirmation page and pressing "Send my letter". The confirmation link is made as the
worker makes it (no worker runs; the broker only receives the wake-ups). For each route it prints
the median and 95th percentile in ms, this process's median CPU ms, and the SQL statements per
request (counted with an SQLAlchemy `before_cursor_execute` listener), then the whole flow's.
`--profile ROUTE` prints where that route's time goes (cProfile; `--sort tottime` for its own
time).

    .venv/bin/python benchmarks/supporter_flow.py [-n 300] [--postgres URL] [--broker URL]
        [--profile "POST /write"]

SQLite by default; `--postgres URL` (or LETTERS_BENCH_DATABASE_URL) empties that database
first. The embedded file-system broker by default; `--broker redis://...` for Redis. Member data
is the full-scale reference data when it is there (`LETTERS_REFERENCE_DATA`, by default
../shared/reference-data), else the tests' small fixture.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from letters import create_app, migrations  # noqa: E402
from letters.extensions import db  # noqa: E402
from letters.mail.content import confirm_url  # noqa: E402
from letters.models import Message  # noqa: E402
from letters.refresh import Plausibility, refresh  # noqa: E402
from tests.helpers import GOOD_FORM, csrf_token_in, hidden_fields, statements_of  # noqa: E402

ROUTES = (
    "GET /write",
    "POST /write",
    "GET /letters/<token>",
    "GET /confirm/<token>",
    "POST /confirm/<token>",
)
REFERENCE = Path(
    os.environ.get("LETTERS_REFERENCE_DATA") or ROOT.parent / "shared" / "reference-data"
)
FIXTURE = ROOT / "tests" / "fixtures" / "openaustralia"
NOTE = (
    "My niece is eleven and online every day. Her school has had two cases of strangers "
    "messaging children this year, and the platforms did nothing until the police came."
)


def load_members(data_dir: Path) -> dict[str, str]:
    """Member data into data_dir; where the supporters live."""
    if (REFERENCE / "openaustralia-parser" / "representatives.csv").exists():
        refresh(str(REFERENCE / "openaustralia-parser"), data_dir)
        return {"postcode": "2600", "division": "Canberra"}  # a postcode of two divisions
    refresh(str(FIXTURE), data_dir, plausibility=Plausibility(5, 20, 5))
    return {"postcode": "2001"}


class Flow:
    """Times and counts each request of the flow, by route."""

    def __init__(self, app: Flask, address: dict[str, str], profile: str | None) -> None:
        self.app = app
        self.address = address
        self.times: dict[str, list[float]] = {route: [] for route in ROUTES}
        self.cpu: dict[str, list[float]] = {route: [] for route in ROUTES}
        self.counts: dict[str, list[int]] = {route: [] for route in ROUTES}
        self.profile = profile
        self.profiler = cProfile.Profile() if profile else None

    def request(self, route: str, call: Callable[[], Any], expect: int) -> Any:
        profiling = self.profiler is not None and route == self.profile
        with self.app.app_context(), statements_of(db.engine) as statements:
            if profiling:
                self.profiler.enable()
            started, cpu = time.perf_counter(), time.thread_time()
            response = call()
            took, used = time.perf_counter() - started, time.thread_time() - cpu
            if profiling:
                self.profiler.disable()
        assert response.status_code == expect, (route, response.status_code)
        self.times[route].append(took)
        self.cpu[route].append(used)
        self.counts[route].append(len(statements))
        return response

    def supporter(self, n: int) -> None:
        """One supporter, from the form to "Send my letter"."""
        client: FlaskClient = self.app.test_client()
        page = self.request("GET /write", lambda: client.get("/write"), 200)
        form = {
            **hidden_fields(page.get_data(as_text=True)),
            **GOOD_FORM,
            "website": "",
            "name": f"Supporter {n}",
            "email": f"supporter{n}@example.org",
            **self.address,
            "personal_note": f"{NOTE} ({n})",
            "delivery": "email",
        }
        saved = self.request("POST /write", lambda: client.post("/write", data=form), 303)
        letter_path = saved.headers["Location"]
        self.request("GET /letters/<token>", lambda: client.get(letter_path), 200)
        # The link the confirmation email holds, as the worker makes it.
        with self.app.app_context():
            token = letter_path.rsplit("/", 1)[1]
            message = db.session.scalar(select(Message).where(Message.token == token))
            confirm_path = "/confirm/" + confirm_url(message).rsplit("/confirm/", 1)[1]
        shown = self.request("GET /confirm/<token>", lambda: client.get(confirm_path), 200)
        csrf = csrf_token_in(shown.get_data(as_text=True))
        self.request(
            "POST /confirm/<token>",
            lambda: client.post(confirm_path, data={"csrf_token": csrf}),
            303,
        )

    def reset(self) -> None:
        for route in ROUTES:
            self.times[route].clear()
            self.cpu[route].clear()
            self.counts[route].clear()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(flow: Flow, label: str) -> None:
    print(label)
    # Wall time is what a supporter waits; this process's CPU time leaves out the waiting for
    # other work on a shared machine (and, on PostgreSQL, the server's own part).
    print(f"  {'route':24} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'statements':>11}")
    for route in ROUTES:
        counts = flow.counts[route]
        spread = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
        print(
            f"  {route:24} {_ms(flow.times[route])} {_ms(flow.cpu[route], p95=False)} {spread:>11}"
        )
    whole = [sum(parts) for parts in zip(*flow.times.values(), strict=True)]
    whole_cpu = [sum(parts) for parts in zip(*flow.cpu.values(), strict=True)]
    total = sum(statistics.median(c) for c in flow.counts.values())
    print(f"  {'whole flow':24} {_ms(whole)} {_ms(whole_cpu, p95=False)} {total:>11g}")


def _ms(values: list[float], p95: bool = True) -> str:
    median = f"{statistics.median(values) * 1000:{10 if p95 else 7}.2f}"
    return f"{median} {percentile(values, 0.95) * 1000:8.2f}" if p95 else median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=300, help="supporters timed")
    parser.add_argument("--warmup", type=int, default=20, help="supporters first, not timed")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LETTERS_BENCH_DATABASE_URL", ""),
        help="a PostgreSQL URL to use (emptied)",
    )
    parser.add_argument("--broker", default="filesystem://", help="the Celery broker URL")
    parser.add_argument("--profile", choices=ROUTES, help="print where this route's time goes")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (pstats)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or f"sqlite:///{folder}/bench.sqlite3"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "INSTANCE_DIR": Path(folder),
                "DATA_DIR": Path(folder) / "data",
                "OUTBOX_DIR": Path(folder) / "outbox",
                "BROKER_URL": args.broker,
                "TASK_QUEUE": f"bench-{os.getpid()}",  # wake-ups nobody will take
                "SECRET_KEY": "b" * 40,
                "MIN_FILL_SECONDS": 0,  # a test client is faster than a person
                "SUPPORTER_POST_LIMIT": "1000000 per hour",
            }
        )
        address = load_members(app.config["DATA_DIR"])
        with app.app_context():
            if args.postgres:
                db.drop_all()
                db.create_all()
            else:
                migrations.upgrade(db.engine)
        flow = Flow(app, address, args.profile)
        for n in range(args.warmup):
            flow.supporter(n)
        flow.reset()
        if flow.profiler is not None:
            flow.profiler = cProfile.Profile()
        for n in range(args.warmup, args.warmup + args.iterations):
            flow.supporter(n)
        database = "PostgreSQL" if args.postgres else "SQLite"
        broker = args.broker.split(":", 1)[0]
        report(flow, f"{database}, {broker} broker: {args.iterations} supporters, one at a time")
        if flow.profiler is not None:
            print(f"\nwhere {args.profile} spends its time:")
            pstats.Stats(flow.profiler).sort_stats(args.sort).print_stats(40)
        if args.broker.startswith("redis://"):
            _drop_queue(app)
        with app.app_context():
            if args.postgres:
                db.drop_all()
            db.engine.dispose()


def _drop_queue(app: Flask) -> None:
    """The wake-ups sent to the benchmark's own queue go with it (the list, and kombu's
    bindings of the exchange of the same name)."""
    import redis

    queue = app.config["TASK_QUEUE"]
    keys = (queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    redis.Redis.from_url(app.config["BROKER_URL"]).delete(*keys)


if __name__ == "__main__":
    main()
