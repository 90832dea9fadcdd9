"""Pages for supporters: the campaign, writing a letter, the letter and its PDF."""

from flask import Blueprint

bp = Blueprint("supporter", __name__)

from letters.supporter import privacy, views  # noqa: E402, F401  (routes attach themselves to bp)
