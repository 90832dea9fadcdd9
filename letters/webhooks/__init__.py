"""Webhooks from outside services: SendGrid's signed Event Webhook."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from letters.webhooks import views  # noqa: E402, F401  (routes attach themselves to bp)
