"""/privacy: what the site keeps about a supporter, and for how long, read from the settings in
force, so the page cannot promise one period while the code keeps another."""

from __future__ import annotations

from flask import current_app, render_template

from letters.campaigns import get_campaign
from letters.mail.content import public_url
from letters.messages.limits import EMAIL_WINDOW
from letters.supporter import bp
from letters.supporter.abuse import FORM_MAX_AGE


@bp.get("/privacy")
def privacy() -> str:
    config = current_app.config
    return render_template(
        "supporter/privacy.html",
        campaign=get_campaign(),
        personal_days=config["KEEP_PERSONAL_DATA_DAYS"],
        event_days=config["KEEP_EVENT_DATA_DAYS"],
        followup_days=config["FOLLOWUP_AFTER_DAYS"],
        print_days=config["KEEP_PRINT_FILES_DAYS"],
        confirm_days=config["CONFIRM_EXPIRE_AFTER_HOURS"] / 24,
        address_hours=EMAIL_WINDOW.total_seconds() / 3600,
        form_hours=FORM_MAX_AGE.total_seconds() / 3600,
    )


def privacy_url() -> str:
    """The privacy page's absolute address, for the footer of every email."""
    return public_url("supporter.privacy")
