"""Pages for organisers (events, attendee import, printing) and the event kiosk."""

from flask import Blueprint

bp = Blueprint("organiser", __name__, url_prefix="/organiser")
# The kiosk lives outside /organiser: a tablet holding its link is not logged in as anyone.
kiosk_bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

from letters.organiser import auth, erase, kiosk, reports, views  # noqa: E402, F401  (routes attach to the blueprints)
