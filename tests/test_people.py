"""A person's details: the limits and forbidden characters the forms and the import share."""

from __future__ import annotations

import pytest

from letters.domain.people import (
    EMAIL,
    MEMBER,
    NAME,
    STREET,
    SUBURB,
    Detail,
    check_email,
    line_characters_problem,
    line_problem,
    text_problem,
)


@pytest.mark.parametrize("detail", [NAME, EMAIL, STREET, SUBURB, MEMBER], ids=lambda d: d.key)
def test_a_line_may_be_exactly_as_long_as_its_limit_and_no_longer(detail: Detail) -> None:
    limit = detail.max_length
    assert line_problem("a" * limit, detail) is None
    assert line_problem("a" * (limit + 1), detail) == (
        f"Keep it to {limit} characters (it has {limit + 1:,})."
    )


def test_own_words_may_be_exactly_two_thousand_characters_and_no_longer() -> None:
    assert text_problem("a" * 2000) is None
    assert text_problem("a" * 2001) == (
        "Keep your own words to 2,000 characters or fewer (it has 2,001)."
    )


def _address(length: int) -> str:
    """A well-formed address of `length` characters: the longest local part, then labels of
    the longest a domain allows."""
    local = "a" * 64
    domain = ".".join(["b" * 63, "c" * 63, "d" * (length - len(local) - 1 - 2 * 64 - 4)])
    return f"{local}@{domain}.org"


def test_an_email_address_may_be_exactly_254_characters_and_no_longer() -> None:
    limit = EMAIL.max_length
    assert check_email(_address(limit)) == (_address(limit), None)
    assert check_email(_address(limit + 1)) == (
        _address(limit + 1),
        f"Keep the email address to {limit} characters.",
    )


def test_accents_before_the_at_are_refused_with_their_own_reason() -> None:
    assert check_email("josé@example.com") == (
        "josé@example.com",
        "Use an email address whose part before the @ has no accents or other non-English "
        "letters (the part after the @ may have them).",
    )


@pytest.mark.parametrize(
    "value",
    [
        "josé",  # no @ at all: accents are not what is wrong
        "jo,se@bücher.de",  # a comma before the @; the accent is after it, where it may be
        "jo,se@café@example.com",  # accents only after the first @
    ],
)
def test_an_address_with_accents_but_another_fault_is_told_it_is_not_an_address(
    value: str,
) -> None:
    assert check_email(value) == (value, "Enter an email address like name@example.com.")


@pytest.mark.parametrize("line_break", ["\n", "\r", "\u2028"], ids=["LF", "CR", "LS"])
def test_a_line_break_in_a_line_is_named_as_one(line_break: str) -> None:
    assert line_characters_problem(f"12 Example St{line_break}Braddon") == (
        "Use letters, numbers and punctuation only, on one line: remove the line break."
    )


@pytest.mark.parametrize("control", ["\x00", "\x7f", "\x9b", "\u202e"], ids=ascii)
def test_an_invisible_control_character_in_a_line_is_named_as_one(control: str) -> None:
    assert line_characters_problem(f"Jo Smith{control}") == (
        "Use letters, numbers and punctuation only: remove the invisible control characters "
        "(they can disguise text)."
    )
