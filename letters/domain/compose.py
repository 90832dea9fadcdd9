"""Turn a campaign, a sender, their choices and a member into a written letter."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only compose() needs the campaign model at run time: the processes that render letters
    # import this module for the letter's own types, and would otherwise load pydantic and
    # YAML (about 0.1 s of each print run's start) for nothing.
    from letters.domain.campaign import Campaign, Section

PARLIAMENT_HOUSE_ADDRESS = (
    "PO Box 6022",
    "House of Representatives",
    "Parliament House",
    "Canberra ACT 2600",
)


@dataclass(frozen=True)
class Sender:
    """The supporter, as they typed themselves in."""

    name: str
    street: str = ""
    suburb: str = ""
    state: str = ""
    postcode: str = ""
    email: str = ""

    @property
    def address_lines(self) -> tuple[str, ...]:
        locality = " ".join(part for part in (self.suburb, self.state, self.postcode) if part)
        return tuple(line for line in (self.street, locality) if line)


@dataclass(frozen=True)
class Recipient:
    """The member being written to, and where the letter goes."""

    name: str  # e.g. "David Smith"
    division: str  # e.g. "Bean"
    state: str = ""
    party: str = ""
    salutation: str = ""  # "Dear ..." target; defaults to the name
    postal_address: tuple[str, ...] = PARLIAMENT_HOUSE_ADDRESS

    @property
    def address_lines(self) -> tuple[str, ...]:
        return (f"{self.name} MP", f"Member for {self.division}", *self.postal_address)

    @property
    def greeting(self) -> str:
        return f"Dear {self.salutation or self.name}"


@dataclass(frozen=True)
class Choices:
    """What the supporter picked: statistic and recommendation keys, and their own words."""

    statistics: tuple[str, ...]
    recommendations: tuple[str, ...]
    personal_note: str = ""


@dataclass(frozen=True)
class Paragraph:
    """One paragraph; `lead` is a short bold lead-in such as a recommendation's title.

    `own` marks the supporter's own words. The campaign's paragraphs are never split across
    printed pages, so a batch can lay each one out once and print it in every letter
    (letters/printing/stamps.py); the supporter's may be any length, so they flow across pages.
    """

    text: str
    lead: str = ""
    own: bool = False


@dataclass(frozen=True)
class BulletList:
    """A list of points, each a paragraph."""

    items: tuple[Paragraph, ...]


Block = Paragraph | BulletList


@dataclass(frozen=True)
class Letter:
    """A finished letter: everything a renderer (HTML, PDF, email) needs, as plain text."""

    subject: str
    date: dt.date
    sender: Sender
    recipient: Recipient
    body: tuple[Block, ...]
    closing: str = "Yours sincerely"
    campaign_title: str = ""
    personal_note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def greeting(self) -> str:
        return self.recipient.greeting

    @property
    def date_text(self) -> str:
        return format_date(self.date)


def format_date(day: dt.date) -> str:
    """27 November 2026 (no leading zero, as Australian letters write it)."""
    return f"{day.day} {day:%B %Y}"


def stored_choices(
    campaign: Campaign,
    statistics: list[str] | tuple[str, ...],
    recommendations: list[str] | tuple[str, ...],
    personal_note: str,
) -> Choices:
    """Choices kept from earlier (a saved letter, a spreadsheet row) as the campaign is now.

    Points the campaign has since dropped are left out; none left means its defaults.
    """
    kept_stats = tuple(k for k in statistics if k in campaign.statistic_keys)
    kept_recs = tuple(k for k in recommendations if k in campaign.recommendation_keys)
    return Choices(
        statistics=kept_stats or campaign.default_statistics or campaign.statistic_keys[:1],
        recommendations=kept_recs
        or campaign.default_recommendations
        or campaign.recommendation_keys,
        personal_note=personal_note,
    )


class ComposeError(ValueError):
    """The choices cannot make a letter (e.g. no statistic chosen, or an unknown key)."""


def split_paragraphs(text: str) -> list[str]:
    """The supporter's words as paragraphs: blank lines separate them, line breaks are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]


def compose(
    campaign: Campaign,
    sender: Sender,
    choices: Choices,
    recipient: Recipient,
    *,
    today: dt.date,
) -> Letter:
    """Write the letter: the campaign's points the supporter chose, in campaign order."""
    from letters.domain.campaign import Section

    _check_choices(campaign, choices)
    text = campaign.letter
    values = {
        "member": recipient.name,
        "division": recipient.division,
        "minister": campaign.minister.name,
        "minister_title": campaign.minister.title,
    }

    def para(template: str) -> list[Block]:
        return [Paragraph(template.format_map(values))] if template else []

    def statements(section: Section) -> list[Block]:
        return [Paragraph(s.text.format_map(values)) for s in campaign.current_statements(section)]

    chosen_stats = set(choices.statistics)
    chosen_recs = set(choices.recommendations)
    body: list[Block] = [
        *para(text.opening),
        *statements(Section.CONCERN),
        *para(text.concern),
        *para(text.statistics_intro),
        BulletList(tuple(Paragraph(s.text) for s in campaign.statistics if s.key in chosen_stats)),
        *para(text.call_to_act),
        *para(text.support),
        *statements(Section.RECOMMENDATIONS),
        *para(text.recommendations_intro),
        BulletList(
            tuple(
                Paragraph(r.text, lead=r.title)
                for r in campaign.recommendations
                if r.key in chosen_recs
            )
        ),
    ]
    own_words = split_paragraphs(choices.personal_note)
    if own_words:
        body += [*para(text.personal_intro), *(Paragraph(p, own=True) for p in own_words)]
    body += [*statements(Section.ASK), *para(text.ask), *para(text.thanks)]
    return Letter(
        subject=campaign.subject,
        date=today,
        sender=sender,
        recipient=recipient,
        body=tuple(body),
        campaign_title=campaign.title,
        personal_note="\n\n".join(own_words),
    )


def _check_choices(campaign: Campaign, choices: Choices) -> None:
    unknown = set(choices.statistics) - set(campaign.statistic_keys)
    unknown |= set(choices.recommendations) - set(campaign.recommendation_keys)
    if unknown:
        raise ComposeError(f"unknown campaign points: {', '.join(sorted(unknown))}")
    if not choices.statistics:
        raise ComposeError("choose at least one statistic")
    if not choices.recommendations:
        raise ComposeError("choose at least one recommendation")
