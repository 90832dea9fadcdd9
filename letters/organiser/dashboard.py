"""The organiser's dashboard: a campaign from letter to answer, counted in SQL.

Every figure is an aggregate the database computes in a few statements, whatever the number
of letters (benchmarks/dashboard.py measures it at 100,000). Nothing here names a supporter:
organisers see counts, states and members, never who wrote.

Letters are of two kinds: supporters' own (Message rows, written on the site and emailed or
printed by the supporter) and event letters (Attendee rows, printed by the organiser). An
event filter keeps only that event's letters, which are printed, never emailed; those whose
attendees agreed to be asked are followed up like emailed letters, and their answers count
in the same steps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, case, false, func, select, true

from letters.domain.lifecycle import State
from letters.domain.print_runs import PrintRunState
from letters.extensions import db
from letters.messages.followups import Answer
from letters.models import Attendee, BatchJob, ContactStatus, Event, FollowUp, Message

# The states in which SendGrid had taken the letter (it was sent, whatever came after).
SENT_STATES = (
    State.SENT.value,
    State.DELIVERED.value,
    State.BOUNCED.value,
    State.DROPPED.value,
    State.SPAM_REPORTED.value,
)
NOT_DELIVERED = (State.BOUNCED.value, State.DROPPED.value)
# A print run whose files were made: its attendees' letters were printed.
PRINTED_RUNS = (PrintRunState.DONE.value, PrintRunState.EXPIRED.value)


@dataclass(frozen=True)
class Filters:
    """What the organiser asked to see: one campaign, optionally one event and some dates."""

    campaign: str
    organiser_id: int
    event_id: int | None = None
    since: dt.date | None = None  # letters dated on or after
    until: dt.date | None = None  # letters dated on or before


@dataclass
class Step:
    """One step of the funnel, and the share of the step it follows from."""

    key: str
    label: str
    count: int
    of: int | None = None  # the count this one is a part of, for its percentage

    @property
    def share(self) -> float | None:
        return self.count / self.of if self.of else None


@dataclass
class Dashboard:
    filters: Filters
    funnel: list[Step]
    by_state: list[tuple[str, int]]
    by_division: list[tuple[str, str, int]]  # division, member, letters
    by_party: list[tuple[str, int]]
    per_day: list[tuple[dt.date, int]]
    bouncing: list[tuple[str, str, str]]  # division, address, why
    events: list[tuple[int, str]] = field(default_factory=list)

    @property
    def funnel_bars(self) -> list[tuple[str, int]]:
        return [(step.label, step.count) for step in self.funnel]

    @property
    def by_division_top(self) -> list[tuple[str, int]]:
        return [(f"{member} ({division})", n) for division, member, n in self.by_division[:15]]

    @property
    def per_day_labels(self) -> list[tuple[str, int]]:
        return [(day.isoformat(), n) for day, n in self.per_day[-31:]]

    def step(self, key: str) -> int:
        return next(step.count for step in self.funnel if step.key == key)


def _utc_bounds(filters: Filters) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The date range as instants: from the start of `since` to the end of `until`, local."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    start = (
        dt.datetime.combine(filters.since, dt.time(), zone).astimezone(dt.UTC)
        if filters.since
        else None
    )
    end = (
        dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time(), zone).astimezone(
            dt.UTC
        )
        if filters.until
        else None
    )
    return start, end


def message_scope(filters: Filters) -> list[ColumnElement[bool]]:
    """The supporters' letters the filters keep (none, for an event: those are printed)."""
    if filters.event_id is not None:
        return [false()]
    conditions: list[ColumnElement[bool]] = [Message.campaign_key == filters.campaign]
    if filters.since:
        conditions.append(Message.letter_date >= filters.since)
    if filters.until:
        conditions.append(Message.letter_date <= filters.until)
    return conditions


def attendee_scope(filters: Filters) -> list[ColumnElement[bool]]:
    """The event letters the filters keep: the organiser's own events only."""
    events = select(Event.id).where(
        Event.organiser_id == filters.organiser_id,
        Event.campaign_key == filters.campaign,
        Event.id == filters.event_id if filters.event_id is not None else true(),
        Event.date >= filters.since if filters.since else true(),
        Event.date <= filters.until if filters.until else true(),
    )
    return [Attendee.event_id.in_(events)]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def funnel(filters: Filters) -> list[Step]:
    """written → emailed / printed → confirmed → sent → delivered / bounced → asked →
    answered → replied: three statements."""
    m = db.session.execute(
        select(
            func.count(Message.id),
            _count(Message.delivery == "email"),
            _count(Message.delivery == "pdf"),
            _count(Message.confirmed_at.is_not(None)),
            _count(Message.state.in_(SENT_STATES)),
            _count(Message.state == State.DELIVERED.value),
            _count(Message.state.in_(NOT_DELIVERED)),
        ).where(*message_scope(filters))
    ).one()
    f = follow_up_counts(filters)
    printed_run = (
        select(BatchJob.id)
        .where(BatchJob.event_id == Attendee.event_id, BatchJob.state.in_(PRINTED_RUNS))
        .exists()
    )
    a = db.session.execute(
        select(func.count(Attendee.id), _count(printed_run)).where(*attendee_scope(filters))
    ).one()
    written, emailed, to_print, confirmed, sent, delivered, bounced = m
    asked, answered, replied = f
    attendees, printed_at_events = a
    total = written + attendees
    return [
        Step("written", "Letters written", total),
        Step("emailed", "To be emailed", emailed, total),
        Step(
            "printed", "To print (supporters' PDFs and event letters)", to_print + attendees, total
        ),
        Step("printed_at_events", "Printed at events", printed_at_events, attendees),
        Step("confirmed", "Confirmed by their writer", confirmed, emailed),
        Step("sent", "Sent to the member", sent, confirmed),
        Step("delivered", "Delivered", delivered, sent),
        Step("bounced", "Bounced or dropped", bounced, sent),
        # Emailed letters that went, and letters printed for attendees who agreed to be asked.
        Step("asked", "Asked whether the member replied", asked, sent + printed_at_events),
        Step("answered", "Answered", answered, asked),
        Step("replied", "A real reply from the member", replied, answered),
    ]


def _answers() -> tuple[ColumnElement[int], ...]:
    """asked, answered, replied: over the follow_up rows a statement joins."""
    return (
        func.count(FollowUp.asked_at),
        _count(FollowUp.answer != ""),
        _count(FollowUp.answer == Answer.REAL.value),
    )


def follow_up_counts(filters: Filters) -> tuple[int, int, int]:
    """Asked, answered, replied: of supporters' emailed letters and of event letters whose
    attendees agreed to be asked, one statement each."""
    letters = db.session.execute(
        select(*_answers())
        .join(Message, Message.id == FollowUp.message_id)
        .where(*message_scope(filters))
    ).one()
    printed = db.session.execute(
        select(*_answers())
        .join(Attendee, Attendee.id == FollowUp.attendee_id)
        .where(*attendee_scope(filters))
    ).one()
    asked, answered, replied = (a + b for a, b in zip(letters, printed, strict=True))
    return asked, answered, replied


def build(filters: Filters) -> Dashboard:
    """Everything the page shows, for these filters."""
    by_state = db.session.execute(
        select(Message.state, func.count())
        .where(*message_scope(filters))
        .group_by(Message.state)
        .order_by(func.count().desc(), Message.state)
    ).all()
    divisions: dict[tuple[str, str], int] = {}
    for division, member, count in db.session.execute(
        select(Message.division, Message.member_name, func.count())
        .where(*message_scope(filters))
        .group_by(Message.division, Message.member_name)
    ):
        divisions[(division, member)] = divisions.get((division, member), 0) + count
    for division, member, count in db.session.execute(
        select(Attendee.division, Attendee.member_name, func.count())
        .where(*attendee_scope(filters), Attendee.division != "")
        .group_by(Attendee.division, Attendee.member_name)
    ):
        divisions[(division, member)] = divisions.get((division, member), 0) + count
    parties: dict[str, int] = {}
    for model in (Message, Attendee):
        scope = message_scope(filters) if model is Message else attendee_scope(filters)
        for party, count in db.session.execute(
            select(model.member_party, func.count())
            .where(*scope, model.division != "")
            .group_by(model.member_party)
        ):
            parties[party or "Independent or unknown"] = (
                parties.get(party or "Independent or unknown", 0) + count
            )
    days: dict[dt.date, int] = {}
    for day, count in db.session.execute(
        select(Message.letter_date, func.count())
        .where(*message_scope(filters))
        .group_by(Message.letter_date)
    ):
        days[day] = days.get(day, 0) + count
    for day, count in db.session.execute(
        select(Event.date, func.count(Attendee.id))
        .join(Attendee, Attendee.event_id == Event.id)
        .where(*attendee_scope(filters))
        .group_by(Event.date)
    ):
        days[day] = days.get(day, 0) + count
    bouncing = db.session.execute(
        select(ContactStatus.division, ContactStatus.email, ContactStatus.reason)
        .where(ContactStatus.failing.is_(True))
        .order_by(ContactStatus.division)
    ).all()
    events = event_choices(filters.organiser_id, filters.campaign)
    return Dashboard(
        filters=filters,
        funnel=funnel(filters),
        by_state=[(state, count) for state, count in by_state],
        by_division=sorted(
            ((d, m, n) for (d, m), n in divisions.items()), key=lambda row: (-row[2], row[0])
        ),
        by_party=sorted(parties.items(), key=lambda row: (-row[1], row[0])),
        per_day=sorted(days.items()),
        bouncing=[(d, e, r) for d, e, r in bouncing],
        events=[(i, n) for i, n in events],
    )


def event_choices(organiser_id: int, campaign: str) -> list[tuple[int, str]]:
    """The organiser's events of this campaign, newest first."""
    rows = db.session.execute(
        select(Event.id, Event.name, Event.date)
        .where(Event.organiser_id == organiser_id, Event.campaign_key == campaign)
        .order_by(Event.date.desc(), Event.id.desc())
    ).all()
    return [(i, f"{name} ({day.isoformat()})") for i, name, day in rows]


# --- exports ----------------------------------------------------------------------------------

LETTER_COLUMNS = (
    "letter_date", "kind", "division", "member", "party", "delivery", "state",
    "confirmed_at", "sent_at", "delivered_at", "follow_up_answer", "answered_at",
)  # fmt: skip


def letter_rows(filters: Filters, *, bodies: bool = False) -> Iterator[list[object]]:
    """One row a letter, streamed from the database in batches; own words only if asked for,
    and only while they are kept (a scrubbed letter's are gone)."""
    query = (
        select(
            Message.letter_date,
            Message.division,
            Message.member_name,
            Message.member_party,
            Message.delivery,
            Message.state,
            Message.confirmed_at,
            Message.sent_at,
            Message.delivered_at,
            FollowUp.answer,
            FollowUp.answered_at,
            Message.personal_note,
        )
        .outerjoin(FollowUp, FollowUp.message_id == Message.id)
        .where(*message_scope(filters))
        .order_by(Message.letter_date, Message.id)
        .execution_options(yield_per=1000)
    )
    for row in db.session.execute(query):
        *values, note = row
        date, division, member, party, delivery, state, *rest = values
        out = [date, "supporter", division, member, party, delivery, state, *rest]
        yield [*out, note] if bodies else out
    events = (
        select(
            Event.date,
            Attendee.division,
            Attendee.member_name,
            Attendee.member_party,
            FollowUp.answer,
            FollowUp.answered_at,
            Attendee.personal_note,
        )
        .join(Event, Event.id == Attendee.event_id)
        .outerjoin(FollowUp, FollowUp.attendee_id == Attendee.id)
        .where(*attendee_scope(filters))
        .order_by(Event.date, Attendee.id)
        .execution_options(yield_per=1000)
    )
    for date, division, member, party, answer, answered_at, note in db.session.execute(events):
        out = [date, "event", division, member, party, "print", "", "", "", "", answer, answered_at]
        yield [*out, note] if bodies else out


DIVISION_COLUMNS = ("division", "member", "letters", "sent", "delivered", "bounced", "asked",
                    "answered", "real_replies")  # fmt: skip


def division_rows(filters: Filters) -> Iterator[list[object]]:
    """Per member: the funnel's main steps, one grouped statement (plus event letters)."""
    # Event letters per member: how many, and their follow-ups' asked, answered, replied.
    events: dict[tuple[str, str], tuple[int, int, int, int]] = {
        (division, member): (count, asked, answered, replied)
        for division, member, count, asked, answered, replied in db.session.execute(
            select(Attendee.division, Attendee.member_name, func.count(Attendee.id), *_answers())
            .outerjoin(FollowUp, FollowUp.attendee_id == Attendee.id)
            .where(*attendee_scope(filters), Attendee.division != "")
            .group_by(Attendee.division, Attendee.member_name)
        )
    }
    rows = db.session.execute(
        select(
            Message.division,
            Message.member_name,
            func.count(Message.id),
            _count(Message.state.in_(SENT_STATES)),
            _count(Message.state == State.DELIVERED.value),
            _count(Message.state.in_(NOT_DELIVERED)),
            *_answers(),
        )
        .outerjoin(FollowUp, FollowUp.message_id == Message.id)
        .where(*message_scope(filters))
        .group_by(Message.division, Message.member_name)
        .order_by(Message.division)
    ).all()
    seen = set()
    for division, member, letters, sent, delivered, bounced, *answers in rows:
        seen.add((division, member))
        count, *printed = events.get((division, member), (0, 0, 0, 0))
        yield [
            division,
            member,
            letters + count,
            sent,
            delivered,
            bounced,
            *(a + b for a, b in zip(answers, printed, strict=True)),
        ]
    for (division, member), (count, *printed) in sorted(events.items()):
        if (division, member) not in seen:
            yield [division, member, count, 0, 0, 0, *printed]


ANSWER_COLUMNS = ("letter_date", "division", "member", "answer", "answered_at", "shared_reply")


def answer_rows(filters: Filters) -> Iterator[list[object]]:
    """Every follow-up answer; a reply's text only when its writer shared it."""
    query = (
        select(
            Message.letter_date,
            Message.division,
            Message.member_name,
            FollowUp.answer,
            FollowUp.answered_at,
            case((FollowUp.reply_shared, FollowUp.reply_text), else_=""),
        )
        .join(Message, Message.id == FollowUp.message_id)
        .where(*message_scope(filters), FollowUp.answer != "")
        .order_by(FollowUp.answered_at)
        .execution_options(yield_per=1000)
    )
    for row in db.session.execute(query):
        yield list(row)
    printed = (
        select(
            Event.date,
            Attendee.division,
            Attendee.member_name,
            FollowUp.answer,
            FollowUp.answered_at,
            case((FollowUp.reply_shared, FollowUp.reply_text), else_=""),
        )
        .join(Attendee, Attendee.id == FollowUp.attendee_id)
        .join(Event, Event.id == Attendee.event_id)
        .where(*attendee_scope(filters), FollowUp.answer != "")
        .order_by(FollowUp.answered_at)
        .execution_options(yield_per=1000)
    )
    for row in db.session.execute(printed):
        yield list(row)
