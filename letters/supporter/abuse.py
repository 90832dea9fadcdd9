"""Checks against flooding: the honeypot, the fill time, replayed forms."""

from __future__ import annotations

import datetime as dt
import secrets

from flask import current_app, session
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from letters import clock
from letters.extensions import db
from letters.models import UsedFormToken
from letters.supporter.forms import WriteForm

# A form open longer than this is shown again, with what was typed, and a new token: longer
# than Flask-WTF's CSRF token lives (an hour), so a person is never refused by this first.
FORM_MAX_AGE = dt.timedelta(hours=2)
CLIENT_KEY = "write_client"  # in the session: which browser a form was shown to

BOT = "Your letter could not be accepted. Please try again."
TOO_QUICK = "That was quick! Please read your letter over, then submit it again."
STALE_FORM = "This form was open for a long time. Please read your letter over, then submit it."
USED_FORM = "This form was already submitted once. Please read your letter over, then submit it."


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="letters.write-started")


def _client() -> str:
    client = session.get(CLIENT_KEY)
    if not isinstance(client, str):
        client = secrets.token_urlsafe(16)
        session[CLIENT_KEY] = client
    return client


def started_token() -> str:
    """A signed note of when the form was shown, to which browser, under a one-time nonce."""
    claims = {"t": int(clock.timestamp()), "c": _client(), "n": secrets.token_urlsafe(16)}
    return str(_serializer().dumps(claims))


def _first_use(nonce: str) -> bool:
    """Record the nonce as used, in the caller's transaction; False when it already was (a
    replayed form).

    No look-up first: the primary key refuses a nonce stored before, by an earlier post of
    this form or a concurrent one (whose transaction the insert waits for). The letter form
    commits the nonce with the letter it saves, in one commit, or on its own when it saves
    nothing."""
    now = clock.now()
    db.session.execute(delete(UsedFormToken).where(UsedFormToken.used_at < now - FORM_MAX_AGE))
    db.session.add(UsedFormToken(nonce=nonce, used_at=now))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def automated(form: WriteForm) -> str | None:
    """Why a submission looks like a bot's: honeypot filled or missing, a start token that is
    forged, another browser's, too old or used before, or faster than a person types."""
    if form.website.raw_data != [""]:
        return BOT
    try:
        claims = _serializer().loads(form.started.data or "")
        shown_at, client, nonce = int(claims["t"]), claims["c"], str(claims["n"])
    except (BadSignature, TypeError, ValueError, KeyError):
        return TOO_QUICK
    if client != session.get(CLIENT_KEY):
        return TOO_QUICK
    age = clock.timestamp() - shown_at
    if age > FORM_MAX_AGE.total_seconds():
        return STALE_FORM
    if not _first_use(nonce[:32]):
        return USED_FORM
    if age < current_app.config["MIN_FILL_SECONDS"]:
        return TOO_QUICK
    return None
