"""Supporter routes: thin adapters between the form, the domain and the templates."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

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
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from letters.campaigns import get_campaign
from letters.domain.campaign import Campaign
from letters.domain.compose import Letter
from letters.domain.directory import Directory, load_directory
from letters.domain.lifecycle import State
from letters.errors import error_page
from letters.extensions import db, limiter
from letters.mail.address_keys import address_key
from letters.mail.content import confirm_claims, confirm_serializer, is_notice_mark, letter_digest
from letters.mail.mailer import get_mailer
from letters.messages.confirmation import confirm as confirm_message
from letters.messages.confirmation import (
    hold_for_edit,
    renew_confirmation,
    too_late,
)
from letters.messages.followups import follow_up_of
from letters.messages.letters import letter_for
from letters.messages.limits import COUNTED, earlier_letter, may_email, record_email
from letters.messages.own_words import nudge_for
from letters.messages.own_words import record as record_own_words
from letters.messages.states import start
from letters.models import Message
from letters.supporter import bp
from letters.supporter.abuse import automated, started_token
from letters.supporter.forms import WriteForm
from letters.supporter.letter_form import copy_letter, write_form
from letters.supporter.member import AEC_FINDER, Resolution, resolve
from letters.supporter.status import status
from tasks.email import enqueue, send_confirmation, send_letter

EDITABLE = frozenset({State.DRAFT, State.AWAITING_CONFIRMATION})
DAILY_LIMIT_REACHED = (
    "We have already sent this email address as many emails as we send one address in a day, "
    "so your letter was not saved. It is all still here: choose “Print and post it” to "
    "download it now, or email it tomorrow."
)
FORM_EXPIRED = (
    "This page was open for a long time, so your letter was not saved yet. Everything you "
    "typed is still here: read it over, then submit it again."
)
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


def _local_day(moment: dt.datetime | None) -> dt.date | None:
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date() if moment else None


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
    ), status


def _save(
    form: WriteForm, campaign: Campaign, resolution: Resolution, message: Message
) -> tuple[State, str | None]:
    """Copy the form into the message: the state it is to be in, and the email its address
    now needs ("confirmation" or "notice", or None when no new one is due).

    A new letter starts in that state here; a saved one moves only once it is held for the
    edit (`hold_for_edit`), through the lifecycle's gate."""
    recipient = resolution.recipient
    assert recipient is not None
    contact = copy_letter(form, campaign, recipient, message)
    message.delivery = form.delivery.data or "pdf"
    message.sender_email_key = address_key(message.sender_email) if message.sender_email else ""
    if message.delivery != "email":
        _starts_as(message, State.DRAFT)
        message.confirmation_digest = ""
        message.over_weekly_limit = False
        return State.DRAFT, None
    message.recipient_email = contact.email
    message.recipient_email_verified = contact.verified
    # Whoever is typing may not own the address: a second letter this week is saved, and
    # looks like any other, but only the address's owner hears (by a notice) that it cannot go.
    over = earlier_letter(message) is not None
    digest = letter_digest(message)
    asked_for = (message.state, message.confirmation_digest, message.over_weekly_limit)
    _starts_as(message, State.AWAITING_CONFIRMATION)
    if asked_for == (State.AWAITING_CONFIRMATION.value, digest, over):
        # Saved again unchanged: the confirmation already sent still holds.
        return State.AWAITING_CONFIRMATION, None
    # Any change after a confirmation was asked for needs a fresh one, for this content.
    message.confirmation_digest = digest
    message.over_weekly_limit = over
    message.confirmation_sent_at = message.confirmation_claimed_until = None
    message.reminder_sent_at = message.reminder_claimed_until = None
    return State.AWAITING_CONFIRMATION, "notice" if over else "confirmation"


def _starts_as(message: Message, state: State) -> None:
    if message.id is None:
        start(message, state)


def _handle_post(campaign: Campaign, message: Message, action: str) -> Response | tuple[str, int]:
    form = write_form(campaign)
    directory = _directory()
    valid = form.validate()
    resolution = resolve(form, directory)
    refused = automated(form)
    if refused:
        form.form_errors.append(refused)
    if valid and resolution.recipient is not None and not form.errors and not refused:
        # Nothing reaches the database until every check passed: the row may be a saved one.
        with db.session.no_autoflush:
            target, email_needed = _save(form, campaign, resolution, message)
            if email_needed and not may_email(message.sender_email_key):
                db.session.rollback()
                form.email.errors = [*form.email.errors, DAILY_LIMIT_REACHED]
                return _render_write(
                    campaign, form, resolution, directory, action=action, status=422
                )
            if message.id is not None and not hold_for_edit(message.id, target):
                # Confirmed while this edit was on its way: what was confirmed is what goes.
                db.session.rollback()
                return redirect(url_for("supporter.letter", token=message.token, locked=1), 303)
        if email_needed:
            record_email(message.sender_email_key, email_needed)
        db.session.add(message)
        record_own_words(message)  # in the same transaction as the words themselves
        message_id, token = message.id, message.token  # read before the commit expires them
        db.session.commit()
        if email_needed:
            enqueue(send_confirmation, message_id)
        return redirect(url_for("supporter.letter", token=token), code=303)
    db.session.commit()  # the form's start token is used up (abuse.py), whatever came of it
    status = 422 if form.errors or refused else 200
    return _render_write(campaign, form, resolution, directory, action=action, status=status)


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
    form = write_form(campaign, formdata=None, data=_initial_from_link(campaign, request.args))
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
    # Only while it can still be changed: a nudge about a letter on its way helps nobody.
    nudge = nudge_for(message) if message.state in EDITABLE else None
    # Only the link in the weekly-limit notice says why the letter waits: to anyone else the
    # page reads as for any letter waiting for its confirmation.
    from_notice = message.over_weekly_limit and is_notice_mark(
        request.args.get("notice", "", type=str), token
    )
    return render_template(
        "supporter/letter.html",
        message=message,
        campaign=campaign,
        letter=letter_for(message, campaign),
        # Only a sent letter is ever asked about: no other has a follow-up row to look up.
        status=status(
            message, follow_up_of(message) if message.sent_at else None, from_notice=from_notice
        ),
        answered=request.args.get("answered") == "1",
        nudge=nudge,
        prompts=campaign.prompts_for(message.statistics, message.recommendations),
        editable=message.state in EDITABLE,
        locked=request.args.get("locked") == "1",
        really_sends=get_mailer().really_sends,
    )


def _confirm_link(token: str) -> tuple[Message | None, str | None]:
    """The message a confirmation link names, and the content digest it was sent for."""
    try:
        # Its age is the message's to judge (`too_late`), on the app's clock.
        message_id, digest = confirm_claims(confirm_serializer().loads(token))
    except (BadSignature, ValueError):
        return None, None
    return db.session.get(Message, message_id), digest


def _ask_again(message: Message, letter: Letter) -> str:
    """After a stale link: make sure a link for the letter as it is now is on its way.

    Returns what the page can say: "sent" (or on its way), "limit" (not today), or "" when
    the letter no longer waits for a confirmation at all.
    """
    if message.state != State.AWAITING_CONFIRMATION:
        return ""
    if message.over_weekly_limit or message.confirmation_digest == letter_digest(message, letter):
        return "sent"  # the edit that changed it already asked (a link, or the notice)
    # The letter changed with no edit (the campaign's own text did): ask again now.
    if not may_email(message.sender_email_key):
        return "limit"
    if renew_confirmation(message):
        record_email(message.sender_email_key, "confirmation")
        db.session.commit()
        enqueue(send_confirmation, message.id)
    return "sent"


def _stale(message: Message, digest: str | None, letter: Letter) -> bool:
    """Whether the link was sent for other content than the letter (`letter`) holds now."""
    if message.state == State.AWAITING_CONFIRMATION:
        return digest != message.confirmation_digest or digest != letter_digest(message, letter)
    if message.state not in COUNTED:
        return True  # changed to a printed letter since: no link sends it any more
    # On its way. A link from before links named their content may say so too.
    return digest is not None and digest != message.confirmation_digest


def _confirm_page(message: Message, digest: str | None) -> tuple[str, int]:
    """What a confirmation link shows: the letter and its button, or why it cannot be sent."""
    campaign = get_campaign(message.campaign_key)
    if message.scrubbed_at is not None:
        return render_template("supporter/removed.html", message=message, campaign=campaign), 410
    context: dict[str, Any] = {"message": message, "campaign": campaign}
    if too_late(message):
        return render_template("supporter/confirm.html", expired=True, **context), 410
    letter = letter_for(message, campaign)
    if _stale(message, digest, letter):
        # The letter is not what this link was sent for: show none of it, send nothing.
        stale = _ask_again(message, letter)
        return render_template("supporter/confirm.html", stale=stale, **context), 409
    if message.state != State.AWAITING_CONFIRMATION:
        return render_template("supporter/confirm.html", letter=letter, **context), 200
    earlier = earlier_letter(message)
    if earlier is not None or message.over_weekly_limit:
        # The link's holder is the address's owner: they may hear about their own letter.
        earlier_on = earlier and _local_day(earlier.confirmed_at)
        return render_template(
            "supporter/confirm.html", letter=letter, earlier_on=earlier_on, repeat=True, **context
        ), 409
    return render_template(
        "supporter/confirm.html",
        letter=letter,
        waiting=True,
        really_sends=get_mailer().really_sends,
        **context,
    ), 200


@bp.get("/confirm/<token>")
def confirm(token: str) -> tuple[str, int]:
    """The confirmation page: shows the letter and a button. Opening it sends nothing."""
    message, digest = _confirm_link(token)
    if message is None:
        abort(404)
    return _confirm_page(message, digest)


@bp.post("/confirm/<token>")
@limiter.limit(_post_limit)
def confirm_send(token: str) -> Response | tuple[str, int]:
    """Pressing "Send my letter": commit the row as queued, then wake a worker."""
    message, digest = _confirm_link(token)
    if message is None:
        abort(404)
    if digest is not None and _may_confirm(message, digest):
        # The UPDATE checks the rest (the weekly limit, a second letter this week); when it
        # refuses, the page below says why.
        message_id, letter_token = message.id, message.token  # the commit expires them
        if confirm_message(message_id, digest).confirmed:
            enqueue(send_letter, message_id)
            return redirect(url_for("supporter.letter", token=letter_token), code=303)
        db.session.expire_all()  # something changed in between: say what, from the row
    return _confirm_page(message, digest)


def _may_confirm(message: Message, digest: str) -> bool:
    """What only the page can judge before "Send my letter" goes: the letter still waits, in
    time, and reads as the link's digest says."""
    return (
        message.state == State.AWAITING_CONFIRMATION
        and message.scrubbed_at is None
        and not too_late(message)
        and not _stale(message, digest, letter_for(message, get_campaign(message.campaign_key)))
    )


@bp.get("/letters/<token>.pdf")
def letter_pdf(token: str) -> Response:
    """The printable PDF."""
    message = _message_or_404(token)
    if message.scrubbed_at is not None:
        abort(410)
    campaign = get_campaign(message.campaign_key)
    # Imported here: WeasyPrint is about 20 MB that email workers and the CLI's planning
    # process never need; web workers load it at start (letters/web_server.py).
    from letters.printing.letter import default_renderer

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
    form = write_form(
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


@bp.errorhandler(CSRFError)
def form_expired(error: CSRFError) -> Response | tuple[str, int]:
    """A letter form whose CSRF token ran out: show it again as typed, rather than lose it."""
    if request.endpoint == "supporter.write":
        campaign, action = get_campaign(), url_for("supporter.write")
    elif request.endpoint == "supporter.edit" and request.view_args:
        token = request.view_args["token"]
        message = db.session.scalar(select(Message).where(Message.token == token))
        if message is None:
            return error_page(error)
        campaign = get_campaign(message.campaign_key)
        action = url_for("supporter.edit", token=token)
    else:
        return error_page(error)
    form = write_form(campaign)
    form.form_errors.append(FORM_EXPIRED)
    directory = _directory()
    resolution = resolve(form, directory)
    form.division.errors = []
    return _render_write(campaign, form, resolution, directory, action=action, status=400)
