"""The follow-up pages: "did your MP reply?", answered from the links in the email.

Opening a link records nothing (mail scanners open every link): the page shows the chosen
answer and one button, and only that POST, with its CSRF token, records it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from letters.campaigns import get_campaign
from letters.extensions import db, limiter
from letters.messages import followups
from letters.messages.followups import ANSWER_LABELS, Answer
from letters.models import FollowUp, Message
from letters.supporter import bp


def _post_limit() -> str:
    return current_app.config["SUPPORTER_POST_LIMIT"]


def _asked(token: str) -> tuple[Message, FollowUp]:
    """The letter and its follow-up; the removed page, or 404 for a letter never asked about."""
    message = db.first_or_404(select(Message).where(Message.token == token))
    campaign = get_campaign(message.campaign_key)
    if message.scrubbed_at is not None:
        page = render_template("supporter/removed.html", message=message, campaign=campaign)
        abort(make_response(page, 410))
    row = followups.follow_up_of(message)
    if row is None or row.asked_at is None:
        abort(404)
    return message, row


def _local_day(moment: dt.datetime | None) -> dt.date | None:
    """The day it was in the site's time zone (the supporter's calendar)."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _page(message: Message, row: FollowUp, *, chosen: str = "", note: str = "") -> str:
    return render_template(
        "supporter/followup.html",
        message=message,
        campaign=get_campaign(message.campaign_key),
        row=row,
        labels={answer.value: label for answer, label in ANSWER_LABELS.items()},
        chosen=chosen,
        may_answer=followups.may_answer(row),
        note=note,
        reply_limit=followups.REPLY_LIMIT,
        answered_on=_local_day(row.answered_at),
    )


@bp.get("/letters/<token>/reply")
def followup(token: str) -> str | Response | tuple[str, int]:
    """The answer page, with the link's answer chosen. A GET records nothing."""
    message, row = _asked(token)
    chosen = request.args.get("answer", "", type=str)
    return _page(message, row, chosen=chosen if chosen in Answer.__members__.values() else "")


@bp.post("/letters/<token>/reply")
@limiter.limit(_post_limit)
def followup_answer(token: str) -> str | Response | tuple[str, int]:
    """Pressing "Record my answer": recorded once; a second press says it already is."""
    message, row = _asked(token)
    try:
        answer = Answer(request.form.get("answer", ""))
    except ValueError:
        return _page(message, row, note="Choose one of the answers, then press the button."), 400
    recorded = followups.record_answer(
        message.id,
        answer,
        reply_text=request.form.get("reply_text", ""),
        share=request.form.get("share") == "yes",
    )
    if recorded:
        return redirect(url_for("supporter.letter", token=token, answered="1"), code=303)
    db.session.expire_all()
    return _page(message, row, note="Your answer was already recorded: thank you.")


@bp.get("/letters/<token>/stop")
def followup_stop(token: str) -> str | Response | tuple[str, int]:
    """The "don't ask me again" page: one button; opening it changes nothing."""
    message, row = _asked(token)
    return render_template(
        "supporter/followup_stop.html",
        message=message,
        campaign=get_campaign(message.campaign_key),
        row=row,
    )


@bp.post("/letters/<token>/stop")
@limiter.limit(_post_limit)
def followup_stop_post(token: str) -> str | Response | tuple[str, int]:
    """Recorded at once, and harmless to repeat."""
    message, _ = _asked(token)
    followups.stop_asking(message.id)
    db.session.expire_all()
    return render_template(
        "supporter/followup_stop.html",
        message=message,
        campaign=get_campaign(message.campaign_key),
        row=db.session.get(FollowUp, message.id),
    )
