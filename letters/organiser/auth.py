"""Organiser accounts: password login with Flask-Login, expiring sessions, a rate limit."""

from __future__ import annotations

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
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from letters import clock
from letters.extensions import db, limiter, login_manager
from letters.models import Organiser
from letters.organiser import bp
from letters.organiser.forms import ConfirmForm, LoginForm

MIN_PASSWORD_LENGTH = 10
# Wrong passwords only: a right one does not use up the allowance.
LOGIN_LIMIT_PER_ADDRESS = "5 per minute; 30 per hour"
LOGIN_LIMIT_PER_ACCOUNT = "10 per hour"
# A path, its query and fragment: printable ASCII, no space, no backslash.
_SAFE_PATH = re.compile(r"/[!-\[\]-~]*")
PUBLIC_ENDPOINTS = frozenset({"organiser.login", "organiser.static"})
# A password check against this hash takes as long as a real one, so a login for an unknown
# email cannot be told apart by its timing.
_UNKNOWN_USER_HASH = generate_password_hash("no such organiser, never matches")


def init_login(app: Flask) -> None:
    """Bind Flask-Login: organisers are loaded by their session token."""
    login_manager.init_app(app)
    login_manager.login_view = "organiser.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"


@login_manager.user_loader
def load_organiser(token: str) -> Organiser | None:
    """The organiser whose current session token this is (a new password changes it)."""
    return db.session.scalar(select(Organiser).where(Organiser.session_token == token))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_organiser(email: str, password: str) -> Organiser:
    """A new organiser account; the password is stored only as a salted scrypt hash."""
    organiser = Organiser(
        email=normalise_email(email), password_hash=generate_password_hash(password)
    )
    db.session.add(organiser)
    db.session.commit()
    return organiser


def set_password(organiser: Organiser, password: str) -> None:
    """Change the password and end every session the organiser has."""
    from letters.models import new_session_token

    organiser.password_hash = generate_password_hash(password)
    organiser.session_token = new_session_token()
    db.session.commit()


def check_password(email: str, password: str) -> Organiser | None:
    """The organiser with this email and password, else None (in the same time either way)."""
    organiser = db.session.scalar(
        select(Organiser).where(Organiser.email == normalise_email(email))
    )
    if organiser is None:
        check_password_hash(_UNKNOWN_USER_HASH, password)
        return None
    return organiser if check_password_hash(organiser.password_hash, password) else None


def _login_email_key() -> str:
    return "login-account:" + normalise_email(request.form.get("email", ""))[:254]


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
        logout_user()
        session.clear()
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
@limiter.limit(
    LOGIN_LIMIT_PER_ACCOUNT, methods=["POST"], key_func=_login_email_key, deduct_when=_failed
)
def login() -> Response | tuple[str, int]:
    """Log in with email and password."""
    form = LoginForm()
    if form.validate_on_submit():
        organiser = check_password(form.email.data or "", form.password.data or "")
        if organiser is not None:
            session.clear()
            login_user(organiser)
            now = clock.timestamp()
            session["organiser_since"] = now
            session["organiser_seen"] = now
            organiser.last_login_at = clock.now()
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")), code=303)
        form.password.errors = ["That email and password do not match an organiser account."]
        return render_template("organiser/login.html", form=form), 401
    status = 422 if form.errors else 200
    return render_template("organiser/login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    """Log out (a POST with a CSRF token, so another site cannot log you out)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        logout_user()
        session.clear()
        flash("You have logged out.", "info")
    return redirect(url_for("organiser.login"), code=303)


@bp.errorhandler(429)
def too_many_attempts(error: Exception) -> tuple[str, int]:
    """Too many wrong passwords: say so on the login page."""
    form = LoginForm()
    form.password.errors = ["Too many wrong passwords. Wait a few minutes, then try again."]
    return render_template("organiser/login.html", form=form), 429
