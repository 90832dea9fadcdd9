"""Bodies and headers no route may choke on: sizes however they are sent, and hostile values."""

from __future__ import annotations

import json

import pytest

from tests.fakes.sendgrid import WebhookSigner

TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


@pytest.fixture
def signer() -> WebhookSigner:
    return WebhookSigner()


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
