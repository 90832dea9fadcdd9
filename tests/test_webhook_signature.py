"""SendGrid's Signed Event Webhook, checked on its own: each refusal says why (the webhook logs
it), and only a fresh, genuine signature over the exact bytes passes."""

from __future__ import annotations

import pytest

from letters.webhooks.signature import MAX_AGE_SECONDS, MAX_SIGNATURE_CHARS, check
from tests.fakes.sendgrid import WebhookSigner

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
NOW = 1_800_000_000
BODY = b'[{"event":"delivered"}]'


@pytest.fixture(scope="module")
def signer() -> WebhookSigner:
    return WebhookSigner()


def _signed(signer: WebhookSigner, body: bytes = BODY, at: int = NOW) -> tuple[str, str]:
    headers = signer.headers(body, at)
    return headers[SIGNATURE], headers[TIMESTAMP]


def test_a_fresh_genuine_signature_passes(signer):
    signature, stamp = _signed(signer)
    assert check(signer.public_key, signature, stamp, BODY, now=NOW) is None


def test_the_key_and_both_headers_are_needed(signer):
    signature, stamp = _signed(signer)
    assert check("", signature, stamp, BODY, now=NOW) == "no webhook public key is configured"
    assert check(signer.public_key, "", stamp, BODY, now=NOW) == "missing signature headers"
    assert check(signer.public_key, signature, "", BODY, now=NOW) == "missing signature headers"


@pytest.mark.parametrize("stamp", ["-1", "+1800000000", "1e9", " 1800000000", "9" * 13, "٣"])
def test_a_timestamp_is_plain_digits(signer, stamp):
    signature, _ = _signed(signer)
    assert check(signer.public_key, signature, stamp, BODY, now=NOW) == "malformed timestamp"


def test_the_timestamp_is_fresh_to_the_second_either_way(signer):
    for age in (MAX_AGE_SECONDS, -MAX_AGE_SECONDS):
        signature, stamp = _signed(signer, at=NOW - age)
        assert check(signer.public_key, signature, stamp, BODY, now=NOW) is None, age
    for age in (MAX_AGE_SECONDS + 1, -MAX_AGE_SECONDS - 1):
        signature, stamp = _signed(signer, at=NOW - age)
        assert check(signer.public_key, signature, stamp, BODY, now=NOW) == "stale timestamp"


def test_a_signature_must_be_short_base64(signer):
    _, stamp = _signed(signer)
    for signature in ("not base64!", "A" * (MAX_SIGNATURE_CHARS + 4)):
        assert check(signer.public_key, signature, stamp, BODY, now=NOW) == "malformed signature"


def test_a_genuine_signature_with_anything_but_base64_in_it_is_malformed(signer):
    signature, stamp = _signed(signer)
    for marred in (signature[:8] + "!" + signature[8:], signature + "\n", " " + signature):
        assert check(signer.public_key, marred, stamp, BODY, now=NOW) == "malformed signature"


def test_base64_of_the_longest_length_allowed_reaches_the_key(signer):
    _, stamp = _signed(signer)
    longest = "A" * MAX_SIGNATURE_CHARS
    assert check(signer.public_key, longest, stamp, BODY, now=NOW) == "bad signature"


def test_any_other_body_timestamp_or_key_is_a_bad_signature(signer):
    signature, stamp = _signed(signer)
    assert check(signer.public_key, signature, stamp, BODY + b" ", now=NOW) == "bad signature"
    assert check(signer.public_key, signature, str(NOW + 1), BODY, now=NOW) == "bad signature"
    other = WebhookSigner()
    assert check(other.public_key, signature, stamp, BODY, now=NOW) == "bad signature"
