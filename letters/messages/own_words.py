"""The supporters' own words, filed as shingles and compared with other letters to a member.

Each letter's own-words shingles are rows of `own_words_shingle`, indexed by division and
shingle, so comparing a letter with every recent letter to its member is one aggregate query
that probes the index once per shingle, however many letters that member has. Only counts come
back: nothing of another supporter's words ever leaves the database.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from letters import clock
from letters.domain.own_words import LARGELY_SHARED, Nudge, judge, shingles
from letters.extensions import db
from letters.models import Message, OwnWordsShingle

WINDOW = dt.timedelta(weeks=4)  # the recent letters a letter is compared with
SAMPLE = 100  # about how many shingles the letter page probes, at most


def record(message: Message) -> None:
    """File the letter's own-words shingles under its division, replacing any it had.

    Flushes the session first, so a new letter has its id and creation time."""
    new = message.id is None  # a letter not yet stored has no rows to replace
    db.session.flush()
    if not new:
        db.session.execute(delete(OwnWordsShingle).where(OwnWordsShingle.message_id == message.id))
    rows = [
        {
            "message_id": message.id,
            "shingle": shingle,
            "division": message.division,
            "written_at": message.created_at,
        }
        for shingle in shingles(message.personal_note)
    ]
    if rows:
        db.session.execute(insert(OwnWordsShingle), rows)


def _shared_elsewhere(mine: Any, since: Any) -> ColumnElement[bool]:
    """This row's shingle is in another recent letter to the same division."""
    other = aliased(OwnWordsShingle)
    return exists().where(
        other.division == mine.division,
        other.shingle == mine.shingle,
        other.written_at >= since,
        other.message_id != mine.message_id,
    )


@functools.cache
def _overlap_query(sampled: bool) -> Select[tuple[int, int]]:
    """The letter page's one statement, built once (building it costs more than running it)."""
    mine = aliased(OwnWordsShingle)
    query = select(
        func.count(), func.count(case((_shared_elsewhere(mine, bindparam("since")), 1)))
    ).where(mine.message_id == bindparam("message_id"))
    if sampled:
        query = query.where(mine.shingle % bindparam("step") == 0)
    return query


def overlap(message: Message, now: dt.datetime | None = None) -> tuple[int, int]:
    """(shared, total): how many of the letter's own shingles other letters to the same member
    from the last four weeks hold, and how many it has (or of a sample of them: see below)."""
    own = len(shingles(message.personal_note))
    if not own:
        return 0, 0  # nothing of their own to compare: no need to ask the database
    # A long text is judged by an even sample of its shingles (those whose hash is a multiple
    # of `step`), which estimates the shared share as well and keeps the cost of 2,000
    # characters near that of two sentences: each shingle is one probe of the index.
    step = math.ceil(own / SAMPLE)
    since = (now or clock.now()) - WINDOW
    total, shared = db.session.execute(
        _overlap_query(step > 1), {"message_id": message.id, "since": since, "step": step}
    ).one()
    return int(shared), int(total)


def nudge_for(message: Message, now: dt.datetime | None = None) -> Nudge:
    """What the letter page says about this letter's own words."""
    shared, total = overlap(message, now)
    return judge(message.personal_note, shared, total)


def per_letter_overlap(since: dt.datetime) -> Subquery:
    """Each recent letter's (message_id, shared, total), as overlap() counts them."""
    mine = aliased(OwnWordsShingle)
    return (
        select(
            mine.message_id,
            func.count(case((_shared_elsewhere(mine, since), 1))).label("shared"),
            func.count().label("total"),
        )
        .where(mine.written_at >= since)
        .group_by(mine.message_id)
        .subquery()
    )


def form_letter(overlaps: Subquery) -> ColumnElement[bool]:
    """A letter (outer-joined to per_letter_overlap) with no own words, or with own words
    largely shared with other letters to its member: what offices discount."""
    return or_(
        Message.personal_note == "",
        overlaps.c.shared >= overlaps.c.total * LARGELY_SHARED,
    )
