"""What has happened to a letter, in the supporter's words, oldest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app

from letters.domain.lifecycle import State
from letters.models import FollowUp, Message


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


def timeline(message: Message, follow_up: FollowUp | None = None) -> list[Step]:
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
    if follow_up is not None:
        steps.extend(_follow_up_steps(message, follow_up))
    return steps


def _follow_up_steps(message: Message, row: FollowUp) -> list[Step]:
    # Imported here: the message service imports nothing from the supporter pages.
    from letters.messages.followups import ANSWER_LABELS, Answer

    steps = []
    asked = f"We asked whether {message.member_name} replied"
    if row.asked_at:
        steps.append(Step(asked, row.asked_at))
    if row.reminded_at:
        steps.append(Step("We reminded you of our question", row.reminded_at))
    if row.asked_again_at:
        steps.append(Step(asked + ", once more", row.asked_again_at))
    if row.answer:
        detail = "You shared the reply with the campaign." if row.reply_shared else ""
        label = ANSWER_LABELS[Answer(row.answer)]
        steps.append(Step(f"You told us: {label}", row.answered_at, detail))
    if row.stop_asking:
        steps.append(Step("You asked us not to ask again"))
    return steps
