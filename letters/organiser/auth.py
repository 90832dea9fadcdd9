"""Organiser accounts: password login with Flask-Login, sessions kept on the server, limits.

Each login is a row (OrganiserSession) whose id is all the session cookie holds: logging out
deletes it, so a cookie copied before then opens nothing. Wrong passwords are limited per
address (Flask-Limiter) and slowed per account (letters/organiser/throttle.py), in a way
that never keeps the owner out of a browser they logged in from before.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from letters import clock
from letters.extensions import db, limiter, login_manager
from letters.models import Organiser, OrganiserSession, new_login_session_id
from letters.organiser import bp, throttle
from letters.organiser.forms import ConfirmForm, LoginForm

MIN_PASSWORD_LENGTH = 10
# Wrong passwords only: a right one does not use up the allowance. Per account there is no
# such limit, which anyone could use up to lock the owner out: throttle.py slows guesses.
LOGIN_LIMIT_PER_ADDRESS = "5 per minute; 30 per hour"
# A session's last_seen_at is written at most this often, not on every request.
SEEN_WRITE_INTERVAL = dt.timedelta(minutes=1)
# A path, its query and fragment: printable ASCII, no space, no backslash.
_SAFE_PATH = re.compile(r"/[!-\[\]-~]*")
PUBLIC_ENDPOINTS = frozenset({"organiser.login", "organiser.static"})
# werkzeug's scrypt at its default cost (N=2**15, r=8, p=1): 32 MB of memory and a noticeable
# fraction of a second for each hash and each check, which makes a stolen hash slow to guess.
# A check takes its cost from the stored hash, so this applies to new passwords. The tests
# lower it (tests/conftest.py) because they log in hundreds of times.
PASSWORD_HASH_METHOD = "scrypt:32768:8:1"  # noqa: S105 - a method, not a password


def init_login(app: Flask) -> None:
    """Bind Flask-Login: organisers are loaded by their session token."""
    login_manager.init_app(app)
    login_manager.login_view = "organiser.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"


@login_manager.user_loader
def load_organiser(session_id: str) -> Organiser | None:
    """The organiser logged in as this session, while the session lasts on the server."""
    login = db.session.get(OrganiserSession, session_id)
    if login is None:
        return None
    now = clock.now()
    config = current_app.config
    if now - login.created_at > dt.timedelta(
        hours=config["ORGANISER_SESSION_HOURS"]
    ) or now - login.last_seen_at > dt.timedelta(minutes=config["ORGANISER_IDLE_MINUTES"]):
        db.session.delete(login)
        db.session.commit()
        return None
    if now - login.last_seen_at > SEEN_WRITE_INTERVAL:
        login.last_seen_at = now
        db.session.commit()
    organiser = db.session.get(Organiser, login.organiser_id)
    if organiser is not None:
        organiser.login_session_id = login.id
    return organiser


def start_session(organiser: Organiser) -> None:
    """A new server-side session for this browser, and this organiser's expired ones gone."""
    now = clock.now()
    too_old = now - dt.timedelta(hours=current_app.config["ORGANISER_SESSION_HOURS"])
    db.session.execute(
        delete(OrganiserSession).where(
            OrganiserSession.organiser_id == organiser.id, OrganiserSession.created_at < too_old
        )
    )
    login = OrganiserSession(
        id=new_login_session_id(), organiser_id=organiser.id, created_at=now, last_seen_at=now
    )
    db.session.add(login)
    organiser.login_session_id = login.id


def end_session() -> None:
    """Delete this browser's session on the server, then forget it in the cookie."""
    if current_user.is_authenticated and current_user.login_session_id:
        db.session.execute(
            delete(OrganiserSession).where(OrganiserSession.id == current_user.login_session_id)
        )
        db.session.commit()
    logout_user()
    session.clear()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_organiser(email: str, password: str) -> Organiser:
    """A new organiser account; the password is stored only as a salted scrypt hash."""
    organiser = Organiser(
        email=normalise_email(email),
        password_hash=generate_password_hash(password, PASSWORD_HASH_METHOD),
    )
    db.session.add(organiser)
    db.session.commit()
    return organiser


def set_password(organiser: Organiser, password: str) -> None:
    """Change the password and end every session the organiser has."""
    from letters.models import new_session_token

    organiser.password_hash = generate_password_hash(password, PASSWORD_HASH_METHOD)
    organiser.session_token = new_session_token()
    organiser.failed_logins = 0
    organiser.login_wait_until = None
    db.session.execute(
        delete(OrganiserSession).where(OrganiserSession.organiser_id == organiser.id)
    )
    db.session.commit()


def find_account(email: str) -> Organiser | None:
    return db.session.scalar(select(Organiser).where(Organiser.email == normalise_email(email)))


def check_password(account: Organiser | None, password: str) -> bool:
    """Whether this is the account's password (in the same time for no account)."""
    if account is None:
        # As long as checking a real account's, so an unknown email cannot be told by timing.
        check_password_hash(_unknown_user_hash(PASSWORD_HASH_METHOD), password)
        return False
    return check_password_hash(account.password_hash, password)


@functools.cache
def _unknown_user_hash(method: str) -> str:
    return generate_password_hash("no such organiser, never matches", method)


_unknown_user_hash(PASSWORD_HASH_METHOD)  # made at start-up, not during someone's login


def _wait_text(wait: dt.timedelta) -> str:
    seconds = math.ceil(wait.total_seconds())
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def _failed(response: Response) -> bool:
    return response.status_code == 401


@bp.before_request
def require_organiser() -> Response | None:
    """Every /organiser page but the login needs a logged-in organiser whose session is fresh."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    now = clock.timestamp()
    since = session.get("organiser_since", 0.0)
    seen = session.get("organiser_seen", 0.0)
    config = current_app.config
    if (
        now - since > config["ORGANISER_SESSION_HOURS"] * 3600
        or now - seen > config["ORGANISER_IDLE_MINUTES"] * 60
    ):
        end_session()
        flash("Your session expired. Please log in again.", "info")
        return redirect(url_for("organiser.login", next=request.full_path))
    session["organiser_seen"] = now
    return None


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help phishing.

    Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so
    `/\t/evil.example` and `/\\evil.example` lead off the site; a line break would also reach
    the Location header (a 500). So: printable ASCII only, one leading slash, no backslash.
    """
    if (
        target
        and _SAFE_PATH.fullmatch(target)
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("organiser.events")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT_PER_ADDRESS, methods=["POST"], deduct_when=_failed)
def login() -> Response | tuple[str, int]:
    """Log in with email and password."""
    form = LoginForm()
    if form.validate_on_submit():
        account = find_account(form.email.data or "")
        if account is not None and (wait := throttle.must_wait(account)) is not None:
            # Refused unread: a guess made now is not even checked.
            form.password.errors = [
                "There were many wrong passwords for this account. Try again in "
                f"{_wait_text(wait)}, or from a browser you have logged in from before."
            ]
            return render_template("organiser/login.html", form=form), 429
        if account is not None and check_password(account, form.password.data or ""):
            session.clear()
            throttle.record_success(account)
            start_session(account)
            login_user(account)
            now = clock.timestamp()
            session["organiser_since"] = now
            session["organiser_seen"] = now
            account.last_login_at = clock.now()
            db.session.commit()
            response = redirect(_safe_next(request.args.get("next")), code=303)
            throttle.remember_device(response, account)
            return response
        if account is None:
            check_password(None, form.password.data or "")
        else:
            throttle.record_failure(account)
        form.password.errors = ["That email and password do not match an organiser account."]
        return render_template("organiser/login.html", form=form), 401
    status = 422 if form.errors else 200
    return render_template("organiser/login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    """Log out (a POST with a CSRF token, so another site cannot log you out)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        end_session()
        flash("You have logged out.", "info")
    return redirect(url_for("organiser.login"), code=303)


@bp.errorhandler(429)
def too_many_attempts(error: Exception) -> tuple[str, int]:
    """Too many wrong passwords: say so on the login page."""
    form = LoginForm()
    form.password.errors = ["Too many wrong passwords. Wait a few minutes, then try again."]
    return render_template("organiser/login.html", form=form), 429
