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
