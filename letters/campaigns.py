"""The app's campaigns, loaded once at start-up from data/campaigns/."""

from __future__ import annotations

from flask import Flask, abort, current_app

from letters.domain.campaign import Campaign, load_campaigns

EXTENSION_KEY = "letters.campaigns"


def init_app(app: Flask) -> None:
    """Load and validate every campaign file; a bad file stops start-up with its error."""
    app.extensions[EXTENSION_KEY] = load_campaigns(app.config["CAMPAIGNS_DIR"])


def get_campaign(key: str | None = None) -> Campaign:
    """A campaign by key (the default one when None); 404 when unknown."""
    campaigns: dict[str, Campaign] = current_app.extensions[EXTENSION_KEY]
    campaign = campaigns.get(key or current_app.config["DEFAULT_CAMPAIGN"])
    if campaign is None:
        abort(404)
    return campaign
