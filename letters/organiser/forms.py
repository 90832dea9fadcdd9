"""Organiser forms; every one carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from letters.supporter.forms import PERSONAL_NOTE_MAX, STATES, MultiCheckboxField

# As on /write: no control characters (CR/LF could forge email headers later) and no
# bidirectional overrides, which disguise text.
_FORBIDDEN = {chr(c) for c in range(32)} | {chr(127)} | set("\u202a\u202b\u202c\u202d\u202e")
_FORBIDDEN_IN_TEXT = _FORBIDDEN - {"\n", "\r", "\t"}


def _plain_line(form: FlaskForm, field: StringField) -> None:
    if field.data and any(ch in _FORBIDDEN for ch in field.data):
        raise ValidationError("Use letters, numbers and punctuation only, on one line.")


def _plain_text(form: FlaskForm, field: TextAreaField) -> None:
    if field.data and any(ch in _FORBIDDEN_IN_TEXT for ch in field.data):
        raise ValidationError("Remove the control characters from the text.")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[DataRequired("Enter your email address."), Length(max=254)],
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
        filters=[_strip],
        validators=[DataRequired("Name the event."), Length(max=200), _plain_line],
    )
    date = DateField("Date", validators=[DataRequired("Enter the date, e.g. 2026-12-05.")])
    venue = StringField(
        "Venue", filters=[_strip], validators=[Optional(), Length(max=200), _plain_line]
    )
    campaign = SelectField("Campaign", validate_choice=True)


class ImportForm(FlaskForm):
    """An attendee spreadsheet saved as CSV."""

    file = FileField("Attendee list (CSV)", validators=[FileRequired("Choose a CSV file.")])


class AttendeeForm(FlaskForm):
    """One attendee's letter: the same fields as /write; only name and postcode are needed."""

    name = StringField(
        "Name",
        filters=[_strip],
        validators=[DataRequired("Enter the name."), Length(max=120), _plain_line],
    )
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[
            Optional(),
            Email("Enter an email address like name@example.com.", check_deliverability=False),
            Length(max=254),
        ],
    )
    street = StringField(
        "Street address", filters=[_strip], validators=[Length(max=150), _plain_line]
    )
    suburb = StringField(
        "Suburb or town", filters=[_strip], validators=[Length(max=80), _plain_line]
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
            DataRequired("Enter the postcode."),
            Regexp(r"^\d{4}$", message="Enter a 4-digit postcode, for example 2600."),
        ],
    )
    division = SelectField("Federal electorate", validate_choice=False)
    statistics = MultiCheckboxField("Facts to include", validate_choice=True)
    recommendations = MultiCheckboxField("Changes to ask for", validate_choice=True)
    personal_note = TextAreaField(
        "In their own words",
        validators=[Optional(), Length(max=PERSONAL_NOTE_MAX), _plain_text],
    )


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
