"""The organiser's dashboard and its CSV exports (counted in letters/organiser/dashboard.py)."""

from __future__ import annotations

from flask import Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from wtforms import SelectChoice

from letters.campaigns import EXTENSION_KEY
from letters.organiser import bp, dashboard
from letters.organiser.exports import csv_download
from letters.organiser.forms import DashboardFilterForm


def _filters() -> tuple[DashboardFilterForm, dashboard.Filters | None]:
    """The form as the query string filled it, and the filters, or None with its errors."""
    campaigns = current_app.extensions[EXTENSION_KEY]
    form = DashboardFilterForm(request.args)
    form.campaign.choices = [SelectChoice(c.key, c.title) for c in campaigns.values()]
    if not form.campaign.data:
        form.campaign.data = current_app.config["DEFAULT_CAMPAIGN"]
    campaign = form.campaign.data
    events = dashboard.event_choices(current_user.id, campaign)
    form.event.choices = [SelectChoice("", "All letters")] + [
        SelectChoice(str(i), name) for i, name in events
    ]
    if request.args and not form.validate():
        return form, None
    event = form.event.data
    return form, dashboard.Filters(
        campaign=campaign,
        organiser_id=current_user.id,
        event_id=int(event) if event else None,
        since=form.since.data,
        until=form.until.data,
    )


@bp.get("/dashboard")
def dashboard_page() -> ResponseReturnValue:
    form, filters = _filters()
    if filters is None:
        return render_template("organiser/dashboard.html", form=form, board=None), 400
    return render_template(
        "organiser/dashboard.html",
        form=form,
        board=dashboard.build(filters),
        query=request.query_string.decode(),
    )


def _bad_filters(form: DashboardFilterForm) -> Response:
    return Response("Check the filters: " + "; ".join(_errors(form)), 400, mimetype="text/plain")


@bp.get("/dashboard/<any(letters, divisions, answers):kind>.csv")
def export(kind: str) -> ResponseReturnValue:
    """One of the dashboard's CSV downloads, for the same filters as the page."""
    form, filters = _filters()
    if filters is None:
        return _bad_filters(form)
    if kind == "letters":
        bodies = request.args.get("bodies") == "1"
        header = (*dashboard.LETTER_COLUMNS, "own_words") if bodies else dashboard.LETTER_COLUMNS
        rows = dashboard.letter_rows(filters, bodies=bodies)
    elif kind == "divisions":
        header, rows = dashboard.DIVISION_COLUMNS, dashboard.division_rows(filters)
    else:
        header, rows = dashboard.ANSWER_COLUMNS, dashboard.answer_rows(filters)
    return csv_download(f"{kind}.csv", header, rows)


def _errors(form: DashboardFilterForm) -> list[str]:
    return [f"{form[name].label.text}: {e}" for name, errs in form.errors.items() for e in errs]
