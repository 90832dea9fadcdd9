"""What has happened to a letter, in the supporter's words, oldest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app

from letters.domain.lifecycle import State
from letters.models import Message


@dataclass(frozen=True)
class Step:
    """One line of the timeline."""

    label: str
    at: dt.datetime | None = None
    detail: str = ""
    problem: bool = False

    @property
    def when(self) -> str:
        if self.at is None:
            return ""
        local = self.at.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
        hour = local.hour % 12 or 12
        return f"{local.day} {local:%B %Y}, {hour}:{local:%M} {'am' if local.hour < 12 else 'pm'}"


def timeline(message: Message) -> list[Step]:
    """The steps so far; an email letter's next step is named too."""
    steps = [Step("Letter written", message.created_at)]
    if message.delivery != "email":
        return steps
    state = State(message.state)
    if message.confirmation_sent_at:
        steps.append(
            Step(
                "Confirmation email sent to you", message.confirmation_sent_at, message.sender_email
            )
        )
    if message.reminder_sent_at:
        steps.append(Step("Reminder sent", message.reminder_sent_at))
    if state == State.AWAITING_CONFIRMATION:
        steps.append(
            Step("Waiting for you to confirm", detail="Open the link in the email we sent you.")
        )
    if state == State.EXPIRED:
        steps.append(
            Step(
                "Not sent: the confirmation link expired",
                detail="Write the letter again, or print it.",
                problem=True,
            )
        )
    if message.confirmed_at:
        steps.append(Step("You confirmed: queued to send", message.confirmed_at))
    if state in (State.QUEUED, State.SENDING) and message.failure_reason.startswith("retrying"):
        steps.append(Step("Sending is delayed; we will keep trying", detail=message.failure_reason))
    if message.sent_at:
        steps.append(
            Step(f"Sent to {message.member_name}", message.sent_at, message.recipient_email)
        )
    if message.delivered_at and state not in (State.BOUNCED, State.DROPPED):
        steps.append(Step("Delivered to the member's inbox", message.delivered_at))
    if state in (State.BOUNCED, State.DROPPED, State.FAILED):
        steps.append(
            Step(
                "Not delivered",
                message.failed_at,
                f"{message.failure_reason} Please download the PDF, print it and post it: "
                "a posted letter counts just as much.",
                problem=True,
            )
        )
    if state == State.SPAM_REPORTED:
        steps.append(Step("The member's office marked the email as spam", problem=True))
    return steps
