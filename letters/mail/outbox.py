"""The local outbox: with no SendGrid key, every email becomes an .eml file in a folder."""

from __future__ import annotations

import email.policy
import os
import tempfile
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from letters import clock
from letters.mail import Address, OutgoingEmail, SendResult


def _header(address: Address) -> HeaderAddress:
    return HeaderAddress(display_name=address.name, addr_spec=address.email)


# policy.SMTP refuses header values with CR or LF, a second line of defence. Lines may run to
# RFC 5322's limit of 998: the email package's folding of a long address header drops the
# quotes around a display name holding <, >, " or a comma (a name of 150 characters and an
# address of 254 fit on one line, so no address header is ever folded).
POLICY = email.policy.SMTP.clone(max_line_length=998)


def to_mime(mail: OutgoingEmail) -> EmailMessage:
    """The email as a MIME message (text and HTML alternatives)."""
    message = EmailMessage(policy=POLICY)
    message["From"] = _header(mail.sender)
    message["To"] = [_header(a) for a in mail.to]
    if mail.cc:
        message["Cc"] = [_header(a) for a in mail.cc]
    if mail.reply_to:
        message["Reply-To"] = _header(mail.reply_to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain="letters.invalid")
    message["X-Letters-Message-Id"] = str(mail.message_id)
    message["X-Letters-Kind"] = mail.kind
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


class OutboxMailer:
    """Writes each email to LETTERS_OUTBOX_DIR; nothing leaves the machine."""

    really_sends = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, mail: OutgoingEmail) -> SendResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = clock.now().strftime("%Y%m%dT%H%M%S%f")
        target = self.folder / f"{stamp}-{mail.kind}-{mail.message_id}.eml"
        data = to_mime(mail).as_bytes()
        # Written whole or not at all: a reader never sees half an email.
        handle, temp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, target)
        return SendResult(accepted=True, status=None, provider_id=f"outbox:{target.name}")
