"""The process's mailer: SendGrid when a key is set, else the local outbox."""

from __future__ import annotations

from flask import current_app

from letters.mail import Mailer
from letters.mail.outbox import OutboxMailer
from letters.mail.sendgrid import SendGridMailer

MAILER_KEY = "letters.mailer"


def get_mailer() -> Mailer:
    """One mailer per app, built on first use (its HTTP client is reused across sends)."""
    mailer = current_app.extensions.get(MAILER_KEY)
    if mailer is None:
        config = current_app.config
        if config["SENDGRID_API_KEY"]:
            mailer = SendGridMailer(
                config["SENDGRID_API_KEY"],
                config["SENDGRID_API_HOST"],
                config["SEND_TIMEOUT_SECONDS"],
            )
        else:
            mailer = OutboxMailer(config["OUTBOX_DIR"])
        current_app.extensions[MAILER_KEY] = mailer
    return mailer
