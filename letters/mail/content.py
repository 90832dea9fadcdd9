"""The emails this product sends, built from a message (needs an app context for templates)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from letters.campaigns import get_campaign
from letters.domain.compose import Letter, format_date
from letters.mail import Address, OutgoingEmail
from letters.messages.letters import letter_for
from letters.models import Message

CONFIRM_SALT = "letters.confirm"
NOTICE_SALT = "letters.weekly-notice"


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


def letter_digest(message: Message, letter: Letter | None = None) -> str:
    """What a confirmation binds: the letter as composed now, its recipient and its sender.

    `letter` is the message's letter when the caller has composed it already."""
    content = {
        "campaign": message.campaign_key,
        "delivery": message.delivery,
        "letter": dataclasses.asdict(letter or _letter(message)),
        "to": message.recipient_email,
    }
    raw = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def confirm_url(message: Message, digest: str | None = None) -> str:
    """The signed link that opens the confirmation page, for the content the digest names."""
    token = confirm_serializer().dumps([str(message.id), digest or message.confirmation_digest])
    return public_url("supporter.confirm", token=token)


def confirm_claims(payload: object) -> tuple[uuid.UUID, str | None]:
    """The message and digest a confirmation token names (no digest: a link from before
    confirmations named their content). ValueError when the payload names no message."""
    if isinstance(payload, list) and len(payload) == 2 and isinstance(payload[1], str):
        return uuid.UUID(str(payload[0])), payload[1]
    if isinstance(payload, str):
        return uuid.UUID(payload), None
    raise ValueError("not a confirmation token")


def _notice_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=NOTICE_SALT)


def notice_mark(message: Message) -> str:
    """Added to the letter link in a weekly-limit notice: the page then says why it waits."""
    return str(_notice_serializer().dumps(message.token))


def is_notice_mark(mark: str, token: str) -> bool:
    """Whether `mark` came from the notice about the letter `token` names."""
    try:
        return bool(mark) and _notice_serializer().loads(mark) == token
    except BadSignature:
        return False


def _letter(message: Message) -> Letter:
    return letter_for(message, get_campaign(message.campaign_key))


def _supporter(message: Message) -> Address:
    return Address(message.sender_email, message.sender_name)


def _unconfirmed_address(message: Message) -> Address:
    # Anyone can type any address and name into the form: until its owner confirms, nothing
    # they typed goes into an email (else the form would relay their text under our domain).
    return Address(message.sender_email)


def _local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


def _when(moment: dt.datetime) -> str:
    local = _local(moment)
    hour = local.hour % 12 or 12
    return f"{format_date(local.date())}, {hour}:{local:%M} {'am' if local.hour < 12 else 'pm'}"


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


def confirmation_email(message: Message, digest: str, *, reminder: bool = False) -> OutgoingEmail:
    """Asks the address's owner to confirm; the link shows the letter, the email does not."""
    campaign = get_campaign(message.campaign_key)
    hours = current_app.config["CONFIRM_EXPIRE_AFTER_HOURS"]
    expires = _local(message.created_at + dt.timedelta(hours=hours))
    context = {
        "campaign": campaign,
        "campaign_title": campaign.title,
        "confirm_url": confirm_url(message, digest),
        "expires_text": format_date(expires.date()),
        "reminder": reminder,
    }
    subject = "Please confirm your letter to your MP"
    return OutgoingEmail(
        kind="reminder" if reminder else "confirmation",
        message_id=message.id,
        sender=_system_sender(),
        to=(_unconfirmed_address(message),),
        subject=("Reminder: " if reminder else "") + subject,
        text=render_template("email/confirmation.txt", **context),
        html=render_template("email/confirmation.html", **context),
    )


def weekly_notice_email(message: Message, earlier: Message) -> OutgoingEmail:
    """Instead of a confirmation: this mailbox already emailed the member this week.

    Names only the earlier letter's member and day, which its owner confirmed, and links to
    the new letter so it can be printed; nothing the new letter's writer typed is in it.
    """
    campaign = get_campaign(message.campaign_key)
    assert earlier.confirmed_at is not None
    context = {
        "campaign": campaign,
        "campaign_title": campaign.title,
        "member": earlier.member_name,
        "written_on": format_date(_local(earlier.confirmed_at).date()),
        "letter_url": public_url(
            "supporter.letter", token=message.token, notice=notice_mark(message)
        ),
    }
    return OutgoingEmail(
        kind="notice",
        message_id=message.id,
        sender=_system_sender(),
        to=(_unconfirmed_address(message),),
        subject=f"You already wrote to {earlier.member_name} this week",
        text=render_template("email/weekly_notice.txt", **context),
        html="",
    )


def receipt_email(message: Message) -> OutgoingEmail:
    """The supporter's copy of their letter, once it went: when, and to whom."""
    letter = _letter(message)
    assert message.sent_at is not None
    context = {
        "campaign": get_campaign(message.campaign_key),
        "letter": letter,
        "sent_text": _when(message.sent_at),
        "recipient_email": message.recipient_email,
        "letter_url": public_url("supporter.letter", token=message.token),
    }
    return OutgoingEmail(
        kind="receipt",
        message_id=message.id,
        sender=_system_sender(),
        to=(_supporter(message),),
        subject=f"Your letter to {message.member_name} MP was sent",
        text=render_template("email/receipt.txt", **context),
        html=render_template("email/receipt.html", **context),
    )


def failure_email(message: Message) -> OutgoingEmail:
    """Tells the supporter their letter could not be emailed, and how to post it instead."""
    letter = _letter(message)
    text = render_template(
        "email/failure.txt",
        campaign=get_campaign(message.campaign_key),
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
