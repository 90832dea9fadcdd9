"""Organiser forms; every one carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from letters.domain import people
from letters.form_fields import (
    FOLLOW_UP_LABEL,
    FollowUpConsent,
    MultiCheckboxField,
    detail_field,
    email_field,
    personal_note_field,
    plain_line,
    postcode_field,
    state_field,
    strip,
)


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(
        "Email",
        filters=[strip],
        # plain_line: PostgreSQL refuses a NUL byte in the lookup, and no address has one.
        validators=[DataRequired("Enter your email address."), Length(max=254), plain_line],
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=200)]
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token is checked."""


class EventForm(FlaskForm):
    """An event's name, date, venue and campaign."""

    name = StringField(
        "Event name",
        filters=[strip],
        validators=[DataRequired("Name the event."), Length(max=200), plain_line],
    )
    date = DateField("Date", validators=[DataRequired("Enter the date, e.g. 2026-12-05.")])
    venue = StringField(
        "Venue", filters=[strip], validators=[Optional(), Length(max=200), plain_line]
    )
    campaign = SelectField("Campaign", validate_choice=True)


class ImportForm(FlaskForm):
    """An attendee spreadsheet saved as CSV."""

    file = FileField("Attendee list (CSV)", validators=[FileRequired("Choose a CSV file.")])


class AttendeeForm(FollowUpConsent, FlaskForm):
    """One attendee's letter: the same fields as /write; only name and postcode are needed."""

    may_follow_up = BooleanField(f"They ticked “{FOLLOW_UP_LABEL}”", default=False)
    consent_without_email = (
        "They can only be asked by email: give their email address above, or untick this."
    )

    name = detail_field(people.NAME, "Name", "Enter the name.")
    email = email_field("Email")
    street = detail_field(people.STREET, "Street address")
    suburb = detail_field(people.SUBURB, "Suburb or town")
    state = state_field()
    postcode = postcode_field("Enter the postcode.", "Enter a 4-digit postcode, for example 2600.")
    division = SelectField("Federal electorate", validate_choice=False)
    statistics = MultiCheckboxField("Facts to include", validate_choice=True)
    recommendations = MultiCheckboxField("Changes to ask for", validate_choice=True)
    personal_note = personal_note_field("In their own words")


class PrintForm(FlaskForm):
    """What to print besides the letters and their cover sheets."""

    labels = BooleanField("Address labels (A4 sheets of 21, Avery L7160)")
    envelopes = BooleanField("DL envelopes to print on")
    address_per = RadioField(
        "Labels and envelopes",
        choices=[
            SelectChoice("letter", "One for each letter"),
            SelectChoice("electorate", "One for each electorate's bundle"),
        ],
        default="letter",
    )
    zip = BooleanField("Also a ZIP with one PDF per electorate")
    blank = IntegerField(
        "Blank letters to handwrite, per electorate",
        default=0,
        validators=[NumberRange(min=0, max=50, message="Between 0 and 50.")],
    )


class DashboardFilterForm(FlaskForm):
    """The dashboard's filters, read from the query string (a GET changes nothing: no CSRF)."""

    class Meta:
        csrf = False

    campaign = SelectField("Campaign", validate_choice=True)
    event = SelectField("Event", default="", validate_choice=True)
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")


class EraseLookupForm(FlaskForm):
    """The address of a supporter who asked for their details to be erased.

    Sent as a POST although it changes nothing: an address in a query string would stay in
    browser histories and server logs.
    """

    email = EmailField(
        "The supporter's email address",
        filters=[strip],
        validators=[
            DataRequired("Enter the email address the supporter wrote from."),
            Length(max=254),
            plain_line,
        ],
    )


class EraseConfirmForm(EraseLookupForm):
    """Erase what the confirm page listed: the address again, and the list's digest."""

    digest = HiddenField(validators=[DataRequired(), Length(max=64)])
