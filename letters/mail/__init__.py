"""Outgoing email: what an email is, and the two ways it leaves (SendGrid, local outbox)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from letters.domain import people

# Control characters (CR/LF above all) would let text typed into a form start a new header;
# C1 controls, Unicode line separators and bidi controls disguise it.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029" + "".join(sorted(people.BIDI_CONTROLS)) + "]+"
)


def header_text(value: str, limit: int = 200) -> str:
    """Text made safe for an email header: one line, no control characters, bounded."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def display_name(value: str) -> str:
    """A name fit for an address header, or "" (then the address goes alone).

    The forms already refuse what cannot be a plain display name; this holds for rows stored
    before they did, or by any other path. An encoded word (=?utf-8?q?=0D=0ABcc:...?=) is
    dropped rather than passed on: Python 3.11.7's email package decodes one inside a quoted
    display name and writes the CR/LF it hides (fixed in CPython 3.11.10 and 3.12.5).
    """
    name = header_text(value, 150)
    return name if people.is_display_name(name) else ""


def mailbox(value: str) -> str:
    """An address as every mail system takes it: one line, and an IDN domain as punycode."""
    return people.ascii_address(header_text(value, 254))


@dataclass(frozen=True)
class Address:
    """An email address with an optional display name."""

    email: str
    name: str = ""


@dataclass(frozen=True)
class OutgoingEmail:
    """One email, ready for any mailer. Header fields are made safe on construction."""

    kind: str  # letter, confirmation, reminder, failure
    message_id: uuid.UUID
    sender: Address
    to: tuple[Address, ...]
    subject: str
    text: str
    html: str
    reply_to: Address | None = None
    cc: tuple[Address, ...] = ()
    category: str = ""

    def __post_init__(self) -> None:
        def clean(address: Address) -> Address:
            return Address(mailbox(address.email), display_name(address.name))

        object.__setattr__(self, "sender", clean(self.sender))
        object.__setattr__(self, "to", tuple(map(clean, self.to)))
        object.__setattr__(self, "cc", tuple(map(clean, self.cc)))
        if self.reply_to is not None:
            object.__setattr__(self, "reply_to", clean(self.reply_to))
        object.__setattr__(self, "subject", header_text(self.subject, 250))


@dataclass(frozen=True)
class SendResult:
    """What happened when a mailer tried to send."""

    accepted: bool
    status: int | None = None
    provider_id: str = ""
    retryable: bool = False
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    """Anything that can send an OutgoingEmail."""

    really_sends: bool

    def send(self, email: OutgoingEmail) -> SendResult: ...
