"""Bodies and headers no route may choke on: sizes however they are sent, and hostile values."""

from __future__ import annotations

import http.client
import json
import select
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.helpers import csrf_token
from tests.live import serving
from tests.organiser_helpers import csrf, login, make_organiser
from tests.test_organiser_events import create_event

TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


@pytest.fixture
def webhook_app(make_app, signer):
    return make_app(SENDGRID_WEBHOOK_PUBLIC_KEY=signer.public_key)


@pytest.mark.parametrize(
    "stamp",
    ["-" + "9" * 4000, "9" * 4000, "1" * 13, "+1700000000", " 1700000000", "1_700_000_000", "١٢"],
    ids=["minus-4000-nines", "4000-nines", "13-digits", "plus", "space", "underscores", "arabic"],
)
def test_a_webhook_timestamp_that_is_not_seconds_is_refused_not_a_500(webhook_app, signer, stamp):
    body = b"[]"
    headers = dict(signer.headers(body), **{TIMESTAMP: stamp})
    response = webhook_app.test_client().post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 403
    assert response.get_json() == {"error": "forbidden"}


def test_a_signed_body_nested_thousands_deep_is_a_400_not_a_500(webhook_app, signer):
    for body in (b"[" * 5000, b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        response = webhook_app.test_client().post(
            "/webhooks/sendgrid", data=body, headers=signer.headers(body)
        )
        assert response.status_code == 400, body[:10]
        assert "error" in response.get_json()


def test_a_huge_signature_header_is_refused(webhook_app, signer):
    body = json.dumps([]).encode()
    headers = signer.headers(body)
    headers["X-Twilio-Email-Event-Webhook-Signature"] = "A" * 100_000
    response = webhook_app.test_client().post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 403


# Bodies over every limit, sent as a real client would, to the app on a real HTTP server.
HUGE = 50 * 1024 * 1024
CHUNK = b"x" * (64 * 1024)
# What the whole process (server threads, test and client, and under pytest-xdist its link to
# the controller) may allocate while the server is sent 50 MB: a little more than the largest
# limit below it reads, and far under the 50 MB a server reading it all would hold.
MEMORY_BOUND = 16 * 1024 * 1024


@dataclass
class Sent:
    status: int
    bytes_sent: int
    peak_memory: int
    body: bytes


def send(
    base_url: str,
    path: str,
    headers: dict[str, str],
    *,
    prefix: bytes = b"",
    total: int = HUGE,
    chunked: bool = True,
) -> Sent:
    """POST `prefix` then filler up to `total` bytes, and stop sending once the server answers."""
    where = urlsplit(base_url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    tracemalloc.start()
    try:
        connection.putrequest("POST", path)
        for name, value in headers.items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", str(total))
        connection.endheaders()
        sent = 0
        try:
            for piece in _pieces(prefix, total):
                if select.select([connection.sock], [], [], 0)[0]:
                    break  # the server has answered: the rest would go unread
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            else:
                if chunked:
                    connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is what counts
        response = connection.getresponse()
        body = response.read()
        peak = tracemalloc.get_traced_memory()[1]
        return Sent(response.status, sent, peak, body)
    finally:
        tracemalloc.stop()
        connection.close()


def _pieces(prefix: bytes, total: int) -> Iterator[bytes]:
    if prefix:
        yield prefix
    left = total - len(prefix)
    while left > 0:
        yield CHUNK[:left]
        left -= len(CHUNK)


def _multipart(csrf_token: str, field: str = "file") -> tuple[dict[str, str], bytes]:
    """Headers and the start of a multipart body whose last part (a file) never ends."""
    boundary = "fuzzboundary"
    prefix = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{csrf_token}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="huge.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, prefix


def _assert_refused_early(result: Sent, limit: int) -> None:
    assert result.status == 413, (result.status, result.body[:200])
    # The server answered soon after the limit, not after reading everything it was sent.
    assert result.bytes_sent < limit + 16 * 1024 * 1024, result.bytes_sent
    assert result.peak_memory < limit + MEMORY_BOUND, result.peak_memory


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_huge_webhook_body_is_refused_before_it_is_read(webhook_app, signer, chunked):
    from letters.webhooks.views import MAX_BODY_BYTES

    headers = signer.headers(b"[]")
    with serving(webhook_app) as base_url:
        result = send(base_url, "/webhooks/sendgrid", headers, prefix=b"[", chunked=chunked)
    _assert_refused_early(result, MAX_BODY_BYTES)
    assert json.loads(result.body) == {"error": "request entity too large"} or json.loads(
        result.body
    ) == {"error": "too large"}


def test_a_webhook_body_just_under_the_limit_is_read_whole(webhook_app, signer):
    from letters.webhooks.views import MAX_BODY_BYTES

    body = b"[" + b" " * (MAX_BODY_BYTES - 2) + b"]"
    with serving(webhook_app) as base_url:
        result = send(
            base_url, "/webhooks/sendgrid", signer.headers(body), prefix=body, total=len(body)
        )
    assert result.status == 200, result.body[:200]


def test_a_huge_chunked_letter_form_is_refused_before_it_is_read(app):
    client = app.test_client()
    headers, prefix = _multipart(csrf_token(client), field="personal_note")
    with serving(app) as base_url:
        result = send(base_url, "/write", headers, prefix=prefix)
    _assert_refused_early(result, app.config["MAX_CONTENT_LENGTH"])
    assert b"too large" in result.body


def test_a_huge_chunked_attendee_file_is_refused_past_the_import_limit(app_with_data):
    from letters.organiser.views import IMPORT_BODY_BYTES

    make_organiser(app_with_data)
    organiser = app_with_data.test_client()
    login(organiser)
    event_id = create_event(organiser)
    headers, prefix = _multipart(csrf(organiser, f"/organiser/events/{event_id}"))
    headers["Cookie"] = "session=" + organiser.get_cookie("session").value
    with serving(app_with_data) as base_url:
        result = send(
            base_url,
            f"/organiser/events/{event_id}/import",
            headers,
            prefix=prefix,
            total=IMPORT_BODY_BYTES + 4 * 1024 * 1024,
        )
    _assert_refused_early(result, IMPORT_BODY_BYTES)


@pytest.mark.parametrize("body", [b"0", b"[]", b'"x"', b"\x00\x00\x00\x00\x00", b"\x80", b"0\x01"])
def test_a_json_body_to_a_form_is_refused_not_a_500(app, body):
    # Found by tests/test_fuzz_forms.py: Flask-WTF fills forms from JSON that is not an object.
    for url in ("/write", "/organiser/login"):
        response = app.test_client().post(url, data=body, content_type="application/json")
        assert response.status_code == 415, (url, body)
        assert "Unsupported Media Type" in response.get_data(as_text=True)  # the site's page


def test_the_import_takes_a_large_file_but_no_large_urlencoded_form(app_with_data):
    # Such a form is parsed in memory, whole: only multipart may use the import's 25 MB.
    make_organiser(app_with_data)
    organiser = app_with_data.test_client()
    login(organiser)
    event_id = create_event(organiser)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "session=" + organiser.get_cookie("session").value,
    }
    with serving(app_with_data) as base_url:
        result = send(
            base_url,
            f"/organiser/events/{event_id}/import",
            headers,
            prefix=b"csrf_token=x&file=",
            total=8 * 1024 * 1024,
        )
    _assert_refused_early(result, app_with_data.config["MAX_FORM_MEMORY_SIZE"])
