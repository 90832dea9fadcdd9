"""One key per mailbox: the weekly rule and the per-address limit count by it."""

from __future__ import annotations

import pytest

from letters.mail.address_keys import address_key


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("jane@example.org", "jane@example.org"),
        ("  Jane@Example.ORG ", "jane@example.org"),
        # Gmail ignores dots and tags, and googlemail.com is the same mailboxes.
        ("Jane.Citizen+letters@gmail.com", "janecitizen@gmail.com"),
        ("j.a.n.e.citizen@googlemail.com", "janecitizen@gmail.com"),
        # These ignore tags, but a dot is part of the name.
        ("jane.citizen+x@outlook.com", "jane.citizen@outlook.com"),
        ("jane+a+b@hotmail.com", "jane@hotmail.com"),
        ("jane+x@live.com", "jane@live.com"),
        ("jane+x@icloud.com", "jane@icloud.com"),
        ("jane+x@fastmail.com", "jane@fastmail.com"),
        ("Jane.Citizen@Outlook.com.", "jane.citizen@outlook.com"),
    ],
)
def test_spellings_of_one_mailbox_share_a_key(typed, key):
    assert address_key(typed) == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # Elsewhere a tag or a dot may name a different person's mailbox.
        ("jane+work@example.org", "jane@example.org"),
        ("jane.citizen@example.org", "janecitizen@example.org"),
        ("jane.citizen@outlook.com", "janecitizen@outlook.com"),
        ("jane@gmail.com", "jane@gmail.co"),
        ("+x@gmail.com", "+y@gmail.com"),
    ],
)
def test_different_mailboxes_keep_different_keys(one, other):
    assert address_key(one) != address_key(other)


def test_something_that_is_not_an_address_is_only_trimmed_and_lowered():
    assert address_key("  Not An Address ") == "not an address"
    assert address_key("@gmail.com") == "@gmail.com"


def test_an_address_with_no_mailbox_is_not_given_its_providers_other_name():
    assert address_key(" @GoogleMail.com. ") == "@googlemail.com."


def test_the_domain_is_what_follows_the_last_at_sign():
    # A quoted mailbox may hold an @ of its own.
    assert address_key('"Jane@Home"+x@gmail.com') == '"jane@home"@gmail.com'
