"""Erasing one supporter's details on request, by their email address, before retention would.

An organiser types the address; find() lists what would go, erase() removes it in one
transaction, the way retention does (letters/retention.py: the same UPDATEs), so counts, states
and follow-up answers stay and the dashboard's history stays true.

What an address reaches:
- every letter written from that mailbox, however it was spelt (letters/mail/address_keys.py),
  whoever's campaign: letters belong to no organiser;
- the attendees with that address at the organiser's own events. Other organisers' events are
  theirs: they are neither touched nor counted (see find()).

Letters still on their way:
- waiting for their confirmation: expired first, so the link sends nothing;
- queued: failed first ("withdrawn"), so no worker sends them after the supporter asked;
- being sent right now (a worker holds them under a lease, and the email may already be with
  SendGrid): kept as they are, and said so; once sent (or back in the queue to retry), they
  can be erased like the rest. Removing their details mid-send would not stop the email, only
  the record of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select

from letters import clock
from letters.domain.lifecycle import State
from letters.domain.print_runs import UNFINISHED, PrintRunState
from letters.extensions import db
from letters.mail.address_keys import address_key
from letters.messages.states import transition
from letters.models import Attendee, BatchJob, Event, FollowUp, Message
from letters.retention import (
    remove_attendee_details,
    remove_letter_details,
    remove_print_files,
    remove_unneeded_print_folders,
    stop_print_runs,
)

log = logging.getLogger(__name__)

WITHDRAWN = "withdrawn: the supporter asked for their details to be erased before it was sent"


@dataclass(frozen=True)
class LetterItem:
    """One letter an erasure reaches, as the organiser is shown it (nothing the supporter
    typed: the address is what the organiser typed, and the rest goes)."""

    id: uuid.UUID
    letter_date: dt.date
    member: str
    division: str
    delivery: str
    state: str
    answer: str  # the follow-up answer, kept; "" for none
    has_reply: bool  # a pasted reply, removed

    @property
    def in_flight(self) -> bool:
        """Being sent right now: kept until it has gone (see the module's docstring)."""
        return self.state == State.SENDING.value

    @property
    def cancelled(self) -> bool:
        """Not sent yet: stopped before its details go."""
        return self.state in (State.AWAITING_CONFIRMATION.value, State.QUEUED.value)


@dataclass(frozen=True)
class AttendeeItem:
    """One attendee row at one of the organiser's events."""

    id: int
    event_id: int
    event_name: str
    event_date: dt.date
    member: str
    division: str


@dataclass(frozen=True)
class PrintRunItem:
    """A print run of an affected event: its files hold a copy of the attendee's letter."""

    id: uuid.UUID
    event_name: str
    state: str


@dataclass
class Found:
    """What erasing an address would remove now."""

    letters: list[LetterItem] = field(default_factory=list)
    attendees: list[AttendeeItem] = field(default_factory=list)
    print_runs: list[PrintRunItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.letters and not self.attendees

    @property
    def erasable_letters(self) -> list[LetterItem]:
        return [letter for letter in self.letters if not letter.in_flight]

    @property
    def in_flight(self) -> list[LetterItem]:
        return [letter for letter in self.letters if letter.in_flight]

    @property
    def replies(self) -> int:
        return sum(letter.has_reply for letter in self.erasable_letters)

    @property
    def digest(self) -> str:
        """Names exactly this list: a confirmation for it erases only while it is unchanged.

        Built from row ids and states, nothing personal (it travels in the confirm form).
        """
        parts = sorted(f"m:{letter.id}:{letter.state}" for letter in self.letters)
        parts += sorted(f"a:{attendee.id}" for attendee in self.attendees)
        parts += sorted(f"p:{run.id}:{run.state}" for run in self.print_runs)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Erased:
    """What one erasure changed, as counts (what the log line and the result page say)."""

    letters: int = 0
    cancelled: int = 0  # of which were stopped before being sent
    replies: int = 0
    attendees: int = 0
    print_runs: int = 0  # print runs whose files were removed or that were stopped
    kept_in_flight: int = 0  # letters being sent right now, left as they were


def mailbox_keys(address: str) -> list[str]:
    """The keys the address's letters may carry: the mailbox's, and (for letters written
    before keys took tags and dots into account) the address in lower case, trimmed."""
    return sorted({address_key(address), address.strip().lower()})


def _letters(address: str) -> list[LetterItem]:
    rows = db.session.execute(
        select(
            Message.id,
            Message.letter_date,
            Message.member_name,
            Message.division,
            Message.delivery,
            Message.state,
            FollowUp.answer,
            FollowUp.reply_text != "",
        )
        .outerjoin(FollowUp, FollowUp.message_id == Message.id)
        .where(Message.sender_email_key.in_(mailbox_keys(address)), Message.scrubbed_at.is_(None))
        .order_by(Message.letter_date, Message.created_at)
    ).all()
    return [
        LetterItem(
            id=row[0],
            letter_date=row[1],
            member=row[2],
            division=row[3],
            delivery=row[4],
            state=row[5],
            answer=row[6] or "",
            has_reply=bool(row[7]),
        )
        for row in rows
    ]


def _attendees(address: str, organiser_id: int) -> list[AttendeeItem]:
    # Attendees carry no mailbox key, so the organiser's own attendees with an address are
    # compared here. Their events' details go some weeks after each event, so these are few.
    key = address_key(address)
    rows = db.session.execute(
        select(
            Attendee.id,
            Attendee.email,
            Event.id,
            Event.name,
            Event.date,
            Attendee.member_name,
            Attendee.division,
        )
        .join(Event, Event.id == Attendee.event_id)
        .where(Event.organiser_id == organiser_id, Attendee.email != "")
        .order_by(Event.date, Attendee.id)
    ).all()
    return [
        AttendeeItem(id, event_id, name, date, member, division)
        for id, email, event_id, name, date, member, division in rows
        if address_key(email) == key
    ]


def _print_runs(event_ids: set[int]) -> list[PrintRunItem]:
    if not event_ids:
        return []
    states = sorted({*UNFINISHED, PrintRunState.DONE})
    rows = db.session.execute(
        select(BatchJob.id, Event.name, BatchJob.state)
        .join(Event, Event.id == BatchJob.event_id)
        .where(BatchJob.event_id.in_(event_ids), BatchJob.state.in_(states))
        .order_by(BatchJob.created_at)
    ).all()
    return [PrintRunItem(id, name, state) for id, name, state in rows]


def find(address: str, organiser_id: int) -> Found:
    """What erasing `address` would remove now, for this organiser.

    Attendees at other organisers' events are left out, and not even counted: a count would
    tell any organiser who types an address which other organisers' events its owner went to.
    Those organisers erase on request themselves, and every event's details go on their own
    some weeks after it (KEEP_EVENT_DATA_DAYS).
    """
    attendees = _attendees(address, organiser_id)
    return Found(
        letters=_letters(address),
        attendees=attendees,
        print_runs=_print_runs({attendee.event_id for attendee in attendees}),
    )


def erase(address: str, organiser_id: int, now: dt.datetime | None = None) -> Erased:
    """Remove everything find() lists, in one transaction, and log what went, as counts."""
    now = now or clock.now()
    found = find(address, organiser_id)
    ids = [letter.id for letter in found.letters]
    mine = Message.id.in_(ids)
    # The gate's conditional UPDATEs: a letter a worker took meanwhile is no longer queued,
    # so it is not cancelled, and the scrub below leaves it (it is sending).
    cancelled = db.session.execute(
        transition(State.EXPIRED, sources={State.AWAITING_CONFIRMATION}).where(mine)
    ).rowcount
    cancelled += db.session.execute(
        transition(State.FAILED, sources={State.QUEUED})
        .where(mine)
        .values(failed_at=now, failure_reason=WITHDRAWN, next_attempt_at=None)
    ).rowcount
    replies = int(
        db.session.scalar(
            select(func.count())
            .select_from(FollowUp)
            .join(Message, Message.id == FollowUp.message_id)
            .where(mine, Message.state != State.SENDING.value, FollowUp.reply_text != "")
        )
        or 0
    )
    letters = remove_letter_details(
        and_(mine, Message.state != State.SENDING.value, Message.scrubbed_at.is_(None)), now
    )
    kept = int(
        db.session.scalar(
            select(func.count()).select_from(Message).where(mine, Message.scrubbed_at.is_(None))
        )
        or 0
    )
    # Asked to erase, nothing is kept for a follow-up: without an email none is sent.
    attendees = remove_attendee_details(
        Attendee.id.in_([a.id for a in found.attendees]), now, keep_for_follow_up=False
    )
    runs = BatchJob.id.in_([run.id for run in found.print_runs])
    # Their files hold a copy of the attendee's letter; the gate picks the unfinished runs to
    # stop and the finished ones whose files go.
    print_runs = stop_print_runs(runs, now) + remove_print_files(runs, now)
    db.session.commit()
    if print_runs:
        remove_unneeded_print_folders()
    erased = Erased(
        letters=letters,
        cancelled=cancelled,
        replies=replies,
        attendees=attendees,
        print_runs=print_runs,
        kept_in_flight=kept,
    )
    # Counts and the organiser's id only: the address, even hashed, would outlive the erasure.
    log.info(
        "erased a supporter's details on request",
        extra={
            "organiser_id": organiser_id,
            "letters": erased.letters,
            "letters_cancelled": erased.cancelled,
            "replies": erased.replies,
            "attendees": erased.attendees,
            "print_runs": erased.print_runs,
            "kept_in_flight": erased.kept_in_flight,
        },
    )
    return erased
