"""The follow-up pages: "did your MP reply?", answered from the links in the email.

Opening a link records nothing (mail scanners open every link): the page shows the chosen
answer and one button, and only that POST, with its CSRF token, records it.

An emailed letter's pages are named by the letter's token (/letters/<token>/reply); a letter
printed at an event has no page of its own, so its follow-up's token names them
(/event-letters/<token>/reply). Both kinds go through the same views below.
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
from letters.messages.followups import ANSWER_LABELS, Answer, Asked
from letters.models import Message
from letters.supporter import bp


def _post_limit() -> str:
    return current_app.config["SUPPORTER_POST_LIMIT"]


def _asked_letter(token: str) -> Asked:
    """An emailed letter's follow-up; the removed page, or 404 for a letter never asked about."""
    message = db.first_or_404(select(Message).where(Message.token == token))
    if message.scrubbed_at is not None:
        campaign = get_campaign(message.campaign_key)
        page = render_template("supporter/removed.html", message=message, campaign=campaign)
        abort(make_response(page, 410))
    row = followups.follow_up_of(message)
    asked = followups.asked_about(row) if row is not None else None
    if asked is None or row is None or row.asked_at is None:
        abort(404)
    return asked


def _asked_printed(token: str) -> Asked:
    """A printed letter's follow-up; a removed page once the attendee's address went."""
    row = followups.follow_up_named(token)
    asked = followups.asked_about(row) if row is not None else None
    if asked is None or row is None or row.asked_at is None:
        abort(404)
    if asked.removed:
        page = render_template(
            "supporter/followup_removed.html",
            asked=asked,
            campaign=get_campaign(asked.campaign_key),
        )
        abort(make_response(page, 410))
    return asked


def _local_day(moment: dt.datetime | None) -> dt.date | None:
    """The day it was in the site's time zone (the supporter's calendar)."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _page(asked: Asked, *, chosen: str = "", note: str = "") -> str:
    row = asked.row
    return render_template(
        "supporter/followup.html",
        asked=asked,
        campaign=get_campaign(asked.campaign_key),
        row=row,
        labels={answer.value: label for answer, label in ANSWER_LABELS.items()},
        chosen=chosen,
        may_answer=followups.may_answer(row),
        note=note,
        reply_limit=followups.REPLY_LIMIT,
        answered_on=_local_day(row.answered_at),
    )


def _show(asked: Asked) -> str:
    """The answer page, with the link's answer chosen. A GET records nothing."""
    chosen = request.args.get("answer", "", type=str)
    note = "Thank you: your answer is recorded." if request.args.get("answered") == "1" else ""
    return _page(asked, chosen=chosen if chosen in Answer.__members__.values() else "", note=note)


def _record(asked: Asked) -> str | Response | tuple[str, int]:
    """Pressing "Record my answer": recorded once; a second press says it already is."""
    try:
        answer = Answer(request.form.get("answer", ""))
    except ValueError:
        return _page(asked, note="Choose one of the answers, then press the button."), 400
    recorded = followups.record_answer(
        asked.row.id,
        answer,
        reply_text=request.form.get("reply_text", ""),
        share=request.form.get("share") == "yes",
    )
    if recorded:
        if asked.letter_token:  # the letter's own page shows the answer on its timeline
            target = url_for("supporter.letter", token=asked.letter_token, answered="1")
        else:
            target = url_for(asked.endpoint(), token=asked.token, answered="1")
        return redirect(target, code=303)
    db.session.refresh(asked.row)
    return _page(asked, note="Your answer was already recorded: thank you.")


def _stop_page(asked: Asked) -> str:
    return render_template(
        "supporter/followup_stop.html",
        asked=asked,
        campaign=get_campaign(asked.campaign_key),
        row=asked.row,
    )


def _stop(asked: Asked) -> str:
    """Recorded at once, and harmless to repeat."""
    followups.stop_asking(asked.row.id)
    db.session.refresh(asked.row)
    return _stop_page(asked)


# Each kind of follow-up has the same four routes, calling the views above.


@bp.get("/letters/<token>/reply")
def followup(token: str) -> str:
    return _show(_asked_letter(token))


@bp.post("/letters/<token>/reply")
@limiter.limit(_post_limit)
def followup_answer(token: str) -> str | Response | tuple[str, int]:
    return _record(_asked_letter(token))


@bp.get("/letters/<token>/stop")
def followup_stop(token: str) -> str:
    """The "don't ask me again" page: one button; opening it changes nothing."""
    return _stop_page(_asked_letter(token))


@bp.post("/letters/<token>/stop")
@limiter.limit(_post_limit)
def followup_stop_post(token: str) -> str:
    return _stop(_asked_letter(token))


@bp.get("/event-letters/<token>/reply")
def printed_followup(token: str) -> str:
    return _show(_asked_printed(token))


@bp.post("/event-letters/<token>/reply")
@limiter.limit(_post_limit)
def printed_followup_answer(token: str) -> str | Response | tuple[str, int]:
    return _record(_asked_printed(token))


@bp.get("/event-letters/<token>/stop")
def printed_followup_stop(token: str) -> str:
    return _stop_page(_asked_printed(token))


@bp.post("/event-letters/<token>/stop")
@limiter.limit(_post_limit)
def printed_followup_stop_post(token: str) -> str:
    return _stop(_asked_printed(token))
