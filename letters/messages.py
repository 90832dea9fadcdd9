"""From a stored Message to the Letter it holds (shared by pages, PDFs and, later, emails)."""

from __future__ import annotations

from letters.domain.campaign import Campaign
from letters.domain.compose import Choices, Letter, Recipient, Sender, compose
from letters.models import Message


def letter_for(message: Message, campaign: Campaign) -> Letter:
    """Compose the message's letter; points the campaign has since dropped are left out."""
    statistics = tuple(k for k in message.statistics if k in campaign.statistic_keys)
    recommendations = tuple(k for k in message.recommendations if k in campaign.recommendation_keys)
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
        Choices(
            statistics=statistics or campaign.default_statistics or campaign.statistic_keys[:1],
            recommendations=recommendations
            or campaign.default_recommendations
            or campaign.recommendation_keys,
            personal_note=message.personal_note,
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
