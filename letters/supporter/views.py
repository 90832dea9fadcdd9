"""Supporter routes: thin adapters between the form, the domain and the templates."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice

from letters import clock
from letters.campaigns import get_campaign
from letters.contacts import contact_for
from letters.domain.campaign import Campaign
from letters.domain.directory import Directory, load_directory
from letters.domain.lifecycle import State
from letters.domain.similarity import letter_text, shingles
from letters.extensions import db, limiter
from letters.mail.content import confirm_serializer
from letters.mail.delivery import confirm as confirm_message
from letters.mail.delivery import confirmation_expired, get_mailer
from letters.messages import letter_for
from letters.models import Message
from letters.pdf import default_renderer
from letters.supporter import bp
from letters.supporter.abuse import (
    automated,
    earlier_letter,
    near_identical,
    share_with_others,
    started_token,
)
from letters.supporter.forms import WriteForm
from letters.supporter.member import AEC_FINDER, Resolution, resolve
from letters.supporter.timeline import timeline
from tasks.email import enqueue, send_confirmation, send_letter

EDITABLE = frozenset({State.DRAFT.value, State.AWAITING_CONFIRMATION.value})
PREFILLABLE = (
    "name",
    "email",
    "street",
    "suburb",
    "state",
    "postcode",
    "division",
    "member",
    "personal_note",
    "delivery",
)


def _directory() -> Directory | None:
    return load_directory(current_app.config["DATA_DIR"])


def _today() -> dt.date:
    # Letters are dated as the supporter's calendar reads, not the server's UTC.
    return clock.today(current_app.config["TIMEZONE"])


def _form(campaign: Campaign, **kwargs: Any) -> WriteForm:
    form = WriteForm(**kwargs)
    form.statistics.choices = [SelectChoice(s.key, s.text) for s in campaign.statistics]
    form.recommendations.choices = [SelectChoice(r.key, r.title) for r in campaign.recommendations]
    return form


def _initial_from_link(campaign: Campaign, args: MultiDict[str, str]) -> dict[str, Any]:
    """Defaults, overlaid with what an organiser's pre-filled link names (unknown keys dropped)."""
    data: dict[str, Any] = {
        "statistics": list(campaign.default_statistics),
        "recommendations": list(campaign.default_recommendations),
        "delivery": "pdf",
    }
    for name in PREFILLABLE:
        value = args.get(name, "", type=str)[:2000]
        if value:
            data[name] = value
    for name, known in (
        ("statistics", campaign.statistic_keys),
        ("recommendations", campaign.recommendation_keys),
    ):
        picked = [key for key in args.getlist(name) if key in known]
        if picked:
            data[name] = picked
    if data.get("delivery") not in ("pdf", "email"):
        data["delivery"] = "pdf"
    return data


def _render_write(
    campaign: Campaign,
    form: WriteForm,
    resolution: Resolution,
    directory: Directory | None,
    *,
    action: str,
    status: int = 200,
    earlier: Message | None = None,
) -> tuple[str, int]:
    form.started.data = started_token()  # the fill-time clock starts at each showing
    form.website.data = ""
    return render_template(
        "supporter/write.html",
        campaign=campaign,
        form=form,
        resolution=resolution,
        has_directory=directory is not None,
        directory=directory,
        aec_finder=AEC_FINDER,
        action=action,
        earlier=earlier,
    ), status


def _save(form: WriteForm, campaign: Campaign, resolution: Resolution, message: Message) -> None:
    recipient = resolution.recipient
    assert recipient is not None
    previous_email = message.sender_email
    message.campaign_key = campaign.key
    message.delivery = form.delivery.data or "pdf"
    message.sender_name = form.name.data or ""
    message.sender_email = form.email.data or ""
    message.sender_street = form.street.data or ""
    message.sender_suburb = form.suburb.data or ""
    message.sender_state = form.state.data or recipient.state
    message.sender_postcode = form.postcode.data or ""
    message.division = recipient.division
    message.division_state = recipient.state
    message.member_name = recipient.name
    message.member_party = recipient.party
    message.statistics = list(form.statistics.data or [])
    message.recommendations = list(form.recommendations.data or [])
    message.personal_note = (form.personal_note.data or "").strip()
    message.letter_date = _today()
    message.shingles = sorted(shingles(letter_text(letter_for(message, campaign))))
    contact = contact_for(current_app.config["CONTACTS_FILE"], recipient.division, recipient.name)
    message.member_salutation = contact.salutation
    if message.delivery == "email":
        message.recipient_email = contact.email
        message.recipient_email_verified = contact.verified
        if message.state != State.AWAITING_CONFIRMATION or previous_email != message.sender_email:
            # A new address (or a letter newly switched to email) needs its own confirmation.
            message.confirmation_sent_at = None
            message.reminder_sent_at = None
        message.state = State.AWAITING_CONFIRMATION.value
    else:
        message.state = State.DRAFT.value


def _handle_post(campaign: Campaign, message: Message, action: str) -> Response | tuple[str, int]:
    form = _form(campaign)
    directory = _directory()
    valid = form.validate()
    resolution = resolve(form, directory)
    refused = automated(form)
    if refused:
        form.form_errors.append(refused)
    earlier = None
    if valid and resolution.recipient and form.delivery.data == "email" and form.email.data:
        message.campaign_key = campaign.key
        earlier = earlier_letter(message, form.email.data, resolution.recipient.division)
        if earlier is not None:
            form.email.errors = [
                *form.email.errors,
                f"You already emailed {earlier.member_name} for this campaign this week; "
                "one letter a week from each supporter is the limit.",
            ]
    if valid and resolution.recipient is not None and not form.errors and not refused:
        _save(form, campaign, resolution, message)
        db.session.add(message)
        db.session.commit()
        if message.state == State.AWAITING_CONFIRMATION and message.confirmation_sent_at is None:
            enqueue(send_confirmation, message.id)
        return redirect(url_for("supporter.letter", token=message.token), code=303)
    status = 422 if form.errors or refused else 200
    return _render_write(
        campaign, form, resolution, directory, action=action, status=status, earlier=earlier
    )


@bp.get("/")
def index() -> str:
    """The campaign's front page."""
    return render_template("supporter/index.html", campaign=get_campaign(), directory=_directory())


def _post_limit() -> str:
    return current_app.config["SUPPORTER_POST_LIMIT"]


def _lookup_limit() -> str:
    return current_app.config["LOOKUP_LIMIT"]


@bp.route("/write", methods=["GET", "POST"])
@limiter.limit(_post_limit, methods=["POST"])
def write() -> Response | tuple[str, int]:
    """Compose a letter: a pre-filled link (GET) or a submission (POST)."""
    campaign = get_campaign()
    action = url_for("supporter.write")
    if request.method == "POST":
        return _handle_post(campaign, Message(), action)
    form = _form(campaign, formdata=None, data=_initial_from_link(campaign, request.args))
    directory = _directory()
    resolution = Resolution()
    if directory is not None and form.postcode.data and re.fullmatch(r"\d{4}", form.postcode.data):
        resolution = resolve(form, directory)
        form.postcode.errors = []  # a link's postcode is a suggestion; report problems on submit
        form.division.errors = []
    return _render_write(campaign, form, resolution, directory, action=action)


def _message_or_404(token: str) -> Message:
    return db.first_or_404(select(Message).where(Message.token == token))


@bp.get("/letters/<token>")
def letter(token: str) -> str | tuple[str, int]:
    """The letter as it will be printed or sent, and what has happened to it."""
    message = _message_or_404(token)
    campaign = get_campaign(message.campaign_key)
    if message.scrubbed_at is not None:
        return render_template("supporter/removed.html", message=message, campaign=campaign), 410
    share = share_with_others(message) if message.state in EDITABLE else 0.0
    return render_template(
        "supporter/letter.html",
        message=message,
        campaign=campaign,
        letter=letter_for(message, campaign),
        timeline=timeline(message),
        similar_share=share,
        form_letter=near_identical(share),
        editable=message.state in EDITABLE,
        locked=request.args.get("locked") == "1",
        really_sends=get_mailer().really_sends,
    )


def _message_from_confirm_token(token: str) -> tuple[Message | None, bool]:
    """The message a confirmation link names, and whether the link has expired."""
    max_age = int(current_app.config["CONFIRM_EXPIRE_AFTER_HOURS"] * 3600)
    try:
        message_id = confirm_serializer().loads(token, max_age=max_age)
        return db.session.get(Message, uuid.UUID(message_id)), False
    except SignatureExpired as expired:
        # The signature is good, only too old: say so, rather than "not found".
        return db.session.get(Message, uuid.UUID(str(expired.payload))), True
    except (BadSignature, ValueError):
        return None, False


def _too_late(message: Message) -> bool:
    """An unconfirmed letter whose confirmation window has closed (swept or not yet)."""
    return message.state == State.EXPIRED or (
        message.state == State.AWAITING_CONFIRMATION and confirmation_expired(message)
    )


@bp.get("/confirm/<token>")
def confirm(token: str) -> tuple[str, int]:
    """The confirmation page: shows the letter and a button. Opening it sends nothing."""
    message, expired = _message_from_confirm_token(token)
    if message is None:
        abort(404)
    campaign = get_campaign(message.campaign_key)
    if message.scrubbed_at is not None:
        return render_template("supporter/removed.html", message=message, campaign=campaign), 410
    expired = expired or _too_late(message)
    return render_template(
        "supporter/confirm.html",
        message=message,
        campaign=campaign,
        letter=letter_for(message, campaign),
        expired=expired,
        waiting=message.state == State.AWAITING_CONFIRMATION and not expired,
        really_sends=get_mailer().really_sends,
    ), (410 if expired else 200)


@bp.post("/confirm/<token>")
@limiter.limit(_post_limit)
def confirm_send(token: str) -> Response | tuple[str, int]:
    """Pressing "Send my letter": commit the row as queued, then wake a worker."""
    message, expired = _message_from_confirm_token(token)
    if message is None:
        abort(404)
    if expired or _too_late(message):
        return confirm(token)
    outcome = confirm_message(message.id)
    if outcome.confirmed:
        enqueue(send_letter, message.id)
    return redirect(url_for("supporter.letter", token=message.token), code=303)


@bp.get("/letters/<token>.pdf")
def letter_pdf(token: str) -> Response:
    """The printable PDF."""
    message = _message_or_404(token)
    if message.scrubbed_at is not None:
        abort(410)
    campaign = get_campaign(message.campaign_key)
    pdf = default_renderer().render(letter_for(message, campaign))
    filename = re.sub(r"[^A-Za-z0-9]+", "-", f"letter to {message.division}").strip("-").lower()
    response = send_file(
        io.BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{filename}.pdf",
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/letters/<token>/edit", methods=["GET", "POST"])
@limiter.limit(_post_limit, methods=["POST"])
def edit(token: str) -> Response | tuple[str, int]:
    """Change a letter; the values the supporter gave are kept in the form."""
    message = _message_or_404(token)
    campaign = get_campaign(message.campaign_key)
    if message.state not in EDITABLE or message.scrubbed_at is not None:
        # Confirmed letters are on their way: changing them now would change history.
        return redirect(url_for("supporter.letter", token=token, locked=1), code=303)
    action = url_for("supporter.edit", token=token)
    if request.method == "POST":
        return _handle_post(campaign, message, action)
    form = _form(
        campaign,
        formdata=None,
        data={
            "name": message.sender_name,
            "email": message.sender_email,
            "street": message.sender_street,
            "suburb": message.sender_suburb,
            "state": message.sender_state,
            "postcode": message.sender_postcode,
            "division": message.division,
            "member": message.member_name,
            "statistics": message.statistics,
            "recommendations": message.recommendations,
            "personal_note": message.personal_note,
            "delivery": message.delivery,
        },
    )
    directory = _directory()
    resolution = resolve(form, directory) if directory is not None else Resolution()
    form.division.errors = []
    return _render_write(campaign, form, resolution, directory, action=action)


@bp.get("/api/divisions")
@limiter.limit(_lookup_limit)
def api_divisions() -> tuple[Response, int]:
    """The postcode lookup as JSON (the same as `letters lookup --json`)."""
    postcode = request.args.get("postcode", "", type=str)[:20]
    state = request.args.get("state", "", type=str)[:3] or None
    directory = _directory()
    if directory is None:
        body = {
            "postcode": postcode,
            "divisions": [],
            "notes": [],
            "error": "No member data is loaded: type your MP's name and electorate.",
        }
        return jsonify(body), 503
    result = directory.lookup(postcode, state)
    return jsonify(result.to_json()), (422 if result.error else 200)


@bp.app_errorhandler(429)
def too_many_requests(error: Exception) -> tuple[str, int]:
    """A plain explanation instead of a bare status line."""
    return render_template("too_many.html"), 429
