"""From a stored Message to the Letter it holds (shared by pages, PDFs and, later, emails)."""

from __future__ import annotations

from letters.domain.campaign import Campaign
from letters.domain.compose import Letter, Recipient, Sender, compose, stored_choices
from letters.models import Message


def letter_for(message: Message, campaign: Campaign) -> Letter:
    """Compose the message's letter; points the campaign has since dropped are left out."""
    return compose(
        campaign,
        Sender(
            name=message.sender_name,
            street=message.sender_street,
            suburb=message.sender_suburb,
            state=message.sender_state,
            postcode=message.sender_postcode,
            email=message.sender_email,
        ),
        stored_choices(
            campaign, message.statistics, message.recommendations, message.personal_note
        ),
        Recipient(
            name=message.member_name,
            division=message.division,
            state=message.division_state,
            party=message.member_party,
            salutation=message.member_salutation,
        ),
        today=message.letter_date,
    )
