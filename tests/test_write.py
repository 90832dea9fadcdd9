"""The supporter's pages: write, letter, edit, PDF and the divisions API."""

from __future__ import annotations

import io
import json
import re

import pytest
from pypdf import PdfReader

from tests.helpers import GOOD_FORM, submit


def _letter_page(client, response):
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    location = response.headers["Location"]
    assert re.fullmatch(r"/letters/[A-Za-z0-9_-]{32}", location)
    return location, client.get(location).get_data(as_text=True)


def _pdf_text(client, location: str) -> str:
    response = client.get(location + ".pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)


# --- no member data loaded: the supporter names their MP --------------------------------


def test_front_page_shows_campaign_and_data_status(client):
    page = client.get("/").get_data(as_text=True)
    assert "Tougher on Tech" in page
    assert 'href="/write"' in page
    assert "No member data has been loaded yet" in page


def test_without_data_the_supporter_types_their_member(client):
    response = submit(client, postcode="2612", division="Canberra", member="Alicia Payne")
    location, page = _letter_page(client, response)
    assert "Dear Alicia Payne" in page
    assert "Member for Canberra" in page
    text = _pdf_text(client, location)
    assert "Alicia Payne MP" in text
    assert "PO Box 6022" in text and "Canberra ACT 2600" in text


def test_without_data_member_fields_are_required(client):
    response = submit(client, postcode="2612")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="division-error"' in page and "Enter your federal electorate." in page
    assert 'id="member-error"' in page and "Enter your MP&#39;s name." in page


def test_post_without_csrf_token_is_refused(client):
    data = {**GOOD_FORM, "division": "Canberra", "member": "Alicia Payne"}
    response = client.post("/write", data=data)
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Enter your name."),
        ({"street": ""}, "street", "Enter your street address."),
        ({"suburb": " "}, "suburb", "Enter your suburb or town."),
        ({"postcode": "26"}, "postcode", "Enter your 4-digit postcode"),
        ({"postcode": ""}, "postcode", "Enter your postcode."),
        ({"email": "not-an-email"}, "email", "Enter an email address like"),
        ({"email": "", "delivery": "email"}, "email", "so your MP can reply"),
        ({"statistics": None}, "statistics", "Choose at least one fact."),
        ({"recommendations": None}, "recommendations", "Choose at least one change"),
        ({"statistics": ["made-up"]}, "statistics", "Not a valid choice"),
        ({"personal_note": "x" * 2001}, "personal_note", "2,000 characters or fewer"),
        ({"name": "Jane\r\nBcc: victim@example.org"}, "name", "on one line"),
        ({"state": "XX"}, "state", "Not a valid choice"),
        ({"delivery": "fax"}, "delivery", "Not a valid choice"),
    ],
)
def test_each_error_is_tied_to_its_field(client, changes, field, message):
    response = submit(client, division="Canberra", member="Alicia Payne", **changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error, f"no error paragraph for {field}"
    assert message.lower() in error.group(1).replace("&#39;", "'").lower()
    assert f'href="#{field}"' in page  # the summary links to the field
    # What the supporter typed is kept.
    assert ('value="Braddon"' if field == "email" else 'value="jane@example.org"') in page


def test_prefilled_link_fills_the_form(client):
    page = client.get(
        "/write?postcode=2600&statistics=afp-reports&statistics=tech-enabled&statistics=bogus"
        "&personal_note=Hello"
    ).get_data(as_text=True)
    assert re.search(r'id="postcode" name="postcode" value="2600"', page)
    checked = set(
        re.findall(
            r'<input checked id="statistics-\d" name="statistics" '
            r'type="checkbox" value="([a-z0-9-]+)">',
            page,
        )
    )
    assert checked == {"afp-reports", "tech-enabled"}
    recommended = re.findall(r'<input[^>]*checked[^>]*name="recommendations"', page)
    assert len(recommended) == 3  # all three ticked by default
    assert ">Hello</textarea>" in page


def test_every_field_has_a_label(client):
    page = client.get("/write").get_data(as_text=True)
    tags = re.findall(r"<(?:input|select|textarea)[^>]*>", page)
    ids = [
        re.search(r'\sid="([^"]+)"', tag).group(1)
        for tag in tags
        if 'type="hidden"' not in tag and re.search(r'\sid="', tag)
    ]
    assert len(ids) > 10
    for field_id in ids:
        assert f'for="{field_id}"' in page, f"field {field_id} has no label"


def test_edit_keeps_values_and_updates_the_same_letter(client):
    response = submit(client, division="Canberra", member="Alicia Payne")
    location, _ = _letter_page(client, response)
    edit_url = location + "/edit"
    form = client.get(edit_url).get_data(as_text=True)
    assert 'value="Jane Citizen"' in form and 'value="Alicia Payne"' in form
    assert "My niece is eleven" in form
    again = submit(
        client, edit_url, division="Canberra", member="Alicia Payne", personal_note="Changed."
    )
    assert again.status_code == 303 and again.headers["Location"] == location
    page = client.get(location).get_data(as_text=True)
    assert "Changed." in page and "My niece is eleven" not in page


def test_unknown_letter_is_404(client):
    assert client.get("/letters/not-a-real-token").status_code == 404
    assert client.get("/letters/not-a-real-token.pdf").status_code == 404


HOSTILE = '<img src="file:///etc/passwd"><script>alert(1)</script>'


def test_hostile_text_is_literal_in_page_and_pdf(client):
    response = submit(
        client,
        name=HOSTILE,
        street=HOSTILE,
        suburb=HOSTILE,
        personal_note=HOSTILE,
        division=HOSTILE,
        member=HOSTILE,
    )
    location, page = _letter_page(client, response)
    assert "<script>alert(1)</script>" not in page
    assert '<img src="file:///etc/passwd">' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = _pdf_text(client, location)
    assert "<script>alert(1)</script>" in text.replace("\n", "")
    assert "root:x:0:0" not in text


# --- with member data --------------------------------------------------------------------


@pytest.fixture
def data_client(app_with_data):
    return app_with_data.test_client()


def test_one_division_goes_straight_to_the_letter(data_client):
    response = submit(data_client, postcode="2001")
    location, page = _letter_page(data_client, response)
    assert "Dear Priya Nandakumar" in page and "Member for Banksia" in page
    text = _pdf_text(data_client, location)
    assert "Priya Nandakumar MP" in text and "Jane Citizen" in text
    assert "Braddon NSW 2001" in text  # the state left blank is the division's
    assert "40,000 reports" in text  # afp-reports was chosen
    assert "36.2 million" not in text  # ncmec-reports was not
    assert "My niece is eleven and online every day." in text


def test_split_postcode_asks_which_division(data_client):
    response = submit(data_client, postcode="2002")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "covers more than one electorate" in page
    choices = re.findall(r'<input type="radio" name="division" value="([^"]+)"', page)
    assert sorted(choices) == ["Banksia", "Wattle"]
    chosen = submit(data_client, postcode="2002", division="Wattle")
    _, letter = _letter_page(data_client, chosen)
    assert "Dear Harry Fernsby" in letter


def test_a_division_not_offered_for_the_postcode_is_refused(data_client):
    response = submit(data_client, postcode="2002", division="Huon")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Huon is not one of the electorates for postcode 2002" in page


def test_abolished_division_is_never_offered(data_client):
    page = submit(data_client, postcode="3002").get_data(as_text=True)
    choices = re.findall(r'<input type="radio" name="division" value="([^"]+)"', page)
    assert "Ghost Gum" not in choices
    assert set(choices) == {"Saltbush", "Ironbark", "Lyrebird"}
    assert "Ghost Gum no longer exists" in page


@pytest.mark.parametrize(
    ("postcode", "state", "message"),
    [
        ("9999", "", "We don&#39;t know postcode 9999"),
        ("2001", "VIC", "Postcode 2001 is in NSW, not VIC"),
    ],
)
def test_postcode_problems_show_on_the_postcode_field(data_client, postcode, state, message):
    response = submit(data_client, postcode=postcode, state=state)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(r'<p class="field-error" id="postcode-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1)


def test_api_and_cli_give_the_same_json(app_with_data, data_client):
    for postcode in ("2001", "2002", "3002", "9999", "12"):
        api = data_client.get(f"/api/divisions?postcode={postcode}")
        cli = app_with_data.test_cli_runner().invoke(args=["lookup", postcode, "--json"])
        assert api.get_json() == json.loads(cli.output)
    assert data_client.get("/api/divisions?postcode=2001").status_code == 200
    assert data_client.get("/api/divisions?postcode=12").status_code == 422


def test_api_without_data_says_so(client):
    response = client.get("/api/divisions?postcode=2600")
    assert response.status_code == 503
    assert "No member data" in response.get_json()["error"]


def test_front_page_shows_the_data_date(data_client):
    page = data_client.get("/").get_data(as_text=True)
    assert "as of" in page and "No member data" not in page


def test_a_split_postcodes_note_links_to_the_aec_finder_and_stays_escaped(app_with_data):
    from letters.supporter.member import finder_links

    page = app_with_data.test_client().get("/write?postcode=2002").get_data(as_text=True)
    note = re.search(r'<p class="note">(.*?)</p>', page, re.S)
    assert note is not None
    assert (
        '<a href="https://electorate.aec.gov.au/">https://electorate.aec.gov.au/</a>'
        in note.group(1)
    )
    assert str(finder_links("<b> https://electorate.aec.gov.au/")).startswith("&lt;b&gt; <a href=")
