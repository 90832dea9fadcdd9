"""The app's campaigns, loaded once at start-up from data/campaigns/."""

from __future__ import annotations

from flask import Flask, current_app

from letters.domain.campaign import Campaign, load_campaigns

EXTENSION_KEY = "letters.campaigns"


class UnknownCampaign(LookupError):
    """No campaign has this key (a stored letter may name one since removed).

    A plain error, not an HTTP one, because workers look campaigns up too; the web answers
    it with its 404 page (letters/errors.py).
    """


def init_app(app: Flask) -> None:
    """Load and validate every campaign file; a bad file stops start-up with its error."""
    app.extensions[EXTENSION_KEY] = load_campaigns(app.config["CAMPAIGNS_DIR"])


def get_campaign(key: str | None = None) -> Campaign:
    """A campaign by key (the default one when None); UnknownCampaign when there is none."""
    campaigns: dict[str, Campaign] = current_app.extensions[EXTENSION_KEY]
    wanted = key or current_app.config["DEFAULT_CAMPAIGN"]
    campaign = campaigns.get(wanted)
    if campaign is None:
        raise UnknownCampaign(wanted)
    return campaign
