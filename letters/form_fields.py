"""Pieces every form shares: checkbox lists, states, and validators for typed text."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, SelectMultipleField, widgets
from wtforms.validators import ValidationError

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
FORBIDDEN_IN_LINE = {chr(c) for c in range(32)} | {chr(127)} | set("\u202a\u202b\u202c\u202d\u202e")
FORBIDDEN_IN_TEXT = FORBIDDEN_IN_LINE - {"\n", "\r", "\t"}


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def plain_line(form: FlaskForm, field: Field) -> None:
    """One line of ordinary text."""
    if field.data and any(ch in FORBIDDEN_IN_LINE for ch in field.data):
        raise ValidationError("Use letters, numbers and punctuation only, on one line.")


def plain_text(form: FlaskForm, field: Field) -> None:
    """Several lines of ordinary text."""
    if field.data and any(ch in FORBIDDEN_IN_TEXT for ch in field.data):
        raise ValidationError("Remove the control characters from the text.")


def strip(value: str | None) -> str | None:
    """A filter: surrounding spaces never matter."""
    return value.strip() if isinstance(value, str) else value
