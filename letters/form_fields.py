"""Pieces every form shares: a person's detail fields, checkbox lists, and validators for typed
text. The details' limits and forbidden characters come from letters.domain.people, which the
CSV import checks against too."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from letters.domain import people

STATES = (
    ("ACT", "Australian Capital Territory"),
    ("NSW", "New South Wales"),
    ("NT", "Northern Territory"),
    ("QLD", "Queensland"),
    ("SA", "South Australia"),
    ("TAS", "Tasmania"),
    ("VIC", "Victoria"),
    ("WA", "Western Australia"),
)
PERSONAL_NOTE_MAX = people.PERSONAL_NOTE.max_length


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def plain_line(form: FlaskForm, field: Field) -> None:
    """One line of ordinary text: what a name or an address line can hold (see people)."""
    if field.data:
        problem = people.line_characters_problem(field.data)
        if problem:
            raise ValidationError(problem)


def plain_text(form: FlaskForm, field: Field) -> None:
    """Several lines of ordinary text."""
    if field.data:
        problem = people.text_characters_problem(field.data)
        if problem:
            raise ValidationError(problem)


def email_address(form: FlaskForm, field: Field) -> None:
    """An address every mail system takes; stored as people.check_email() gives it back."""
    if field.data:
        field.data, problem = people.check_email(field.data)
        if problem:
            raise ValidationError(problem)


def line_breaks_as_lf(value: str | None) -> str | None:
    """A filter for several-line text: every kind of line break becomes LF."""
    return people.normalise_text(value) if isinstance(value, str) else value


def strip(value: str | None) -> str | None:
    """A filter: surrounding spaces never matter."""
    return value.strip() if isinstance(value, str) else value


def detail_field(detail: people.Detail, label: str, required: str = "") -> StringField:
    """A one-line detail of a person (name, street, suburb...); `required` is the message
    for an empty one, else it may be left empty."""
    presence = DataRequired(required) if required else Optional()
    return StringField(
        label,
        filters=[strip],
        validators=[presence, Length(max=detail.max_length), plain_line],
    )


def email_field(label: str) -> EmailField:
    """A person's email address, optional on the field (a form may require it)."""
    return EmailField(label, filters=[strip], validators=[Optional(), email_address])


def state_field() -> SelectField:
    """A state or territory, or none."""
    return SelectField(
        "State or territory",
        choices=[SelectChoice("", "Choose…"), *(SelectChoice(code, name) for code, name in STATES)],
        validators=[Optional()],
        validate_choice=True,
    )


def postcode_field(required: str, pattern_message: str) -> StringField:
    """A four-digit Australian postcode."""
    return StringField(
        "Postcode",
        filters=[strip],
        validators=[
            DataRequired(required),
            Regexp(people.POSTCODE_PATTERN, message=pattern_message),
        ],
    )


def personal_note_field(label: str) -> TextAreaField:
    """A person's own words: several lines, every line break as LF."""
    return TextAreaField(
        label,
        filters=[line_breaks_as_lf],
        validators=[
            Optional(),
            Length(
                max=PERSONAL_NOTE_MAX,
                message=f"Keep your own words to {PERSONAL_NOTE_MAX:,} characters or fewer.",
            ),
            plain_text,
        ],
    )


FOLLOW_UP_LABEL = "You may email me later to ask whether my MP replied"
FOLLOW_UP_HINT = (
    "Optional. We can only ask by email, so this needs your email address above: without one, "
    "leave it unticked."
)


class FollowUpConsent:
    """A form mixin: an event attendee's consent to be asked later whether their member
    replied. Unticked unless they tick it, and refused without an email address to ask at
    (the form has an `email` field)."""

    email: Field  # the form's own
    may_follow_up = BooleanField(FOLLOW_UP_LABEL, default=False)
    consent_without_email = "We can only ask by email: give an email address above, or untick this."

    def validate_may_follow_up(self, field: BooleanField) -> None:
        if field.data and not self.email.data:
            raise ValidationError(self.consent_without_email)
