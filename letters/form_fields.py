"""Pieces every form shares: checkbox lists, states, and validators for typed text."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, SelectMultipleField, widgets
from wtforms.validators import ValidationError

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
        problem = people.line_problem(field.data, people.Detail(field.name, "", 10**6))
        if problem:
            raise ValidationError(problem)


def plain_text(form: FlaskForm, field: Field) -> None:
    """Several lines of ordinary text."""
    if field.data:
        problem = people.text_problem(field.data, people.Detail(field.name, "", 10**6, False))
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
