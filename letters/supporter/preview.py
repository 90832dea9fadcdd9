"""The live preview beside the letter form: the letter as the form would save it, as HTML.

write.html's script posts the form here after each pause in typing. The answer is the same
letters/_letter.html partial the letter page shows and the PDF prints, filled from the letter
the form would save (letter_form.draft_letter): one composer. Nothing is stored or logged.
Partial input previews what it can: placeholders stand in for a name or an MP not given yet.
"""

from __future__ import annotations

import dataclasses

from flask import current_app, render_template, request

from letters.body_limits import body_limit
from letters.campaigns import get_campaign
from letters.domain.campaign import Campaign
from letters.domain.compose import Letter, Recipient
from letters.domain.directory import load_directory
from letters.extensions import limiter
from letters.supporter import bp
from letters.supporter.forms import WriteForm
from letters.supporter.letter_form import draft_letter, write_form
from letters.supporter.member import resolve

# A letter form is a few kilobytes: 2,000 characters of own words are at most 8 KB of UTF-8
# (24 KB percent-encoded). Far below the site's default, since this is asked for so often.
PREVIEW_BODY_BYTES = 32 * 1024
# Bracketed, so nobody takes them for what they typed; they never reach a saved letter, which
# needs a name and a member.
PLACEHOLDER_NAME = "[Your name]"
PLACEHOLDER_MEMBER = Recipient(name="[Your MP]", division="[your electorate]")
NO_MEMBER = "Your MP goes here once we know your electorate."
NO_STATISTIC = "Tick at least one fact to see your letter."
NO_RECOMMENDATION = "Tick at least one change to ask for to see your letter."


def _preview_limit() -> str:
    return current_app.config["PREVIEW_LIMIT"]


@bp.post("/write/preview")
@body_limit(PREVIEW_BODY_BYTES)
@limiter.limit(_preview_limit)
def preview() -> tuple[str, int]:
    """The letter so far, as an HTML fragment for the live preview (a POST: it carries the
    supporter's details, which a URL would leave in logs)."""
    campaign = get_campaign(request.args.get("campaign", type=str) or None)
    form = write_form(campaign)
    form.validate()  # for its filters and normalising (e.g. the email) only; errors wait
    letter, notes = _draft(form, campaign)
    return render_template("supporter/_live_letter.html", letter=letter, notes=notes), 200


def _draft(form: WriteForm, campaign: Campaign) -> tuple[Letter | None, list[str]]:
    """The letter as far as the form goes, and what it still needs."""
    notes: list[str] = []
    statistics = [k for k in form.statistics.data or [] if k in campaign.statistic_keys]
    recommendations = [
        k for k in form.recommendations.data or [] if k in campaign.recommendation_keys
    ]
    if not statistics:
        notes.append(NO_STATISTIC)
    if not recommendations:
        notes.append(NO_RECOMMENDATION)
    if notes:
        # compose() needs both; the saved letter would fill in the campaign's defaults, which
        # would show points the supporter has just unticked.
        return None, notes
    form.statistics.data, form.recommendations.data = statistics, recommendations
    recipient = resolve(form, load_directory(current_app.config["DATA_DIR"])).recipient
    if recipient is None:
        notes.append(NO_MEMBER)
        recipient = PLACEHOLDER_MEMBER
    letter = draft_letter(form, campaign, recipient)
    if not letter.sender.name:
        letter = dataclasses.replace(
            letter, sender=dataclasses.replace(letter.sender, name=PLACEHOLDER_NAME)
        )
    return letter, notes
