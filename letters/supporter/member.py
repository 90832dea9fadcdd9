"""Settle which member a supporter writes to, from the form and the directory."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

from letters.domain.compose import Recipient
from letters.domain.directory import AEC_FINDER_URL, Directory, Division
from letters.domain.members import Named, resolve_member
from letters.supporter.forms import WriteForm

AEC_FINDER = AEC_FINDER_URL
FINDER_LINK = Markup('<a href="{0}">{0}</a>').format(AEC_FINDER)


def finder_links(text: str) -> Markup:
    """A note, escaped, in which the AEC finder's address is a link (the template filter)."""
    return escape(text).replace(escape(AEC_FINDER), FINDER_LINK)


@dataclass
class Resolution:
    """The member found (or not yet), and the choices and notes to show the supporter."""

    recipient: Recipient | None = None
    candidates: list[Division] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    needs_choice: bool = False


def resolve(form: WriteForm, directory: Directory | None) -> Resolution:
    """Use the typed member when no data is loaded; otherwise the postcode's divisions."""
    if directory is None:
        return _typed_member(form)
    if form.postcode.errors or not form.postcode.data:
        return Resolution()
    choice = resolve_member(
        directory, form.postcode.data, form.state.data or "", form.division.data or ""
    )
    if choice.error:
        form.postcode.errors = [*form.postcode.errors, choice.error]
        return Resolution(notes=list(choice.lookup.notes))
    result = Resolution(candidates=list(choice.lookup.divisions), notes=list(choice.lookup.notes))
    chosen = choice.chosen
    if chosen is None and len(choice.lookup.divisions) == 1:
        # The division field may still hold an earlier postcode's choice: a postcode with one
        # division has no question to ask.
        chosen = choice.lookup.divisions[0]
    if chosen is None or chosen.member is None:
        # (Notes, e.g. about newer divisions the postcode data predates, are shown as the
        # postcode is typed.)
        result.needs_choice = True
        if choice.named is not Named.NOTHING:
            form.division.errors = [
                *form.division.errors,
                f"{form.division.data} is not one of the electorates for postcode "
                f"{form.postcode.data}. Choose one of the list.",
            ]
        return result
    member = chosen.member
    result.recipient = Recipient(
        name=member.display_name, division=chosen.name, state=chosen.state, party=member.party
    )
    return result


def _typed_member(form: WriteForm) -> Resolution:
    # Without member data the supporter names their MP, as the phone script expects.
    if not form.division.data:
        form.division.errors = [*form.division.errors, "Enter your federal electorate."]
    if not form.member.data:
        form.member.errors = [*form.member.errors, "Enter your MP's name."]
    if not (form.division.data and form.member.data):
        return Resolution()
    return Resolution(
        recipient=Recipient(
            name=form.member.data, division=form.division.data, state=form.state.data or ""
        )
    )
