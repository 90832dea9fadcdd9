"""Sending through SendGrid's v3 mail-send API with the official client."""

from __future__ import annotations

import urllib.error
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from letters.mail import Address, OutgoingEmail, SendResult

# SendGrid's answers that no retry will change: the request itself is wrong.
PERMANENT_STATUSES = frozenset({400, 401, 403, 413})
MESSAGE_ID_ARG = "letters_message_id"
KIND_ARG = "letters_kind"


def _address(address: Address) -> dict[str, str]:
    return (
        {"email": address.email, "name": address.name} if address.name else {"email": address.email}
    )


def _recipient(address: Address) -> dict[str, str]:
    """A to or cc entry. SendGrid answers 202 and then drops an email whose recipient name
    holds "," or ";" (its documented limit), so such a name travels as a quoted string, as
    SendGrid's own PHP library sends it."""
    if not any(ch in address.name for ch in ",;"):
        return _address(address)
    quoted = address.name.replace("\\", "\\\\").replace('"', '\\"')
    return {"email": address.email, "name": f'"{quoted}"'}


def payload(mail: OutgoingEmail) -> dict[str, Any]:
    """The v3 /mail/send request body."""
    personalization: dict[str, Any] = {"to": [_recipient(a) for a in mail.to]}
    if mail.cc:
        personalization["cc"] = [_recipient(a) for a in mail.cc]
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": _address(mail.sender),
        "subject": mail.subject,
        "content": [{"type": "text/plain", "value": mail.text}]
        + ([{"type": "text/html", "value": mail.html}] if mail.html else []),
        # Only our own id travels with the message: events come back carrying it, and no
        # personal data sits in SendGrid's event logs because of it.
        "custom_args": {MESSAGE_ID_ARG: str(mail.message_id), KIND_ARG: mail.kind},
    }
    if mail.reply_to:
        body["reply_to"] = _address(mail.reply_to)
    if mail.category:
        body["categories"] = [mail.category[:255]]
    return body


class SendGridMailer:
    """Sends through SendGrid (or any server speaking its API, at SENDGRID_API_HOST)."""

    really_sends = True

    def __init__(self, api_key: str, host: str, timeout: float) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.timeout = timeout

    def send(self, mail: OutgoingEmail) -> SendResult:
        try:
            response = self.client.client.mail.send.post(
                request_body=payload(mail), timeout=self.timeout
            )
        except HTTPError as error:
            status = int(error.status_code)
            reason = _reason(status, error.body)
            return SendResult(
                accepted=False,
                status=status,
                retryable=status not in PERMANENT_STATUSES,
                reason=reason,
            )
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            return SendResult(accepted=False, retryable=True, reason=f"connection: {error}")
        status = response.status_code
        if status == 202 or 200 <= status < 300:
            provider_id = response.headers.get("X-Message-Id", "") if response.headers else ""
            return SendResult(accepted=True, status=status, provider_id=provider_id or "")
        return SendResult(accepted=False, status=status, retryable=True, reason=f"HTTP {status}")


def _reason(status: int, body: bytes | str | None) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    return f"HTTP {status}: {text[:500]}".strip()
