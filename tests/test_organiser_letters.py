"""The organisers' view of supporters' letters: per member counts, form letters, bounces."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select

from letters.extensions import db
from letters.messages.own_words import WINDOW
from letters.models import Attendee, ContactStatus, FollowUp, Message, Organiser, OwnWordsShingle
from letters.organiser.overview import members_overview, replies_by_member
from tests import factories
from tests.helpers import submit, table_rows
from tests.organiser_helpers import login, make_organiser


def test_needs_a_login(app_with_data):
    response = app_with_data.test_client().get("/organiser/letters")
    assert response.status_code == 302 and "/organiser/login" in response.headers["Location"]


def test_counts_form_letters_and_failing_addresses(app_with_data):
    supporters = app_with_data.test_client()
    for n in range(3):  # three copies of the campaign text
        submit(supporters, postcode="2001", name=f"Same {n}", personal_note="")
    own = " ".join(f"w{n}" for n in range(450))[:2000]
    submit(supporters, postcode="2001", name="Own Words", personal_note=own)
    submit(supporters, postcode="2002", division="Wattle", name="Elsewhere")
    with app_with_data.app_context():
        db.session.add(
            ContactStatus(division="Banksia", email="x@example.org", failing=True, reason="550")
        )
        db.session.commit()

    make_organiser(app_with_data)
    organiser = app_with_data.test_client()
    login(organiser)
    page = organiser.get("/organiser/letters").get_data(as_text=True)
    rows = {row["Member"]: row for row in table_rows(page)}
    banksia = next(row for member, row in rows.items() if member.startswith("Priya Nandakumar"))
    assert banksia["Letters"] == "4"
    assert banksia["Near-identical"].startswith("75%")  # 3 of 4 near-identical
    assert "failing: 550" in banksia["Email address"]
    assert "Jane" not in page and "Own Words" not in page  # no supporter details


def test_half_shared_is_near_identical_and_the_window_holds_its_first_instant(app_with_data):
    now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    since, lately = now - WINDOW, now - dt.timedelta(hours=1)

    def letter(division: str, shingles: list[int], at: dt.datetime) -> None:
        row = factories.message(division=division, personal_note="Words of my own.", created_at=at)
        filed = [
            {"message_id": row.id, "shingle": s, "division": division, "written_at": at}
            for s in shingles
        ]
        db.session.execute(insert(OwnWordsShingle), filed)
        db.session.commit()

    with app_with_data.app_context():
        # Each shares one of its two shingles with the other: exactly half, the line itself.
        letter("Banksia", [1, 2], lately)
        letter("Banksia", [1, 3], lately)
        # One written at the window's first instant is still compared, both ways.
        letter("Wattle", [7, 8], since)
        letter("Wattle", [7, 9], lately)
        letter("Ironbark", [7, 11], lately)  # the same words to another member: not shared
        letter("Karri", [20, 21], since - dt.timedelta(minutes=1))  # before the window
        letter("Karri", [20, 22], lately)
        rows = {row.division: row for row in members_overview(now)}
    assert (rows["Banksia"].letters, rows["Banksia"].near_identical) == (2, 2)
    assert (rows["Wattle"].letters, rows["Wattle"].near_identical) == (2, 2)
    assert (rows["Ironbark"].letters, rows["Ironbark"].near_identical) == (1, 0)
    assert (rows["Karri"].letters, rows["Karri"].near_identical) == (1, 0)


def test_a_pasted_personal_paragraph_counts_as_near_identical_and_campaign_text_does_not(
    app_with_data,
):
    supporters = app_with_data.test_client()
    pasted = "As a grandmother I am appalled that these companies put profit before children."
    for n in range(2):
        submit(supporters, postcode="2001", name=f"Pasted {n}", personal_note=pasted)
    # The same campaign paragraphs as the two above, with words of their own.
    submit(supporters, postcode="2001", name="Own A", personal_note="I teach year six in Braddon.")
    submit(supporters, postcode="2001", name="Own B", personal_note="My son games online nightly.")
    make_organiser(app_with_data)
    organiser = app_with_data.test_client()
    login(organiser)
    rows = table_rows(organiser.get("/organiser/letters").get_data(as_text=True))
    assert [row["Near-identical"] for row in rows] == ["50%"]  # the two pasted ones of four


# --- Replies per member (issue 11, item 3) --------------------------------------------------

SENT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _answered(division: str, answer: str, days: float, reply: str = "", share: bool = False):
    """An emailed letter to `division`'s member, asked about and answered `days` after sending."""
    letter = factories.message(
        division=division, delivery="email", state="delivered", sent_at=SENT, created_at=SENT
    )
    db.session.add(
        FollowUp(
            message_id=letter.id,
            asked_at=SENT + dt.timedelta(days=14),
            answer=answer,
            answered_at=SENT + dt.timedelta(days=days) if answer else None,
            reply_text=reply,
            reply_shared=share,
        )
    )
    db.session.commit()
    return letter


def test_replies_per_member_are_counted_and_the_median_taken(app_with_data):
    with app_with_data.app_context():
        for days in (15, 16, 20, 30):  # median of four: (16 + 20) / 2
            _answered("Banksia", "real", days)
        _answered("Banksia", "acknowledgement", 15)
        _answered("Banksia", "no_reply", 15)
        _answered("Banksia", "rather_not_say", 15)
        _answered("Banksia", "", 0)  # asked, not answered
        factories.message(division="Banksia")  # printed: never asked
        for days in (14, 15, 40):
            _answered("Wattle", "real", days)
        rows = {row.division: row for row in replies_by_member()}
        # Every figure equals a direct count of the database.
        banksia = rows["Banksia"]
        letters = db.session.scalar(
            select(func.count()).select_from(Message).where(Message.division == "Banksia")
        )
        answered = db.session.scalar(
            select(func.count())
            .select_from(FollowUp)
            .join(Message, Message.id == FollowUp.message_id)
            .where(Message.division == "Banksia", FollowUp.answer != "")
        )
        assert (banksia.letters, banksia.asked, banksia.answered) == (letters, 8, answered)
        assert (letters, answered) == (9, 7)
        assert (banksia.real, banksia.acknowledgements, banksia.no_reply) == (4, 1, 1)
        assert banksia.median_days == pytest.approx(18.0)
        assert rows["Wattle"].median_days == pytest.approx(15.0)  # odd count: the middle one
        assert banksia.real_rate is None  # 6 telling answers: under the threshold


def test_a_rate_is_shown_from_ten_answers(app_with_data):
    with app_with_data.app_context():
        for n in range(9):
            _answered("Banksia", "real" if n < 3 else "no_reply", 20)
        assert replies_by_member()[0].real_rate is None
        _answered("Banksia", "real", 20)
        assert replies_by_member()[0].real_rate == pytest.approx(0.4)
    make_organiser(app_with_data)
    organiser = app_with_data.test_client()
    login(organiser)
    page = organiser.get("/organiser/letters").get_data(as_text=True)
    assert "40%" in page[page.index('id="replies"') :]


def test_shared_replies_are_for_organisers_only_and_escaped(app_with_data):
    with app_with_data.app_context():
        _answered(
            "Banksia", "real", 20, reply="<script>alert(1)</script> Thanks, Priya", share=True
        )
        _answered("Banksia", "real", 20, reply="Private reply", share=False)
    assert app_with_data.test_client().get("/organiser/replies").status_code == 302
    make_organiser(app_with_data)
    organiser = app_with_data.test_client()
    login(organiser)
    page = organiser.get("/organiser/replies?division=Banksia").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Thanks, Priya" in page
    assert "<script>alert" not in page and "Private reply" not in page
    overview = organiser.get("/organiser/letters").get_data(as_text=True)
    assert 'href="/organiser/replies?division=Banksia">1</a>' in overview


def test_an_attendees_shared_reply_is_read_by_their_events_organiser_only(app_with_data):
    ours = make_organiser(app_with_data)
    make_organiser(app_with_data, email="other@example.org")
    with app_with_data.app_context():
        event = factories.event(db.session.get(Organiser, ours), name="Hall")
        factories.attendees(event, 2, may_follow_up=True)
        first, second = db.session.scalars(select(Attendee.id).order_by(Attendee.id)).all()
        db.session.add_all(
            [
                FollowUp(attendee_id=first, token="a", asked_at=SENT, answer="real",
                         answered_at=SENT, reply_text="<i>Dear</i> attendee", reply_shared=True),
                FollowUp(attendee_id=second, token="b", asked_at=SENT, answer="real",
                         answered_at=SENT, reply_text="Kept to myself", reply_shared=False),
            ]
        )  # fmt: skip
        db.session.commit()
    organiser = app_with_data.test_client()
    login(organiser)
    page = organiser.get("/organiser/replies?division=Banksia").get_data(as_text=True)
    assert "&lt;i&gt;Dear&lt;/i&gt; attendee" in page and "Kept to myself" not in page
    other = app_with_data.test_client()
    login(other, email="other@example.org")
    assert "Dear" not in other.get("/organiser/replies").get_data(as_text=True)
