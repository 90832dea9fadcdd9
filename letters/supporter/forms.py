"""The /write form. Field names are a public contract: organisers pre-fill them in links."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from letters.domain import people
from letters.form_fields import (
    PERSONAL_NOTE_MAX,
    STATES,
    MultiCheckboxField,
    email_address,
    line_breaks_as_lf,
    plain_line,
    plain_text,
    strip,
)


class WriteForm(FlaskForm):
    """Everything a supporter gives to make their letter."""

    name = StringField(
        "Your name",
        filters=[strip],
        validators=[
            DataRequired("Enter your name."),
            Length(max=people.NAME.max_length),
            plain_line,
        ],
    )
    email = EmailField(
        "Your email",
        filters=[strip],
        validators=[Optional(), email_address],
    )
    # Members answer constituents: without an address a letter is easy to set aside.
    street = StringField(
        "Street address",
        filters=[strip],
        validators=[
            DataRequired("Enter your street address."),
            Length(max=people.STREET.max_length),
            plain_line,
        ],
    )
    suburb = StringField(
        "Suburb or town",
        filters=[strip],
        validators=[
            DataRequired("Enter your suburb or town."),
            Length(max=people.SUBURB.max_length),
            plain_line,
        ],
    )
    state = SelectField(
        "State or territory",
        choices=[SelectChoice("", "Choose…"), *(SelectChoice(code, name) for code, name in STATES)],
        validators=[Optional()],
        validate_choice=True,
    )
    postcode = StringField(
        "Postcode",
        filters=[strip],
        validators=[
            DataRequired("Enter your postcode."),
            Regexp(
                people.POSTCODE_PATTERN, message="Enter your 4-digit postcode, for example 2600."
            ),
        ],
    )
    division = StringField(
        "Federal electorate",
        filters=[strip],
        validators=[Length(max=people.DIVISION.max_length), plain_line],
    )
    member = StringField(
        "Your MP's name",
        filters=[strip],
        validators=[Length(max=people.MEMBER.max_length), plain_line],
    )
    statistics = MultiCheckboxField("Facts to include", validate_choice=True)
    recommendations = MultiCheckboxField("Changes to ask for", validate_choice=True)
    personal_note = TextAreaField(
        "In your own words (optional)",
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
