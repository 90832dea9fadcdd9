"""POST /webhooks/sendgrid: verify, store each event once, answer quickly."""

from __future__ import annotations

import json
import logging

from flask import Response, current_app, jsonify, request

from letters.body_limits import body_limit, read_at_most
from letters.extensions import csrf
from letters.messages.events import record_events
from letters.webhooks import bp, signature

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 5 * 1024 * 1024  # SendGrid batches are far smaller; anything bigger is not it


@bp.post("/sendgrid")
@csrf.exempt  # authenticated by its signature instead
@body_limit(MAX_BODY_BYTES, json=True)
def sendgrid_events() -> tuple[Response, int]:
    """Take a batch of SendGrid delivery events."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return jsonify(error="too large"), 413
    # At most the limit, before the signature is checked: a chunked body has no length to
    # refuse up front, and reading it whole would let anyone fill the server's memory.
    body = read_at_most(request.stream, MAX_BODY_BYTES)
    problem = signature.check(
        current_app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"],
        request.headers.get(signature.SIGNATURE_HEADER, ""),
        request.headers.get(signature.TIMESTAMP_HEADER, ""),
        body,
    )
    if problem:
        log.warning("refused SendGrid webhook from %s: %s", request.remote_addr, problem)
        return jsonify(error="forbidden"), 403
    try:
        batch = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return jsonify(error="body is not JSON"), 400
    except RecursionError:
        # Thousands of nested brackets: signed, but no SendGrid batch is like that.
        return jsonify(error="body is nested too deeply"), 400
    if not isinstance(batch, list):
        return jsonify(error="expected a JSON array of events"), 400
    outcome = record_events(batch)
    return jsonify(
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        unmatched=outcome.unmatched,
        invalid=outcome.invalid,
    ), 200
