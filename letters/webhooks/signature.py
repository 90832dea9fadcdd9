"""Checking SendGrid's Signed Event Webhook: ECDSA P-256 over timestamp + raw body."""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

from letters import clock

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE_SECONDS = 600
# Unix seconds as SendGrid sends them. Anything longer is not a time: `int()` of thousands of
# digits takes long, and comparing such a number with a float raises OverflowError.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# A DER ECDSA P-256 signature is about 72 bytes, so its base64 about 96 characters.
MAX_SIGNATURE_CHARS = 200


@lru_cache(maxsize=4)
def public_key(key_text: str) -> ec.EllipticCurvePublicKey:
    """The verification key from SendGrid's settings page (base64 DER)."""
    key = EventWebhook().convert_public_key_to_ecdsa(key_text.strip())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("SENDGRID_WEBHOOK_PUBLIC_KEY is not an elliptic-curve public key")
    return key


def check(
    key_text: str, signature: str, timestamp: str, body: bytes, now: float | None = None
) -> str | None:
    """None when the request is genuine and fresh; otherwise why it is refused."""
    if not key_text:
        return "no webhook public key is configured"
    if not signature or not timestamp:
        return "missing signature headers"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "malformed timestamp"
    sent_at = int(timestamp)
    if abs((now if now is not None else clock.timestamp()) - sent_at) > MAX_AGE_SECONDS:
        return "stale timestamp"
    if len(signature) > MAX_SIGNATURE_CHARS:
        return "malformed signature"
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return "malformed signature"
    try:
        # Verified over the raw bytes, exactly as received: re-encoding JSON would break it.
        public_key(key_text).verify(
            raw_signature, timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        return "bad signature"
    return None
