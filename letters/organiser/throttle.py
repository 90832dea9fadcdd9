"""Slowing password guesses per account, without locking its owner out.

After FREE_GUESSES wrong passwords for an account (from any address), a login for it from a
browser it has not logged in from must wait: 2 seconds, then 4, 8... up to MAX_WAIT, counted
from the last wrong one. While it waits such a login is refused without its password being
looked at, so guessing faster gains nothing and does not make the wait longer.

A browser the account logged in from before carries a signed device cookie naming it: its
logins never wait. Whoever floods an account with guesses from anywhere therefore cannot keep
its owner out on their usual laptop, which was the point of issue 14's finding. A new password
changes what the cookie must name, so it also makes every browser a stranger again.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from flask import Response, current_app, request
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import update

from letters import clock
from letters.extensions import db
from letters.models import Organiser

FREE_GUESSES = 5
MAX_WAIT = dt.timedelta(minutes=15)
DEVICE_COOKIE = "letters_device"
DEVICE_SALT = "letters.organiser-device"
DEVICE_MAX_AGE = dt.timedelta(days=180)


def wait_after(failures: int) -> dt.timedelta:
    """How long a strange browser waits after this many wrong passwords in a row."""
    if failures < FREE_GUESSES:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** min(failures - FREE_GUESSES + 1, 20)), MAX_WAIT)


def must_wait(organiser: Organiser) -> dt.timedelta | None:
    """How much longer a login for this account must wait here; None when it may try now."""
    until = organiser.login_wait_until
    if until is None or until <= clock.now() or is_known_device(organiser):
        return None
    return until - clock.now()


def record_failure(organiser: Organiser) -> None:
    """One more wrong password: counted in the row itself, so every process sees it."""
    db.session.execute(
        update(Organiser)
        .where(Organiser.id == organiser.id)
        .values(failed_logins=Organiser.failed_logins + 1)
    )
    db.session.refresh(organiser)
    organiser.login_wait_until = clock.now() + wait_after(organiser.failed_logins)
    db.session.commit()


def record_success(organiser: Organiser) -> None:
    organiser.failed_logins = 0
    organiser.login_wait_until = None


class _ClockSigner(TimestampSigner):
    """Signs and checks ages by letters.clock, so tests and rehearsals can move time."""

    def get_timestamp(self) -> int:
        return int(clock.timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=DEVICE_SALT, signer=_ClockSigner
    )


def _generation(organiser: Organiser) -> str:
    # Not the token itself: the cookie's contents can be read, only not forged.
    return hashlib.sha256(organiser.session_token.encode()).hexdigest()[:16]


def is_known_device(organiser: Organiser) -> bool:
    """Whether this browser logged in to this account before (since its last new password)."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    if not cookie:
        return False
    try:
        claims = _serializer().loads(cookie, max_age=int(DEVICE_MAX_AGE.total_seconds()))
    except BadSignature:
        return False
    return claims == {"organiser": organiser.id, "generation": _generation(organiser)}


def remember_device(response: Response, organiser: Organiser) -> None:
    """Mark this browser as one the account logs in from."""
    value = _serializer().dumps({"organiser": organiser.id, "generation": _generation(organiser)})
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=int(DEVICE_MAX_AGE.total_seconds()),
        path="/organiser/",
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
