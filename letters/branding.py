"""A campaign's own look: its colour, logo and share image on every page and supporter email.

The campaign file names them (branding: in data/campaigns/*.yaml, checked when it is loaded);
this module serves them and gives the templates the campaign a page belongs to. The printed
letter never uses any of it: a letter to an MP is the supporter's own, not a leaflet.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, send_from_directory, url_for

from letters.campaigns import UnknownCampaign, get_campaign
from letters.domain.campaign import Campaign

bp = Blueprint("branding", __name__, url_prefix="/campaigns")

# Campaign images change only with a deployment: let browsers keep them for a day.
MAX_AGE = 24 * 3600
# An SVG opened on its own is a document that could run script: serve it with none allowed.
IMAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _campaign(key: str) -> Campaign:
    try:
        return get_campaign(key)
    except UnknownCampaign:
        abort(404)


def darker(colour: str, factor: float = 0.75) -> str:
    """The colour with each channel scaled down: for the header, darker reads better still."""
    channels = (round(int(colour[i : i + 2], 16) * factor) for i in (1, 3, 5))
    return "#" + "".join(f"{c:02x}" for c in channels)


@bp.get("/<key>/theme.css")
def theme(key: str) -> Response:
    """The campaign's colour as the site stylesheet's accent (a file: the CSP allows no inline
    style)."""
    colour = _campaign(key).branding.colour
    if not colour:
        abort(404)
    css = f":root {{ --accent: {colour}; --accent-dark: {darker(colour)}; }}\n"
    response = Response(css, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


def _image(name: str) -> Response:
    if not name:
        abort(404)
    response = send_from_directory(current_app.config["CAMPAIGNS_DIR"], name, max_age=MAX_AGE)
    response.headers["Content-Security-Policy"] = IMAGE_POLICY
    return response


@bp.get("/<key>/logo")
def logo(key: str) -> Response:
    return _image(_campaign(key).branding.logo)


@bp.get("/<key>/share-image")
def share_image(key: str) -> Response:
    return _image(_campaign(key).branding.share_image)


def page_campaign(campaign: Campaign | None = None) -> Campaign | None:
    """The campaign a page shows in its header: its own, else the site's default one."""
    if campaign is not None:
        return campaign
    try:
        return get_campaign()
    except UnknownCampaign:
        return None


def asset_url(campaign: Campaign, kind: str, *, external: bool = False) -> str:
    """Where a campaign's theme, logo or share image is served."""
    return url_for(f"branding.{kind}", key=campaign.key, _external=external)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(page_campaign, "page_campaign")
    app.add_template_global(asset_url, "campaign_asset")
