"""The emails this product sends, built from a message (needs an app context for templates)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from itsdangerous import URLSafeTimedSerializer

from letters.campaigns import get_campaign
from letters.domain.compose import Letter, format_date
from letters.mail import Address, OutgoingEmail
from letters.messages import letter_for
from letters.models import Message

CONFIRM_SALT = "letters.confirm"


def confirm_serializer() -> URLSafeTimedSerializer:
    """Signs confirmation links; they expire with the confirmation window."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def public_url(endpoint: str, **values: object) -> str:
    """An absolute link for an email, on LETTERS_BASE_URL (workers have no request to ask)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def confirm_url(message: Message) -> str:
    """The signed link that opens the confirmation page."""
    token = confirm_serializer().dumps(str(message.id))
    return public_url("supporter.confirm", token=token)


def _letter(message: Message) -> Letter:
    return letter_for(message, get_campaign(message.campaign_key))


def _supporter(message: Message) -> Address:
    return Address(message.sender_email, message.sender_name)


def _system_sender() -> Address:
    return Address(current_app.config["FROM_EMAIL"], get_campaign().title)


def letter_email(message: Message) -> OutgoingEmail:
    """The letter itself, to the member, from the supporter via the campaign."""
    campaign = get_campaign(message.campaign_key)
    letter = letter_for(message, campaign)
    cc = ()
    if campaign.email.cc_minister and campaign.minister.email:
        cc = (Address(campaign.minister.email, campaign.minister.name),)
    return OutgoingEmail(
        kind="letter",
        message_id=message.id,
        sender=Address(
            current_app.config["FROM_EMAIL"], f"{message.sender_name} via {campaign.title}"
        ),
        to=(Address(message.recipient_email, f"{message.member_name} MP"),),
        cc=cc,
        reply_to=_supporter(message),
        subject=letter.subject,
        text=render_template("email/letter.txt", letter=letter),
        html=render_template("email/letter.html", letter=letter),
        category=campaign.key,
    )


def confirmation_email(message: Message, *, reminder: bool = False) -> OutgoingEmail:
    """Asks the supporter to confirm before anything reaches the member."""
    letter = _letter(message)
    hours = current_app.config["CONFIRM_EXPIRE_AFTER_HOURS"]
    expires = (message.created_at + dt.timedelta(hours=hours)).astimezone(
        ZoneInfo(current_app.config["TIMEZONE"])
    )
    context = {
        "letter": letter,
        "confirm_url": confirm_url(message),
        "expires_text": format_date(expires.date()),
        "reminder": reminder,
    }
    subject = f"Please confirm your letter to {message.member_name}"
    return OutgoingEmail(
        kind="reminder" if reminder else "confirmation",
        message_id=message.id,
        sender=_system_sender(),
        to=(_supporter(message),),
        subject=("Reminder: " if reminder else "") + subject,
        text=render_template("email/confirmation.txt", **context),
        html=render_template("email/confirmation.html", **context),
    )


def failure_email(message: Message) -> OutgoingEmail:
    """Tells the supporter their letter could not be emailed, and how to post it instead."""
    letter = _letter(message)
    text = render_template(
        "email/failure.txt",
        letter=letter,
        reason=message.failure_reason or "the email service refused it",
        letter_url=public_url("supporter.letter", token=message.token),
    )
    return OutgoingEmail(
        kind="failure",
        message_id=message.id,
        sender=_system_sender(),
        to=(_supporter(message),),
        subject=f"Your letter to {message.member_name} could not be emailed",
        text=text,
        html="",
    )
