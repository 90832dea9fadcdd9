"""The letter page's status panel: where the letter is, the one thing to do next, and only
the notes that apply to this letter."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from letters import clock
from letters.campaigns import get_campaign
from letters.domain.compose import Recipient, Sender
from letters.domain.lifecycle import State
from letters.extensions import db
from letters.mail.content import notice_mark
from letters.messages.followups import Answer
from letters.messages.letters import letter_for
from letters.models import FollowUp, Message
from tests import factories
from tests.fakes.sendgrid import API_KEY
from tests.helpers import submit

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MEMBER = "Priya Nandakumar"  # the factories' member for Banksia


@pytest.fixture
def app(make_app, fake) -> Flask:
    """An app with a real email service (the fake SendGrid): no outbox note applies."""
    clock.freeze(START + 4 * HOUR)
    return make_app(SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=fake.url)


@dataclass(frozen=True)
class Panel:
    """The panel as a reader meets it."""

    steps: list[tuple[str, str]]  # (progress class, text), in order
    current: list[str]  # the text of each step marked aria-current="step"
    next: str
    action: str  # the panel's data-next: pdf, reply or none
    buttons: dict[str, str] = field(default_factory=dict)  # link text -> its classes
    links: dict[str, str] = field(default_factory=dict)  # link text -> its href
    notes: list[str] = field(default_factory=list)  # the data-note of each note in it
    text: str = ""


def _text(fragment: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", fragment).split()))


def _panel(page: str) -> Panel:
    found = re.findall(r'<section class="letter-status".*?</section>', page, re.S)
    assert len(found) == 1, "one status panel"
    section = found[0]
    items = re.findall(r'<li class="step-(\w+)"([^>]*)>(.*?)</li>', section, re.S)
    next_step = re.search(r'<p class="status-next" data-next="(\w+)">(.*?)</p>', section, re.S)
    assert next_step is not None
    anchors = re.findall(r'<a class="([^"]+)" href="([^"]+)"[^>]*>(.*?)</a>', section, re.S)
    return Panel(
        steps=[(progress, _text(body)) for progress, _, body in items],
        current=[_text(body) for _, attrs, body in items if 'aria-current="step"' in attrs],
        next=_text(next_step.group(2)),
        action=next_step.group(1),
        buttons={_text(label): classes for classes, _, label in anchors},
        links={_text(label): html.unescape(href) for _, href, label in anchors},
        notes=re.findall(r'data-note="([^"]+)"', section),
        text=_text(section),
    )


def _letter(**fields: Any) -> Message:
    return factories.message(**{"created_at": START, "recipient_email_verified": True, **fields})


def _asked(message: Message, **fields: Any) -> Message:
    db.session.add(FollowUp(message_id=message.id, asked_at=START + 14 * DAY, **fields))
    db.session.commit()
    return message


def _sent(**fields: Any) -> dict[str, Any]:
    return {
        "delivery": "email",
        "state": State.SENT,
        "confirmation_sent_at": START,
        "confirmed_at": START + HOUR,
        "queued_at": START + HOUR,
        "sent_at": START + 2 * HOUR,
        **fields,
    }


def _delivered(**fields: Any) -> dict[str, Any]:
    return _sent(state=State.DELIVERED, delivered_at=START + 3 * HOUR, **fields)


def _failed(state: State) -> dict[str, Any]:
    reason = {
        State.BOUNCED: "The member's mail server refused it.",
        State.DROPPED: "SendGrid would not deliver it.",
        State.FAILED: "SendGrid refused the letter.",
    }[state]
    sent_at = None if state == State.FAILED else START + 2 * HOUR
    return _sent(state=state, sent_at=sent_at, failed_at=START + 3 * HOUR, failure_reason=reason)


# Each case: the letter's fields (a callable for a follow-up), the step marked current, the
# panel's action, and words its one sentence must hold.
CASES: dict[str, tuple[Any, str, str, str]] = {
    "pdf": (
        {"delivery": "pdf", "state": State.DRAFT},
        "Print, sign and post it",
        "pdf",
        "fold it in three",
    ),
    "awaiting confirmation": (
        {"delivery": "email", "state": State.AWAITING_CONFIRMATION, "confirmation_sent_at": START},
        "Waiting for you to confirm",
        "none",
        "Check your email: open the link we emailed to",
    ),
    "over the weekly limit": (
        {"delivery": "email", "state": State.AWAITING_CONFIRMATION, "over_weekly_limit": True},
        "Not emailed: one emailed letter a week to each MP",
        "pdf",
        f"This letter will not be emailed: you already wrote to {MEMBER} this week",
    ),
    "expired": (
        {"delivery": "email", "state": State.EXPIRED, "confirmation_sent_at": START},
        "Not sent: the confirmation link expired",
        "pdf",
        "download the PDF to print and post it, or write the letter again",
    ),
    "queued": (
        _sent(state=State.QUEUED, sent_at=None),
        "Queued to send",
        "none",
        f"Nothing to do: we will email it to {MEMBER}",
    ),
    "sending, retrying": (
        _sent(state=State.SENDING, sent_at=None, failure_reason="retrying: HTTP 500"),
        "Sending is delayed; we will keep trying",
        "none",
        "Nothing to do: sending is delayed",
    ),
    "sent": (_sent(), f"Sent to {MEMBER}", "none", f"Nothing to do: {MEMBER}'s office has it."),
    "delivered": (
        _delivered(),
        "Delivered to the member's inbox",
        "none",
        f"Nothing to do: it is in {MEMBER}'s inbox.",
    ),
    "bounced": (_failed(State.BOUNCED), "Not delivered", "pdf", "print it and post it"),
    "dropped": (_failed(State.DROPPED), "Not delivered", "pdf", "print it and post it"),
    "failed": (_failed(State.FAILED), "Not delivered", "pdf", "print it and post it"),
    "spam reported": (
        _sent(state=State.SPAM_REPORTED),
        "The member's office marked the email as spam",
        "pdf",
        "It cannot go again by email",
    ),
    "asked whether the member replied": (
        lambda: _asked(_letter(**_delivered())),
        f"Did {MEMBER} reply?",
        "reply",
        f"Did {MEMBER} reply? Tell us",
    ),
    "told us of a real answer": (
        lambda: _asked(_letter(**_delivered()), answer=Answer.REAL, answered_at=START + 15 * DAY),
        "You told us: Yes, a real answer",
        "none",
        "Nothing to do: thank you for telling us.",
    ),
    "told us no reply yet": (
        lambda: _asked(_letter(**_sent()), answer=Answer.NO_REPLY, answered_at=START + 15 * DAY),
        "You told us: No reply yet",
        "reply",
        f"If {MEMBER} replies, tell us",
    ),
    "asked us not to ask again": (
        lambda: _asked(_letter(**_delivered()), stop_asking=True),
        f"Did {MEMBER} reply?",
        "none",
        "Nothing to do: we will not ask again.",
    ),
}


def _page(client: FlaskClient, message: Message, query: str = "") -> str:
    response = client.get(f"/letters/{message.token}{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("case", list(CASES))
def test_each_state_shows_its_step_and_its_next_action(app, case):
    fields, current, action, sentence = CASES[case]
    with app.app_context():
        message = fields() if callable(fields) else _letter(**fields)
        query = f"?notice={notice_mark(message)}" if message.over_weekly_limit else ""
        panel = _panel(_page(app.test_client(), message, query))
    assert len(panel.current) == 1, panel.steps
    assert panel.current[0].startswith(current), panel.current
    assert panel.action == action
    assert sentence in panel.next, panel.next
    # One sentence: a full stop only at its end.
    assert panel.next.endswith(".") and ". " not in panel.next.replace("“Send my letter”", "")
    # Steps before the current one are done, those after it still to come.
    progress = [p for p, _ in panel.steps]
    at = next(i for i, (_, text) in enumerate(panel.steps) if text == panel.current[0])
    assert progress[at] in ("current", "problem")
    assert set(progress[:at]) <= {"done"} and set(progress[at + 1 :]) <= {"todo"}
    assert panel.steps[0][1].startswith("Letter written")
    # The main action is the panel's one primary button.
    primary = [label for label, classes in panel.buttons.items() if "secondary" not in classes]
    assert primary == {"pdf": ["Download PDF"], "reply": ["Tell us"], "none": []}[action]
    if action == "reply":
        assert panel.links["Tell us"] == f"/letters/{message.token}/reply"
    # The PDF is always there, as the main action or beside it.
    assert "Download PDF" in panel.buttons


def test_an_email_letter_waiting_for_its_link_lists_the_steps_still_to_come(app):
    with app.app_context():
        message = _letter(
            delivery="email",
            state=State.AWAITING_CONFIRMATION,
            confirmation_sent_at=START,
            reminder_sent_at=START + DAY,
        )
        panel = _panel(_page(app.test_client(), message))
    assert [p for p, _ in panel.steps] == ["done", "current", "todo", "todo", "todo"]
    assert [text for _, text in panel.steps[2:]] == ["Queued", "Sent", "Delivered"]
    assert f"We emailed the link to {message.sender_email}, and a reminder." in panel.current[0]


def test_a_sent_letter_says_when_and_where_each_step_happened(app):
    with app.app_context():
        message = _letter(**_delivered())
        panel = _panel(_page(app.test_client(), message))
    texts = [text for _, text in panel.steps]
    assert texts[0] == "Letter written 2 March 2026, 8:00 pm"  # Sydney's evening
    assert texts[1] == "You confirmed 2 March 2026, 9:00 pm"
    assert texts[3] == f"Sent to {MEMBER} 2 March 2026, 10:00 pm {message.recipient_email}"
    assert texts[4] == "Delivered to the member's inbox 2 March 2026, 11:00 pm"


def test_a_letter_waiting_past_its_window_reads_as_expired_before_the_sweep(app):
    with app.app_context():
        message = _letter(
            delivery="email", state=State.AWAITING_CONFIRMATION, confirmation_sent_at=START
        )
        before = _panel(_page(app.test_client(), message))
        clock.advance(app.config["CONFIRM_EXPIRE_AFTER_HOURS"] * HOUR)
        after = _panel(_page(app.test_client(), message))
    assert before.current[0].startswith("Waiting for you to confirm")
    assert after.current[0].startswith("Not sent: the confirmation link expired")
    assert after.action == "pdf" and message.state == State.AWAITING_CONFIRMATION


def test_a_bounce_says_why_and_keeps_our_question_as_history(app):
    with app.app_context():
        message = _asked(_letter(**_failed(State.BOUNCED)))
        panel = _panel(_page(app.test_client(), message))
    assert panel.current == [
        "Not delivered 2 March 2026, 11:00 pm The member's mail server refused it."
    ]
    assert panel.action == "pdf"
    assert panel.steps[-1][0] == "done" and panel.steps[-1][1].startswith(f"Did {MEMBER} reply?")


# --- notes that don't apply are not shown --------------------------------------------------


def test_the_unconfirmed_address_is_said_only_where_the_letter_goes_to_it(app):
    client = app.test_client()
    with app.app_context():
        waiting = {"delivery": "email", "state": State.AWAITING_CONFIRMATION}
        unconfirmed = _panel(_page(client, _letter(**waiting, recipient_email_verified=False)))
        confirmed = _panel(_page(client, _letter(**waiting)))
        sent = _panel(_page(client, _letter(**_sent(recipient_email_verified=False))))
        expired = _letter(delivery="email", state=State.EXPIRED, recipient_email_verified=False)
        over = _letter(**waiting, recipient_email_verified=False, over_weekly_limit=True)
        gone = [
            _panel(_page(client, expired)),
            _panel(_page(client, over, f"?notice={notice_mark(over)}")),
        ]
    assert unconfirmed.notes == ["unconfirmed-address"] and sent.notes == ["unconfirmed-address"]
    assert "the usual parliamentary address pattern" in unconfirmed.text
    assert confirmed.notes == [] and "usual parliamentary" not in confirmed.text
    assert all(panel.notes == [] for panel in gone)


def test_the_outbox_note_is_for_email_letters_on_a_site_without_an_email_service(make_app):
    app = make_app()  # no SendGrid key: emails go to the outbox
    client = app.test_client()
    with app.app_context():
        emailed = _letter(delivery="email")
        printed = _letter(delivery="pdf")
        assert _panel(_page(client, emailed)).notes == ["outbox"]
        assert _panel(_page(client, printed)).notes == []


def test_a_pdf_letter_has_none_of_the_email_notes(app):
    with app.app_context():
        page = _page(app.test_client(), _letter(delivery="pdf", recipient_email_verified=False))
    panel = _panel(page)
    assert panel.notes == [] and [p for p, _ in panel.steps] == ["done", "current"]
    for email_only in ("Check your email", "will not be emailed", "usual parliamentary"):
        assert email_only not in page


def test_the_weekly_limit_is_said_only_from_the_notice(app):
    client = app.test_client()
    with app.app_context():
        over = _letter(
            delivery="email",
            state=State.AWAITING_CONFIRMATION,
            over_weekly_limit=True,
        )
        plain = _panel(_page(client, over))
        forged = _panel(_page(client, over, "?notice=x"))
    for panel in (plain, forged):
        assert panel.current[0].startswith("Waiting for you to confirm")
        assert "Check your email" in panel.next and "will not be emailed" not in panel.text


def test_thanks_and_the_locked_note_only_when_they_happened(app):
    client = app.test_client()
    with app.app_context():
        message = _asked(_letter(**_delivered()), answer=Answer.REAL, answered_at=clock.now())
        plain = _page(client, message)
        answered = _page(client, message, "?answered=1")
        locked = _page(client, message, "?locked=1")
    assert "your answer is recorded" not in plain and "can no longer be changed" not in plain
    assert "Thank you: your answer is recorded." in _panel(answered).text
    assert "can no longer be changed" in _panel(locked).text


def test_the_nudge_is_only_for_a_letter_that_can_still_change(app_with_data):
    client = app_with_data.test_client()
    response = submit(client, delivery="email", postcode="2001")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert len(re.findall(r"data-nudge=", page)) == 1
    # After the letter, not between the panel and it; and no yellow note stands before it.
    letter_at = page.index('class="letter-preview"')
    assert page.index("data-nudge=") > letter_at
    assert 'class="note' not in page[:letter_at] and 'class="nudge' not in page[:letter_at]
    with app_with_data.app_context():
        sent = factories.message(**_sent(division="Banksia"))
        assert "data-nudge" not in _page(client, sent)


def test_an_email_letter_is_shown_as_emailed_without_the_postal_address(app_with_data):
    client = app_with_data.test_client()
    with app_with_data.app_context():
        pages = {}
        for delivery in ("pdf", "email"):
            message = factories.message(delivery=delivery, division="Banksia")
            recipient = letter_for(message, get_campaign(message.campaign_key)).recipient
            pages[delivery] = _page(client, message)
        last_line = recipient.address_lines[-1]
    assert last_line in pages["pdf"]
    assert last_line not in pages["email"]


def test_a_stored_letter_is_from_its_sender_as_they_typed_themselves_in(app):
    typed = {
        "name": "Jane Citizen",
        "street": "4 Wattle Lane",
        "suburb": "Braddon",
        "state": "ACT",
        "postcode": "2612",
        "email": "jane@example.org",
    }
    with app.app_context():
        message = factories.message(**{f"sender_{key}": value for key, value in typed.items()})
        sender = letter_for(message, get_campaign(message.campaign_key)).sender
    assert sender == Sender(**typed)


def test_a_stored_letter_is_to_the_member_it_was_settled_on(app):
    with app.app_context():
        message = factories.message(
            division="Banksia",
            division_state="NSW",
            member_name="Priya Nandakumar",
            member_party="IND",
            member_salutation="Dr Nandakumar",
        )
        recipient = letter_for(message, get_campaign(message.campaign_key)).recipient
    assert recipient == Recipient(
        name="Priya Nandakumar",
        division="Banksia",
        state="NSW",
        party="IND",
        salutation="Dr Nandakumar",
    )
