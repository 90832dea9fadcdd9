"""The organisers' view of supporters' letters: per member counts, form letters, bounces."""

from __future__ import annotations

from letters.extensions import db
from letters.models import ContactStatus
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
