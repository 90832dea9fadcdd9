"""The site's own error pages: what went wrong and what to do next, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, NotFound

from letters.campaigns import EXTENSION_KEY as CAMPAIGNS_KEY
from letters.campaigns import UnknownCampaign
from letters.domain.campaign import Campaign

log = logging.getLogger(__name__)
PAGES = (400, 404, 405, 410, 413, 429, 500)  # each has its template; others share one
# Machines, not people, call these: they get JSON, as the webhook's own answers are.
JSON_PATHS = ("/webhooks/",)
# Links people copy from emails: when one is not found, it was most likely cut short.
LINK_ENDPOINTS = frozenset(
    {
        "supporter.confirm",
        "supporter.confirm_send",
        "supporter.letter",
        "supporter.letter_pdf",
        "supporter.edit",
        "kiosk.page",
    }
)


def _default_campaign() -> Campaign | None:
    # For the page's title and brand; no abort(404) here, whatever the campaigns hold.
    campaigns = current_app.extensions.get(CAMPAIGNS_KEY) or {}
    return campaigns.get(current_app.config["DEFAULT_CAMPAIGN"])


def error_page(error: HTTPException) -> Response | tuple[str | Response, int]:
    """The page (or, for a webhook, the JSON) for an HTTP error."""
    status = error.code or 500
    if request.path.startswith(JSON_PATHS):
        return jsonify(error=error.name.lower()), status
    try:
        page = render_template(
            f"errors/{status}.html" if status in PAGES else "errors/other.html",
            error=error,
            campaign=_default_campaign(),
            from_link=request.endpoint in LINK_ENDPOINTS,
            csrf=isinstance(error, CSRFError),
        )
    except Exception:
        # The error page must never be the next error: say it plainly instead.
        log.exception("the %s page could not be shown", status)
        page = f"{status} {error.name}. Please go back and try again."
    return page, status


def init_app(app: Flask) -> None:
    """Answer every HTTP error with the site's own page (blueprints may answer some first).

    An unexpected exception reaches this as a 500, after Flask has logged it.
    """
    app.register_error_handler(HTTPException, error_page)
    app.register_error_handler(UnknownCampaign, unknown_campaign_page)


def unknown_campaign_page(error: UnknownCampaign) -> Response | tuple[str | Response, int]:
    """A page for a campaign that does not exist (or no longer does) is not found."""
    return error_page(NotFound())
