"""Outgoing email: what an email is, and the two ways it leaves (SendGrid, local outbox)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Protocol

# Control characters (CR/LF above all) would let text typed into a form start a new header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def header_text(value: str, limit: int = 200) -> str:
    """Text made safe for an email header: one line, no control characters, bounded."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


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
            return Address(header_text(address.email, 254), header_text(address.name, 150))

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
