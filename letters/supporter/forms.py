"""The /write form. Field names are a public contract: organisers pre-fill them in links."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

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
PERSONAL_NOTE_MAX = 2000
# Characters that have no place in a name or address line: control characters (CR/LF would
# let a name forge email headers later) and bidirectional overrides that disguise text.
_FORBIDDEN = {chr(c) for c in range(32)} | {chr(127)} | set("\u202a\u202b\u202c\u202d\u202e")
_FORBIDDEN_IN_NOTE = _FORBIDDEN - {"\n", "\r", "\t"}


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _plain_line(form: FlaskForm, field: StringField) -> None:
    if field.data and any(ch in _FORBIDDEN for ch in field.data):
        raise ValidationError("Use letters, numbers and punctuation only, on one line.")


def _plain_text(form: FlaskForm, field: TextAreaField) -> None:
    if field.data and any(ch in _FORBIDDEN_IN_NOTE for ch in field.data):
        raise ValidationError("Remove the control characters from your text.")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class WriteForm(FlaskForm):
    """Everything a supporter gives to make their letter."""

    name = StringField(
        "Your name",
        filters=[_strip],
        validators=[DataRequired("Enter your name."), Length(max=120), _plain_line],
    )
    email = EmailField(
        "Your email",
        filters=[_strip],
        validators=[
            Optional(),
            Email("Enter an email address like name@example.com.", check_deliverability=False),
            Length(max=254),
        ],
    )
    # Members answer constituents: without an address a letter is easy to set aside.
    street = StringField(
        "Street address",
        filters=[_strip],
        validators=[DataRequired("Enter your street address."), Length(max=150), _plain_line],
    )
    suburb = StringField(
        "Suburb or town",
        filters=[_strip],
        validators=[DataRequired("Enter your suburb or town."), Length(max=80), _plain_line],
    )
    state = SelectField(
        "State or territory",
        choices=[SelectChoice("", "Choose…"), *(SelectChoice(code, name) for code, name in STATES)],
        validators=[Optional()],
        validate_choice=True,
    )
    postcode = StringField(
        "Postcode",
        filters=[_strip],
        validators=[
            DataRequired("Enter your postcode."),
            Regexp(r"^\d{4}$", message="Enter your 4-digit postcode, for example 2600."),
        ],
    )
    division = StringField(
        "Federal electorate", filters=[_strip], validators=[Length(max=80), _plain_line]
    )
    member = StringField(
        "Your MP's name", filters=[_strip], validators=[Length(max=120), _plain_line]
    )
    statistics = MultiCheckboxField("Facts to include", validate_choice=True)
    recommendations = MultiCheckboxField("Changes to ask for", validate_choice=True)
    personal_note = TextAreaField(
        "In your own words (optional)",
        validators=[
            Optional(),
            Length(
                max=PERSONAL_NOTE_MAX,
                message=f"Keep your own words to {PERSONAL_NOTE_MAX:,} characters or fewer.",
            ),
            _plain_text,
        ],
    )
    # Not for people: hidden by CSS and from assistive technology, so only bots fill it in.
    website = StringField("Leave this field empty")
    started = HiddenField()
    delivery = RadioField(
        "How will you send it?",
        choices=[
            SelectChoice("pdf", "Print and post it (PDF)"),
            SelectChoice("email", "Email it to my MP"),
        ],
        default="pdf",
    )

    def validate_statistics(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError("Choose at least one fact.")

    def validate_recommendations(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError("Choose at least one change to ask for.")

    def validate(self, extra_validators: dict | None = None) -> bool:
        ok = super().validate(extra_validators)
        # Checked here, not on the field: Optional() ends the field's own chain when it is empty.
        if self.delivery.data == "email" and not self.email.data and not self.email.errors:
            self.email.errors = [
                *self.email.errors,
                "Enter your email address so your MP can reply.",
            ]
            ok = False
        return ok
