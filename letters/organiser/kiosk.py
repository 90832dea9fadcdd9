"""The event kiosk: a tablet at the event takes one attendee's letter at a time.

Its link carries a signed token naming one event (and that event's current kiosk nonce, so a
new link revokes the old one). A short link, to type or to scan from a table card, names the
event and eight characters derived from the same secret and nonce, and leads to the long one.
The token opens these two pages and nothing else, and only until LETTERS_KIOSK_GRACE_DAYS
after the event's day: a tablet left behind, or a link passed on, stops taking people's
details once the event is over.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import SelectChoice

from letters import clock
from letters.domain.campaign import Campaign
from letters.domain.directory import load_directory
from letters.extensions import db, limiter
from letters.form_fields import FOLLOW_UP_HINT, FollowUpConsent
from letters.models import Attendee, Event
from letters.organiser import kiosk_bp
from letters.organiser.auth import end_session
from letters.supporter.forms import WriteForm
from letters.supporter.member import AEC_FINDER, Resolution, resolve

SALT = "letters.kiosk"
# Letters and digits that cannot be misread for each other when typed from a card.
SHORT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SHORT_LENGTH = 8  # 31**8: about 8.5e11 codes per event, and the route is rate limited


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def kiosk_token(event: Event) -> str:
    """The signed token for an event's kiosk."""
    return str(_serializer().dumps({"event": event.id, "nonce": event.kiosk_nonce}))


def kiosk_url(event: Event) -> str:
    """The kiosk's full address."""
    return url_for("kiosk.page", token=kiosk_token(event), _external=True)


def short_code(event: Event) -> str:
    """The event's short kiosk code, e.g. "7QX4-M2PA"; a new nonce changes it."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.digest(secret, f"{SALT}.short:{event.id}:{event.kiosk_nonce}".encode(), "sha256")
    number = int.from_bytes(digest, "big")
    letters = []
    for _ in range(SHORT_LENGTH):
        number, index = divmod(number, len(SHORT_ALPHABET))
        letters.append(SHORT_ALPHABET[index])
    code = "".join(letters)
    return f"{code[:4]}-{code[4:]}"


def short_url(event: Event) -> str:
    """The kiosk's short address, to type on a tablet or put in a QR code."""
    return url_for("kiosk.short", event_id=event.id, code=short_code(event), _external=True)


def kiosk_expires_at(event: Event) -> dt.datetime:
    """When an event's kiosk link stops working: its day's end, plus the grace days."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    day_after = dt.datetime.combine(event.date + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    grace = dt.timedelta(days=current_app.config["KIOSK_GRACE_DAYS"])
    return (day_after.astimezone(dt.UTC) + grace).astimezone(zone)


def _expired_page(event: Event) -> Response:
    page = render_template("organiser/kiosk_expired.html", event=event)
    response = make_response(page, 410)
    response.headers["Cache-Control"] = "no-store"
    return response


def _event_for(token: str) -> Event:
    """The event a token opens; 404 for a forged, altered or revoked token."""
    try:
        claims = _serializer().loads(token)
    except BadSignature:
        abort(404)
    if not isinstance(claims, dict):
        abort(404)
    event = db.session.get(Event, claims.get("event"))
    if event is None or event.kiosk_nonce != claims.get("nonce"):
        abort(404)
    if event.personal_data_removed_at is not None:
        abort(404)  # the event is closed: its attendees' details were removed for privacy
    if clock.now() >= kiosk_expires_at(event):
        abort(_expired_page(event))
    return event


def _campaign(event: Event) -> Campaign:
    from letters.printing.runs import event_campaign

    try:
        return event_campaign(event)
    except LookupError:
        abort(404)


class KioskForm(FollowUpConsent, WriteForm):
    """/write's form, and the attendee's consent to be asked later whether their MP replied
    (only an attendee at an event is asked it: a supporter on the site emails their letter,
    and is asked about that)."""


def _form(campaign: Campaign, **kwargs: Any) -> KioskForm:
    form = KioskForm(**kwargs)
    form.statistics.choices = [SelectChoice(s.key, s.text) for s in campaign.statistics]
    form.recommendations.choices = [SelectChoice(r.key, r.title) for r in campaign.recommendations]
    return form


def _short_limit() -> str:
    return current_app.config["LOOKUP_LIMIT"]


@kiosk_bp.get("/<int:event_id>/<code>")
@limiter.limit(_short_limit)
def short(event_id: int, code: str) -> Response:
    """A short link leads to the kiosk's long one; typed in any case, with or without dashes."""
    event = db.session.get(Event, event_id)
    typed = re.sub(r"[\s-]", "", code).upper()
    if event is None or not hmac.compare_digest(typed, short_code(event).replace("-", "")):
        abort(404)
    return redirect(url_for("kiosk.page", token=kiosk_token(event)), code=303)


@kiosk_bp.route("/<token>", methods=["GET", "POST"])
def page(token: str) -> Response:
    """One attendee's letter: the same choices as /write; it resets after each."""
    event = _event_for(token)
    if current_user.is_authenticated:
        # Whoever holds the tablet must not inherit an organiser's login from this browser.
        end_session()
    campaign = _campaign(event)
    directory = load_directory(current_app.config["DATA_DIR"])
    if request.method == "POST":
        form = _form(campaign)
        form.delivery.data = "pdf"  # a kiosk letter is always printed at the event
        valid = form.validate()
        resolution = resolve(form, directory)
        if valid and resolution.recipient is not None and not form.errors:
            _add_attendee(event, form, resolution)
            return redirect(url_for("kiosk.page", token=token, added=1), code=303)
        status = 422 if form.errors else 200
    else:
        form = _form(
            campaign,
            formdata=None,
            data={
                "statistics": list(campaign.default_statistics),
                "recommendations": list(campaign.default_recommendations),
                "delivery": "pdf",
            },
        )
        resolution = Resolution()
        status = 200
    response = make_response(
        render_template(
            "organiser/kiosk.html",
            event=event,
            campaign=campaign,
            form=form,
            resolution=resolution,
            has_directory=directory is not None,
            aec_finder=AEC_FINDER,
            follow_up_hint=FOLLOW_UP_HINT,
            added=request.method == "GET" and request.args.get("added") == "1",
            action=url_for("kiosk.page", token=token),
        ),
        status,
    )
    # The next person must not get the last one's details back with the browser's Back button.
    response.headers["Cache-Control"] = "no-store"
    return response


def _add_attendee(event: Event, form: KioskForm, resolution: Resolution) -> None:
    recipient = resolution.recipient
    assert recipient is not None
    db.session.add(
        Attendee(
            event_id=event.id,
            source="kiosk",
            name=form.name.data or "",
            email=form.email.data or "",
            street=form.street.data or "",
            suburb=form.suburb.data or "",
            state=form.state.data or recipient.state,
            postcode=form.postcode.data or "",
            division=recipient.division,
            division_state=recipient.state,
            member_name=recipient.name,
            member_party=recipient.party,
            statistics=list(form.statistics.data or []),
            recommendations=list(form.recommendations.data or []),
            personal_note=(form.personal_note.data or "").strip(),
            may_follow_up=bool(form.may_follow_up.data and form.email.data),
        )
    )
    db.session.commit()
