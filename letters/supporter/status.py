"""Where a letter stands, in the supporter's words: its steps, and the one thing to do next."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from flask import current_app

from letters.domain.lifecycle import UNDELIVERED, State
from letters.messages.confirmation import too_late
from letters.messages.followups import ANSWER_LABELS, Answer, may_answer
from letters.models import FollowUp, Message


class Progress(StrEnum):
    """How far a step has got: the page marks each one so."""

    DONE = "done"
    CURRENT = "current"
    TODO = "todo"
    PROBLEM = "problem"  # the current step, and it went wrong


class Action(StrEnum):
    """The page's main button, when there is something to press."""

    PDF = "pdf"  # download the PDF to print and post
    REPLY = "reply"  # tell us whether the member replied


@dataclass(frozen=True)
class Step:
    """One line of the panel."""

    label: str
    at: dt.datetime | None = None
    detail: str = ""
    progress: Progress = Progress.DONE

    @property
    def when(self) -> str:
        if self.at is None:
            return ""
        local = self.at.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
        hour = local.hour % 12 or 12
        return f"{local.day} {local:%B %Y}, {hour}:{local:%M} {'am' if local.hour < 12 else 'pm'}"


@dataclass(frozen=True)
class Status:
    """The panel: the steps that apply, oldest first, and what to do next."""

    steps: tuple[Step, ...]
    next: str
    action: Action | None = None
    # Said while the member's address is the usual pattern, not one confirmed for them.
    address_note: str = ""

    @property
    def current(self) -> Step:
        return next(s for s in self.steps if s.progress in (Progress.CURRENT, Progress.PROBLEM))


PRINT_IT = (
    "Print it, sign it, fold it in three and post it in a DL window envelope: "
    "the address shows through the window."
)
POST_INSTEAD = "a posted letter counts just as much."


def status(message: Message, follow_up: FollowUp | None = None, *, from_notice: bool) -> Status:
    """The letter's panel. `from_notice`: opened from the weekly-limit notice's own link."""
    state = State(message.state)
    written = Step("Letter written", message.created_at)
    if message.delivery != "email" or state == State.DRAFT:
        return Status(
            (written, Step("Print, sign and post it", progress=Progress.CURRENT)),
            PRINT_IT,
            Action.PDF,
        )
    member = message.member_name
    if from_notice:
        # Only the notice's link says why it waits (see the view): to anyone else it reads
        # as any letter waiting for its confirmation.
        return Status(
            (
                written,
                Step(
                    "Not emailed: one emailed letter a week to each MP", progress=Progress.PROBLEM
                ),
            ),
            f"This letter will not be emailed: you already wrote to {member} this week, and one "
            "emailed letter a week to each MP is the limit, so download the PDF, print it and "
            f"post it instead: {POST_INSTEAD}",
            Action.PDF,
        )
    if too_late(message):
        return Status(
            (
                written,
                Step(
                    "Not sent: the confirmation link expired",
                    message.confirmation_sent_at,
                    f"We emailed the link to {message.sender_email}."
                    if message.confirmation_sent_at
                    else "",
                    Progress.PROBLEM,
                ),
            ),
            "The link was not opened in time, so nothing was sent: download the PDF to print "
            "and post it, or write the letter again.",
            Action.PDF,
        )
    steps = [written, _confirmation_step(message, state)]
    steps.extend(_delivery_steps(message, state))
    next_step, action = _next(message, state)
    if follow_up is not None and follow_up.asked_at is not None:
        asked, asked_next, asked_action = _follow_up(message, follow_up)
        # We ask only about a letter that went: a delivery SendGrid never reported is no step
        # still to come.
        steps = [s for s in steps if s.progress != Progress.TODO]
        if state in UNDELIVERED or state == State.SPAM_REPORTED:
            # What went wrong with the letter is the step to act on, not our question.
            steps.append(_with(asked, Progress.DONE))
        else:
            steps.append(asked)
            next_step, action = asked_next, asked_action
    address_note = (
        ""
        if message.recipient_email_verified
        else f"{message.recipient_email} is the usual parliamentary address pattern; it has "
        "not been confirmed for this member."
    )
    return Status(tuple(_mark_current(steps)), next_step, action, address_note)


def _confirmation_step(message: Message, state: State) -> Step:
    if state != State.AWAITING_CONFIRMATION:
        return Step("You confirmed", message.confirmed_at)
    sent = message.confirmation_sent_at
    detail = f"We emailed the link to {message.sender_email}" if sent else "A link is on its way"
    if message.reminder_sent_at:
        detail += ", and a reminder"
    return Step("Waiting for you to confirm", sent, detail + ".", Progress.CURRENT)


def _delivery_steps(message: Message, state: State) -> list[Step]:
    """Queued, sent, delivered: done, under way or still to come, or where it went wrong."""
    delayed = state in (State.QUEUED, State.SENDING) and message.failure_reason.startswith(
        "retrying"
    )
    queued = (
        Step("Sending is delayed; we will keep trying", detail=message.failure_reason)
        if delayed
        else _reached("Queued to send", "Queued", state != State.AWAITING_CONFIRMATION)
    )
    sent = _reached(
        f"Sent to {message.member_name}",
        "Sent",
        message.sent_at is not None,
        message.sent_at,
        message.recipient_email,
    )
    steps = [queued, sent]
    if state in UNDELIVERED:
        if message.sent_at is None:
            steps.remove(sent)
        reason = message.failure_reason.strip()
        steps.append(Step("Not delivered", message.failed_at, reason, Progress.PROBLEM))
        return steps
    delivered = message.delivered_at is not None or state == State.DELIVERED
    if state == State.SPAM_REPORTED:
        if delivered:
            steps.append(Step("Delivered to the member's inbox", message.delivered_at))
        steps.append(
            Step("The member's office marked the email as spam", progress=Progress.PROBLEM)
        )
        return steps
    steps.append(
        _reached("Delivered to the member's inbox", "Delivered", delivered, message.delivered_at)
    )
    return steps


def _reached(
    label: str, to_come: str, reached: bool, at: dt.datetime | None = None, detail: str = ""
) -> Step:
    """A step done, or still to come (named shortly: the steps to come share a line)."""
    if reached:
        return Step(label, at, detail)
    return Step(to_come, progress=Progress.TODO)


def _mark_current(steps: list[Step]) -> list[Step]:
    """The last step reached is the current one (unless a step already is)."""
    if any(s.progress in (Progress.CURRENT, Progress.PROBLEM) for s in steps):
        return steps
    reached = max(i for i, s in enumerate(steps) if s.progress == Progress.DONE)
    steps[reached] = _with(steps[reached], Progress.CURRENT)
    return steps


def _with(step: Step, progress: Progress) -> Step:
    return Step(step.label, step.at, step.detail, progress)


def _next(message: Message, state: State) -> tuple[str, Action | None]:
    """The sentence (and button) for where the letter's delivery stands."""
    member = message.member_name
    if state == State.AWAITING_CONFIRMATION:
        return (
            f"Check your email: open the link we emailed to {message.sender_email} and press "
            f"“Send my letter”; nothing goes to {member} until you do.",
            None,
        )
    if state in (State.QUEUED, State.SENDING):
        if message.failure_reason.startswith("retrying"):
            return "Nothing to do: sending is delayed, and we will keep trying.", None
        return f"Nothing to do: we will email it to {member} in a moment.", None
    if state == State.SENT:
        return f"Nothing to do: {member}'s office has it.", None
    if state == State.DELIVERED:
        return f"Nothing to do: it is in {member}'s inbox.", None
    if state == State.SPAM_REPORTED:
        return (
            f"It cannot go again by email; if you like, print it and post it: {POST_INSTEAD}",
            Action.PDF,
        )
    # Bounced, dropped or failed.
    return f"Please download the PDF, print it and post it: {POST_INSTEAD}", Action.PDF


def _follow_up(message: Message, row: FollowUp) -> tuple[Step, str, Action | None]:
    """The "did your MP reply?" step, once we asked, and what to do about it."""
    member = message.member_name
    asked = f"We asked whether {member} replied"
    if row.asked_again_at:
        asked += ", once more"
    elif row.reminded_at:
        asked += ", and reminded you"
    if row.answer:
        label = f"You told us: {ANSWER_LABELS[Answer(row.answer)]}"
        detail = asked + (". You shared the reply with the campaign." if row.reply_shared else ".")
        step = Step(label, row.answered_at, detail, Progress.CURRENT)
    else:
        step = Step(f"Did {member} reply?", row.asked_at, asked + ".", Progress.CURRENT)
    if may_answer(row) and not row.stop_asking:
        sentence = f"If {member} replies, tell us" if row.answer else f"Did {member} reply? Tell us"
        return step, sentence + ", so the campaign knows which offices answer.", Action.REPLY
    if row.stop_asking:
        stopped = Step(step.label, step.at, step.detail + " You asked us not to ask again.")
        return stopped, "Nothing to do: we will not ask again.", None
    return step, "Nothing to do: thank you for telling us.", None
