"""A person's details, declared once: the fields, their limits, and what no field may hold.

The /write form, the kiosk, the organiser's attendee form and the attendee CSV import all take
the same details (name, email, street, suburb, state, postcode) and check them here, so a rule
changes in one place. Plain Python: each check returns a message for people, or None.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import idna
from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class Detail:
    """One detail a person gives (its key is the form field's and the CSV column's name)."""

    key: str
    max_length: int


NAME = Detail("name", 120)
EMAIL = Detail("email", 254)
STREET = Detail("street", 150)
SUBURB = Detail("suburb", 80)
DIVISION = Detail("division", 80)
MEMBER = Detail("member", 120)
PERSONAL_NOTE = Detail("personal_note", 2000)  # several lines; every other detail is one
POSTCODE_PATTERN = re.compile(r"^\d{4}$")
EMAIL_INVALID = "Enter an email address like name@example.com."

# Bidirectional embeddings, overrides, isolates and marks: they make text read differently
# from what it holds (an order reversed, a file extension disguised).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# What a line break can be besides CR and LF: a mail client, a CSV reader or str.splitlines()
# may each end a line at any of these.
LINE_SEPARATORS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# An RFC 2047 encoded word starts so. Some mail libraries decode one found inside a display
# name back into the CR/LF it hides, so no name may hold one; nor does any real name.
ENCODED_WORD_START = "=?"
# Lower-case words that begin a surname ("Albertus van Manen" -> "van Manen"), for sorting
# attendees and for members' display names alike.
SURNAME_PARTICLES = frozenset(
    {"van", "von", "de", "del", "della", "der", "den", "di", "da", "du", "dos", "das", "ter", "le"}
)


def _is_control(ch: str) -> bool:
    # Cc is C0, DEL and C1 (U+0080-U+009F, NEL among them); Zl and Zp are U+2028 and U+2029.
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in BIDI_CONTROLS


def line_problem(value: str, detail: Detail) -> str | None:
    """Why `value` cannot be this one-line detail, or None."""
    if len(value) > detail.max_length:
        return f"Keep it to {detail.max_length} characters (it has {len(value):,})."
    return line_characters_problem(value)


def line_characters_problem(value: str) -> str | None:
    """Why `value` cannot be one line of plain text (a name, an address line), or None."""
    if any(ch in LINE_SEPARATORS for ch in value):
        return "Use letters, numbers and punctuation only, on one line: remove the line break."
    if any(_is_control(ch) for ch in value):
        return (
            "Use letters, numbers and punctuation only: remove the invisible control "
            "characters (they can disguise text)."
        )
    if ENCODED_WORD_START in value:
        return "Remove “=?”: it is email coding, not part of a name or address."
    return None


def normalise_text(value: str) -> str:
    """Several lines of text with every kind of line break as LF (U+2028 pasted from a word
    processor is a line break to the person who typed it)."""
    return re.sub(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]", "\n", value)


def text_problem(value: str, detail: Detail = PERSONAL_NOTE) -> str | None:
    """Why `value` cannot be this several-line detail, or None (normalise_text() it first)."""
    if len(value) > detail.max_length:
        return (
            f"Keep your own words to {detail.max_length:,} characters or fewer "
            f"(it has {len(value):,})."
        )
    return text_characters_problem(value)


def text_characters_problem(value: str) -> str | None:
    """Why `value` cannot be several lines of plain text, or None (normalise_text() it
    first)."""
    if any(_is_control(ch) and ch not in "\n\t" for ch in value):
        return "Remove the invisible control characters from the text."
    return None


def is_display_name(value: str) -> bool:
    """Whether `value` can stand as an email display name as it is."""
    return line_characters_problem(value) is None


def check_email(value: str) -> tuple[str, str | None]:
    """(the address to store, why it cannot be used or None).

    An IDN domain is stored as ASCII (bücher.de becomes xn--bcher-kva.de), which every mail
    system takes. A non-ASCII local part (josé@) needs
    SMTPUTF8, which a member's mail server may not speak, so it is refused here, at the form,
    rather than failing once the email is built.
    """
    if len(value) > EMAIL.max_length:
        return value, f"Keep the email address to {EMAIL.max_length} characters."
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        if "before the @-sign" in str(error) and not value.split("@", 1)[0].isascii():
            return value, (
                "Use an email address whose part before the @ has no accents or other "
                "non-English letters (the part after the @ may have them)."
            )
        return value, EMAIL_INVALID
    # An ASCII address is kept as typed (its domain's case is the person's own business).
    return (value if value.isascii() else checked.ascii_email or checked.normalized), None


def ascii_address(value: str) -> str:
    """The address with its domain as punycode (a@bücher.de -> a@xn--bcher-kva.de); as it was
    when the domain is ASCII already or is no valid IDN."""
    local, at, domain = value.rpartition("@")
    if not at or domain.isascii():
        return value
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return value
