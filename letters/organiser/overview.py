"""What organisers see of supporters' letters: per member, counts and form-letter share.

Only counts and states, never a supporter's details: organisers don't own these letters.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from letters import clock
from letters.contacts import contact_for
from letters.domain.lifecycle import State
from letters.domain.similarity import NEAR_IDENTICAL
from letters.extensions import db
from letters.models import ContactStatus, Message

WINDOW = dt.timedelta(weeks=4)
UNDELIVERED = {State.BOUNCED.value, State.DROPPED.value, State.FAILED.value}


@dataclass
class MemberRow:
    """One member's letters in the last four weeks."""

    division: str
    member: str
    letters: int = 0
    printed: int = 0
    emailed: int = 0
    delivered: int = 0
    undelivered: int = 0
    near_identical: int = 0
    email: str = ""
    email_verified: bool = False
    email_failing: str = ""  # why, when a hard bounce marked the address as failing

    @property
    def near_identical_share(self) -> float:
        return self.near_identical / self.letters if self.letters else 0.0


def _near_identical(shingle_sets: list[set[int]]) -> int:
    """How many letters share half or more of their shingles with the member's other letters."""
    seen_in = Counter(s for shingles in shingle_sets for s in shingles)
    count = 0
    for shingles in shingle_sets:
        if shingles:
            shared = sum(1 for s in shingles if seen_in[s] > 1)
            count += shared / len(shingles) >= NEAR_IDENTICAL
    return count


def members_overview(now: dt.datetime | None = None) -> list[MemberRow]:
    """Every member written to in the last four weeks, most letters first."""
    since = (now or clock.now()) - WINDOW
    rows: dict[str, MemberRow] = {}
    shingles: dict[str, list[set[int]]] = {}
    for division, member, delivery, state, letter_shingles in db.session.execute(
        select(
            Message.division,
            Message.member_name,
            Message.delivery,
            Message.state,
            Message.shingles,
        ).where(Message.created_at >= since, Message.state != State.EXPIRED.value)
    ):
        row = rows.setdefault(division, MemberRow(division=division, member=member))
        row.letters += 1
        row.printed += delivery == "pdf"
        row.emailed += delivery == "email" and state not in (State.AWAITING_CONFIRMATION.value,)
        row.delivered += state == State.DELIVERED.value
        row.undelivered += state in UNDELIVERED
        shingles.setdefault(division, []).append(set(letter_shingles or ()))
    failing = {c.division: c for c in db.session.scalars(select(ContactStatus)).all() if c.failing}
    contacts_file = current_app.config["CONTACTS_FILE"]
    for division, row in rows.items():
        row.near_identical = _near_identical(shingles[division])
        contact = contact_for(contacts_file, division, row.member)
        row.email, row.email_verified = contact.email, contact.verified
        if division in failing:
            row.email_failing = failing[division].reason or "hard bounce"
    return sorted(rows.values(), key=lambda r: (-r.letters, r.division))
