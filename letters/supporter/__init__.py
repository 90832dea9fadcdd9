"""Pages for supporters: the campaign, writing a letter, the letter and its PDF."""

from flask import Blueprint

bp = Blueprint("supporter", __name__)

# Routes attach themselves to bp.
from letters.supporter import followup, preview, privacy, views  # noqa: E402, F401
