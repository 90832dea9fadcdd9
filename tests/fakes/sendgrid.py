"""A local HTTP server that speaks SendGrid's v3 mail-send API, scriptable by tests.

The real `sendgrid` client is pointed at it with SENDGRID_API_HOST. It records every request
it receives, answers from a script (202, 429, 500, 400, slow, held until the test lets it
go...), and can post signed Event Webhook batches back to the app the way SendGrid does.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from letters import clock

API_KEY = "SG.test-key"
# A held request is let go after this long even if no test releases it, so that a failed
# test cannot leave the server's threads waiting forever.
HOLD_LIMIT_SECONDS = 120.0


@dataclass
class Received:
    """One request as the server saw it."""

    payload: dict[str, Any]
    status: int
    message_id: str  # our letters_message_id custom arg
    kind: str
    at: float


@dataclass
class Script:
    """Answers to give, in order; then `default`. An answer is a status, ("slow", seconds), or
    ("hold", status): the request waits until `FakeSendGrid.release()`, then gets that status
    (recorded with it on arrival, as what SendGrid will make of it)."""

    answers: list[int | tuple[str, float]] = field(default_factory=list)
    default: int | tuple[str, float] = 202
    kind: str | None = None  # when set, the script is for this kind of email; others get 202


class WebhookSigner:
    """Signs Event Webhook batches with a key pair made for the test."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(clock.timestamp()) if timestamp is None else timestamp)
        signature = self.private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "Content-Type": "application/json",
        }


def event(message_id: str, name: str, kind: str = "letter", **extra: Any) -> dict[str, Any]:
    """One Event Webhook entry as SendGrid sends it (custom args at the top level)."""
    return {
        "email": "member@example.invalid",
        "timestamp": extra.pop("timestamp", int(clock.timestamp())),
        "event": name,
        "sg_event_id": extra.pop("sg_event_id", uuid.uuid4().hex),
        "sg_message_id": extra.pop("sg_message_id", "fake.filter0001"),
        "letters_message_id": message_id,
        "letters_kind": kind,
        **extra,
    }


class FakeSendGrid:
    """The server: start it, point the client at `url`, read `received`."""

    def __init__(self) -> None:
        self.script = Script()
        self.received: list[Received] = []
        self.on_accept: Callable[[Received], None] | None = None
        self.id_prefix = "fake-"  # X-Message-Id of each email taken: this, then a number
        self.request_started = threading.Event()
        self.released = threading.Event()  # lets held requests go (see Script)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeSendGrid:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def answer(
        self,
        *answers: int | tuple[str, float],
        default: int | tuple[str, float] = 202,
        kind: str | None = None,
    ):
        with self._lock:
            self.script = Script(list(answers), default, kind)

    def release(self) -> None:
        """Let every held request (and any held later) have its answer."""
        self.released.set()

    def _next_answer(self, kind: str) -> int | tuple[str, float]:
        with self._lock:
            if self.script.kind is not None and kind != self.script.kind:
                return 202
            return self.script.answers.pop(0) if self.script.answers else self.script.default

    def letters(self) -> list[Received]:
        """The letters (not confirmations) that were accepted."""
        with self._lock:
            return [r for r in self.received if r.kind == "letter" and r.status == 202]

    def count_by_message(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.letters():
            counts[item.message_id] = counts.get(item.message_id, 0) + 1
        return counts

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _reply(self, status: int, body: dict[str, Any] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if status == 202:
                    self.send_header("X-Message-Id", f"{fake.id_prefix}{next(fake._ids)}")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path != "/v3/mail/send":
                    self._reply(404, {"errors": [{"message": "not found"}]})
                    return
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    self._reply(401, {"errors": [{"message": "bad key"}]})
                    return
                payload = json.loads(raw)
                args = payload.get("custom_args", {})
                answer = fake._next_answer(args.get("letters_kind", ""))
                held = isinstance(answer, tuple) and answer[0] == "hold"
                slow = 0.0
                status = answer if isinstance(answer, int) else 202
                if isinstance(answer, tuple):
                    slow, status = (0.0, int(answer[1])) if held else (answer[1], 202)
                # Recorded on arrival, as SendGrid would have it even if our reply never
                # reaches the client: that is what a duplicate send would be counted against.
                received = Received(
                    payload,
                    status,
                    args.get("letters_message_id", ""),
                    args.get("letters_kind", ""),
                    clock.timestamp(),
                )
                with fake._lock:
                    fake.received.append(received)
                if status == 202 and fake.on_accept is not None:
                    fake.on_accept(received)
                if slow:  # ("slow", seconds): accepted, but the answer takes its time
                    fake.request_started.set()
                    time.sleep(slow)  # the scenario itself: a slow server, not a wait for sync
                if held:  # ("hold", status): the answer waits for the test's release()
                    fake.request_started.set()
                    fake.released.wait(HOLD_LIMIT_SECONDS)
                try:
                    if status == 202:
                        self._reply(202)
                    else:
                        self._reply(status, {"errors": [{"message": f"scripted {status}"}]})
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client died while it waited (a killed worker): nobody to tell

        return Handler


@contextmanager
def running() -> Iterator[FakeSendGrid]:
    """A started fake server, stopped afterwards."""
    fake = FakeSendGrid().start()
    try:
        yield fake
    finally:
        fake.stop()


def post_events(url: str, signer: WebhookSigner, batch: list[dict[str, Any]]) -> int:
    """Post a signed batch to the app's webhook, as SendGrid does; the HTTP status."""
    body = json.dumps(batch).encode()
    request = urllib.request.Request(url, data=body, headers=signer.headers(body), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
