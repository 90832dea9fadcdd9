"""Builders for the rows tests need, so that a test reads as its scenario.

Plain functions, called inside an app context; each returns the committed row, with every
field a sensible default unless the test says otherwise. Pages and forms are tested through
the client (tests/helpers.py); these are for the state a test starts from.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert

from letters import clock
from letters.extensions import db
from letters.models import Attendee, Event, Message, Organiser

CAMPAIGN = "tougher-on-tech"
_numbers = itertools.count(1)

# The fixture parliament (tests/fixtures/openaustralia): division -> (state, member, party).
MEMBERS = {
    "Banksia": ("NSW", "Priya Nandakumar", "IND"),
    "Wattle": ("NSW", "Horatio Fernsby", "ALP"),
    "Ironbark": ("VIC", "Mei Ling Chow", "GRN"),
    "Karri": ("WA", "Tamsin Ellery-Hart", "ALP"),
    "Cassowary": ("QLD", "Colin Mabbott", "LNP"),
    "Brindabella": ("ACT", "Samuel Okafor", "ALP"),
}


def organiser(
    email: str | None = None, password: str = "correct horse battery staple"
) -> Organiser:
    """An organiser account, as `letters organiser create` makes it."""
    from letters.organiser.auth import create_organiser

    return create_organiser(email or f"organiser{next(_numbers)}@example.org", password)


def event(
    owner: Organiser | None = None,
    *,
    name: str = "Letters & tea",
    date: dt.date = dt.date(2026, 12, 5),
    **fields: Any,
) -> Event:
    """An event of `owner`'s (a new organiser's if None)."""
    row = Event(
        organiser_id=(owner or organiser()).id,
        name=name,
        date=date,
        campaign_key=fields.pop("campaign_key", CAMPAIGN),
        **fields,
    )
    db.session.add(row)
    db.session.commit()
    return row


def attendees(of: Event, count: int, *, division: str = "Banksia", **fields: Any) -> None:
    """`count` settled attendees at an event, in one INSERT (thousands are cheap)."""
    state, member, party = MEMBERS.get(division, ("NSW", "Some Member", ""))
    rows = [
        {
            "event_id": of.id,
            "name": f"Person {n}",
            "email": f"person{n}@example.org",
            "street": f"{n} Long Rd",
            "suburb": "Braddon",
            "postcode": "2001",
            "division": division,
            "division_state": state,
            "member_name": member,
            "member_party": party,
            **fields,
        }
        for n in range(count)
    ]
    db.session.execute(insert(Attendee), rows)
    db.session.commit()


def message(*, division: str = "Banksia", delivery: str = "pdf", **fields: Any) -> Message:
    """A supporter's letter to a fixture member; pass `state=`, dates and so on to place it."""
    state, member, party = MEMBERS.get(division, ("NSW", "Some Member", ""))
    number = next(_numbers)
    values: dict[str, Any] = {
        "campaign_key": CAMPAIGN,
        "delivery": delivery,
        "state": "awaiting_confirmation" if delivery == "email" else "draft",
        "sender_name": f"Supporter {number}",
        "sender_email": f"supporter{number}@example.org",
        "sender_street": f"{number} Example St",
        "sender_suburb": "Braddon",
        "sender_state": state,
        "sender_postcode": "2001",
        "division": division,
        "division_state": state,
        "member_name": member,
        "member_party": party,
        "statistics": ["afp-reports"],
        "recommendations": ["increase-fines"],
        "letter_date": clock.today("Australia/Sydney"),
        "recipient_email": f"{member.replace(' ', '.')}.MP@aph.gov.au"
        if delivery == "email"
        else "",
    }
    values.update(fields)
    row = Message(**values)
    db.session.add(row)
    db.session.commit()
    return row


def messages(count: int, **fields: Any) -> list[Message]:
    """`count` letters alike but for their senders."""
    return [message(**fields) for _ in range(count)]


def ids(rows: Iterable[Message]) -> list[str]:
    """Rows' ids as the tasks and the fake SendGrid name them."""
    return [str(row.id) for row in rows]
