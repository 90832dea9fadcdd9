"""One key per mailbox, so that limits on an email address cannot be dodged by respelling it."""

from __future__ import annotations

# Providers that deliver `name+anything@` to `name@` (documented sub-addressing). Elsewhere a
# `+` may be part of a real, different mailbox, so it is kept.
PLUS_TAGS_IGNORED = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "fastmail.com",
        "fastmail.fm",
        "proton.me",
        "protonmail.com",
    }
)
# Gmail alone documents that dots in the local part do not matter (j.a.n.e@ is jane@).
DOTS_IGNORED = frozenset({"gmail.com", "googlemail.com"})
# Two names for one provider's mailboxes.
SAME_MAILBOXES = {"googlemail.com": "gmail.com"}


def address_key(address: str) -> str:
    """The mailbox an address reaches: lower case, trimmed, tags and dots removed where known.

    Not an address to send to: only for comparing two addresses.
    """
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local:
        return address.strip().lower()
    domain = domain.rstrip(".")
    mailbox = local
    if domain in PLUS_TAGS_IGNORED:
        mailbox = mailbox.split("+", 1)[0]
    if domain in DOTS_IGNORED:
        mailbox = mailbox.replace(".", "")
    # "+x@gmail.com" has no mailbox left to compare: keep it as typed, it matches only itself.
    return f"{mailbox or local}@{SAME_MAILBOXES.get(domain, domain)}"
