"""Load and faults on the production topology: nothing lost, nothing sent twice, no 5xx.

Starts docker-compose.yml's services as processes (tests/topology.py: gunicorn, two workers,
beat, this machine's PostgreSQL and Redis, a local SendGrid stand-in), then drives supporters
through the whole email flow: the form, the letter page, the confirmation email, confirming.
Meanwhile it SIGKILLs workers on a schedule (each is restarted at once, as a process manager
would) and makes SendGrid answer 500s, then 429s, for a window. At the end it compares the
database with what the stand-in received.

    .venv/bin/python benchmarks/loadproof.py                      # open loop, 25 supporters/s, 60 s
    .venv/bin/python benchmarks/loadproof.py --closed 200         # 200 concurrent supporters
    .venv/bin/python benchmarks/loadproof.py --short              # CI's version (20 s, 5/s)

Open loop (the default) starts a fixed number of new supporters a second, whatever the site's
answers: latency is then measured below saturation, not only as queueing. Closed loop keeps N
supporters busy, each starting again when done. A supporter confirms when their confirmation
email reaches the stand-in, as a person clicking the link would.

Exit status 1 on any lost, duplicated, unconfirmed-but-sent, misaddressed or stranded letter,
or any 5xx.
"""

from __future__ import annotations

import argparse
import queue
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.fakes.sendgrid import Received  # noqa: E402
from tests.helpers import GOOD_FORM, csrf_token_in, hidden_fields  # noqa: E402
from tests.topology import Browser, Deployment, deployment  # noqa: E402

CONFIRM_LINK = re.compile(r"https://[^/\s]+(/confirm/\S+)")


@dataclass
class Timings:
    """Every request's route, start time, duration and status, thread-safe."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rows: list[tuple[str, float, float, int]] = field(default_factory=list)

    def request(self, browser: Browser, route: str, method: str, path: str, form=None):
        started = time.monotonic()
        try:
            status, headers, text = browser.request(method, path, form)
        except OSError:
            status, headers, text = 599, {}, ""  # no answer at all counts as a server error
        with self.lock:
            self.rows.append((route, started, time.monotonic() - started, status))
        return status, headers, text

    def between(self, start: float, end: float) -> list[tuple[str, float, float, int]]:
        with self.lock:
            return [row for row in self.rows if start <= row[1] < end]


@dataclass
class Supporter:
    number: int
    email: str
    browser: Browser
    letter_path: str = ""


class Run:
    def __init__(self, site: Deployment, run_id: str) -> None:
        self.site = site
        self.run_id = run_id
        self.timings = Timings()
        self.by_email: dict[str, Supporter] = {}
        self.lock = threading.Lock()
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.submitted = 0
        self.refused: list[int] = []
        site.fake.on_accept = self._arrived

    def _arrived(self, received: Received) -> None:
        if received.kind == "confirmation":
            self.inbox.put(received)

    def write(self, number: int) -> None:
        """One supporter's visit: the form, their letter, its page."""
        email = f"s{number}-{self.run_id}@example.org"
        # A supporter of their own each: per-address limits see many people, as in life.
        address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        supporter = Supporter(number, email, Browser(self.site.url, client_address=address))
        status, _, page = self.timings.request(supporter.browser, "GET /write", "GET", "/write")
        if status != 200:
            return
        form = {
            **GOOD_FORM,
            **hidden_fields(page),
            "website": "",
            "name": f"Supporter {number}",
            "email": email,
            "delivery": "email",
        }
        with self.lock:
            self.by_email[email] = supporter
        status, headers, _ = self.timings.request(
            supporter.browser, "POST /write", "POST", "/write", form
        )
        if status != 303:
            with self.lock:
                self.refused.append(status)
            return
        supporter.letter_path = urlsplit(headers["Location"]).path
        with self.lock:
            self.submitted += 1
        self.timings.request(
            supporter.browser, "GET /letters/<token>", "GET", supporter.letter_path
        )

    def confirm(self, received: Received) -> None:
        """The supporter opens their confirmation email's link and presses the button."""
        to = received.payload["personalizations"][0]["to"][0]["email"]
        with self.lock:
            supporter = self.by_email.get(to)
        found = CONFIRM_LINK.search(received.payload["content"][0]["value"])
        if supporter is None or found is None:
            return
        path = found.group(1)
        status, _, page = self.timings.request(supporter.browser, "GET /confirm", "GET", path)
        if status != 200:
            return
        self.timings.request(
            supporter.browser, "POST /confirm", "POST", path, {"csrf_token": csrf_token_in(page)}
        )


def faults(run: Run, start: float, duration: float, kills: int, outage: float) -> None:
    """Kill workers evenly over the load phase; SendGrid fails for `outage` seconds."""
    events: list[tuple[float, str]] = []
    for k in range(kills):
        events.append((start + duration * (k + 1) / (kills + 1), f"kill worker-{k % 2 + 1}"))
    if outage:
        begin = start + duration / 4
        events += [(begin, "500"), (begin + outage / 2, "429"), (begin + outage, "202")]
    for at, what in sorted(events):
        time.sleep(max(0.0, at - time.monotonic()))  # the schedule itself, not a sync wait
        if what.startswith("kill"):
            name = what.split()[1]
            run.site.kill(name)
            run.site.restart(name)
            print(f"  {at - start:5.1f}s  killed and restarted {name}", flush=True)
        else:
            run.site.fake.answer(default=int(what))
            print(f"  {at - start:5.1f}s  SendGrid answers {what}", flush=True)


class Confirmer:
    """Supporters who open their confirmation email as it arrives, a few at a time."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.pool = ThreadPoolExecutor(max_workers=16)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._dispatch, daemon=True)
        self.thread.start()

    def _dispatch(self) -> None:
        while not self.stopping.is_set() or not self.run.inbox.empty():
            try:
                received = self.run.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self.pool.submit(self.run.confirm, received)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.pool.shutdown()


def drive(run: Run, *, rate: float, closed: int, duration: float) -> tuple[float, float]:
    """The load phase; returns its start and end on the monotonic clock."""
    start = time.monotonic()
    numbers = iter(range(10**9))
    if closed:

        def user() -> None:
            while time.monotonic() - start < duration:
                run.write(next(numbers))

        with ThreadPoolExecutor(max_workers=closed) as users:
            for _ in range(closed):
                users.submit(user)
    else:
        with ThreadPoolExecutor(max_workers=max(16, int(rate * 4))) as users:
            for k in range(int(rate * duration)):
                time.sleep(max(0.0, start + k / rate - time.monotonic()))  # the arrival schedule
                users.submit(run.write, next(numbers))
    return start, time.monotonic()


def rows(database_url: str) -> list[tuple[str, str, bool, str, str]]:
    with psycopg.connect(database_url.replace("+psycopg", "", 1)) as connection:
        return connection.execute(
            "SELECT id::text, state, confirmed_at IS NOT NULL, lower(recipient_email),"
            " sender_email FROM message WHERE delivery = 'email'"
        ).fetchall()


def settle(run: Run, timeout: float) -> None:
    """Wait until every confirmed letter reached the stand-in and every submitted letter was
    confirmed, or until `timeout`: what is missing then is what the run lost."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(run.site.database_url)
        confirmed = {row[0] for row in found if row[2]}
        received = set(run.site.fake.count_by_message())
        if len(confirmed) == len(found) == run.submitted and confirmed <= received:
            return
        time.sleep(1.0)  # a benchmark's progress check, not a test's synchronisation


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def report(run: Run, start: float, end: float) -> int:
    load = run.timings.between(start, end)
    seconds = end - start
    by_route: dict[str, list[float]] = defaultdict(list)
    for route, _, took, _ in load:
        by_route[route].append(took * 1000)
    errors = [row for row in run.timings.rows if row[3] >= 500]
    written = sum(1 for row in load if row[0] == "POST /write" and row[3] == 303)
    print(
        f"\nload phase {seconds:.0f} s: {len(load) / seconds:.1f} requests/s, "
        f"{written / seconds:.1f} submissions/s"
    )
    print(f"{'route':24} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for route in (
        "GET /write",
        "POST /write",
        "GET /letters/<token>",
        "GET /confirm",
        "POST /confirm",
    ):
        taken = by_route.get(route, [])
        print(
            f"{route:24} {len(taken):6d} {percentile(taken, 0.5):8.0f} "
            f"{percentile(taken, 0.95):8.0f} {percentile(taken, 0.99):8.0f}"
        )
    everything = [took for values in by_route.values() for took in values]

    found = rows(run.site.database_url)
    letters = [r for r in run.site.fake.received if r.kind == "letter" and r.status == 202]
    counts = run.site.fake.count_by_message()
    confirmations: dict[str, int] = defaultdict(int)
    for item in run.site.fake.received:
        if item.kind == "confirmation" and item.status == 202:
            confirmations[item.message_id] += 1
    confirmed = {row[0] for row in found if row[2]}
    recipient = {row[0]: row[3] for row in found}
    lost = confirmed - set(counts)
    duplicated = {m for m, n in counts.items() if n > 1}
    unconfirmed_sent = set(counts) - confirmed
    misaddressed = {
        item.message_id
        for item in letters
        if item.payload["personalizations"][0]["to"][0]["email"].lower()
        != recipient.get(item.message_id)
    }
    stranded = {row[0] for row in found if not row[2] and row[0] not in confirmations}
    twice_asked = {m for m, n in confirmations.items() if n > 1}
    print(
        f"\nsubmitted {run.submitted}, refused {len(run.refused)} {sorted(set(run.refused))}, "
        f"confirmed {len(confirmed)}, received {len(counts)}"
    )
    print(
        f"lost {len(lost)}, duplicated {len(duplicated)}, sent unconfirmed "
        f"{len(unconfirmed_sent)}, misaddressed {len(misaddressed)}, stranded without a "
        f"confirmation {len(stranded)}, confirmation emailed twice {len(twice_asked)}, "
        f"5xx {len(errors)}"
    )
    print(
        f"SUMMARY {written / seconds:.1f} submissions/s, p50 {percentile(everything, 0.5):.0f} ms"
        f" / p99 {percentile(everything, 0.99):.0f} ms, 5xx {len(errors)}, confirmed/received/"
        f"lost/duplicated {len(confirmed)}/{len(counts)}/{len(lost)}/{len(duplicated)}, "
        f"stranded {len(stranded)}"
    )
    bad = lost or duplicated or unconfirmed_sent or misaddressed or stranded or errors
    return 1 if bad or not run.submitted else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=25.0, help="new supporters a second")
    parser.add_argument("--closed", type=int, default=0, help="N concurrent supporters instead")
    parser.add_argument("--duration", type=float, default=60.0, help="load phase, seconds")
    parser.add_argument("--kills", type=int, default=1, help="worker SIGKILLs in the load phase")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds of SendGrid failing")
    parser.add_argument("--web-workers", default="2", help="gunicorn processes")
    parser.add_argument("--short", action="store_true", help="CI: 20 s, 5/s, 1 kill, 10 s outage")
    args = parser.parse_args(argv)
    if args.short:
        args.rate, args.closed, args.duration, args.kills, args.outage = 5.0, 0, 20.0, 1, 10.0
    mode = (
        f"closed loop, {args.closed} supporters" if args.closed else f"open loop, {args.rate:g}/s"
    )
    print(
        f"loadproof: {mode}, {args.duration:g} s, {args.kills} kill(s), "
        f"{args.outage:g} s SendGrid outage, {args.web_workers} web processes",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        deployment(
            Path(folder),
            LETTERS_WEB_WORKERS=args.web_workers,
            # The sweep re-wakes what a killed worker held: often, so a short run shows it.
            LETTERS_SWEEP_INTERVAL_SECONDS="2",
            LETTERS_SWEEP_QUEUED_AFTER_SECONDS="5",
            LETTERS_SEND_LEASE_SECONDS="15",
            LETTERS_SEND_RETRY_BASE_SECONDS="2",
            LETTERS_SEND_MAX_ATTEMPTS="20",
        ) as site,
    ):
        run = Run(site, run_id=str(int(time.time())))
        wait_until_up(site)
        chaos = threading.Thread(
            target=faults,
            args=(run, time.monotonic(), args.duration, args.kills, args.outage),
            daemon=True,
        )
        chaos.start()
        confirmer = Confirmer(run)
        start, end = drive(run, rate=args.rate, closed=args.closed, duration=args.duration)
        chaos.join()
        settle(run, timeout=args.outage + 120)
        confirmer.stop()
        if site.dead():
            print(f"services that died: {site.dead()}")
        return report(run, start, end)


def wait_until_up(site: Deployment, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    browser = Browser(site.url)
    while time.monotonic() < deadline:
        try:
            if browser.request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        if site.dead():
            raise SystemExit(f"{site.dead()} died: {site.log(site.dead()[0])}")
        time.sleep(0.2)  # waiting for gunicorn to bind
    raise SystemExit("the web service did not answer /healthz")


if __name__ == "__main__":
    sys.exit(main())
