"""From the letter form to the message fields its letter is composed from.

A saved letter (views._save) and the live preview (preview.py) both copy the form here and
compose with letter_for(), as the letter page and the PDF do: one path from what was typed to
what is printed, so the preview cannot say anything the PDF would not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from wtforms import SelectChoice

from letters import clock
from letters.contacts import Contact, contact_for
from letters.domain.campaign import Campaign
from letters.domain.compose import Letter, Recipient
from letters.messages.letters import letter_for
from letters.models import Message
from letters.supporter.forms import WriteForm


def write_form(campaign: Campaign, **kwargs: Any) -> WriteForm:
    """The letter form, offering the campaign's points (kwargs go to the form)."""
    form = WriteForm(**kwargs)
    form.statistics.choices = [SelectChoice(s.key, s.text) for s in campaign.statistics]
    form.recommendations.choices = [SelectChoice(r.key, r.title) for r in campaign.recommendations]
    return form


def letter_day() -> dt.date:
    """The day a letter written now is dated."""
    # As the supporter's calendar reads, not the server's UTC.
    return clock.today(current_app.config["TIMEZONE"])


def copy_letter(
    form: WriteForm, campaign: Campaign, recipient: Recipient, message: Message
) -> Contact:
    """Copy what the letter says into the message, dated today; the member's contact, for
    the caller."""
    message.campaign_key = campaign.key
    message.sender_name = form.name.data or ""
    message.sender_email = form.email.data or ""
    message.sender_street = form.street.data or ""
    message.sender_suburb = form.suburb.data or ""
    message.sender_state = form.state.data or recipient.state
    message.sender_postcode = form.postcode.data or ""
    message.division = recipient.division
    message.division_state = recipient.state
    message.member_name = recipient.name
    message.member_party = recipient.party
    message.statistics = list(form.statistics.data or [])
    message.recommendations = list(form.recommendations.data or [])
    message.personal_note = (form.personal_note.data or "").strip()
    message.letter_date = letter_day()
    contact = contact_for(current_app.config["CONTACTS_FILE"], recipient.division, recipient.name)
    message.member_salutation = contact.salutation
    return contact


def draft_letter(form: WriteForm, campaign: Campaign, recipient: Recipient) -> Letter:
    """The letter the form would save now, composed as the saved one is; nothing is stored.

    The message is never added to the session, so no flush can write it."""
    message = Message()
    copy_letter(form, campaign, recipient, message)
    return letter_for(message, campaign)
