"""The /write form. Field names are a public contract: organisers pre-fill them in links."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
)
from wtforms.validators import ValidationError

from letters.domain import people
from letters.form_fields import (
    MultiCheckboxField,
    detail_field,
    email_field,
    personal_note_field,
    postcode_field,
    state_field,
)


class WriteForm(FlaskForm):
    """Everything a supporter gives to make their letter."""

    name = detail_field(people.NAME, "Your name", "Enter your name.")
    email = email_field("Your email")
    # Members answer constituents: without an address a letter is easy to set aside.
    street = detail_field(people.STREET, "Street address", "Enter your street address.")
    suburb = detail_field(people.SUBURB, "Suburb or town", "Enter your suburb or town.")
    state = state_field()
    postcode = postcode_field(
        "Enter your postcode.", "Enter your 4-digit postcode, for example 2600."
    )
    division = detail_field(people.DIVISION, "Federal electorate")
    member = detail_field(people.MEMBER, "Your MP's name")
    statistics = MultiCheckboxField("Facts to include", validate_choice=True)
    recommendations = MultiCheckboxField("Changes to ask for", validate_choice=True)
    personal_note = personal_note_field("In your own words (optional)")
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
