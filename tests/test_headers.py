"""Names and addresses that could forge email headers, split a CSV row or disguise text.

Every entry point (the /write form, the kiosk, the organiser's attendee form, the CSV import)
refuses them with a field error; an email built from a row that holds one anyway carries no
injected header; names with quotes, brackets, commas and semicolons arrive whole.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import re
import urllib.parse
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from letters import clock
from letters.domain import people
from letters.domain.attendees import read_attendees, surname_key, write_csv
from letters.domain.campaign import load_campaign
from letters.domain.directory import Directory, display_name, load_directory
from letters.extensions import db
from letters.mail import Address, OutgoingEmail
from letters.mail.content import letter_email, receipt_email
from letters.mail.outbox import OutboxMailer, to_mime
from letters.mail.sendgrid import SendGridMailer
from letters.messages import notices, sending
from letters.models import Attendee, Message
from letters.settings import PROJECT_ROOT
from tests import factories
from tests.conftest import load_fixture_members
from tests.fakes.sendgrid import API_KEY, running
from tests.helpers import examples, submit
from tests.organiser_helpers import (
    csrf,
    organiser_client_fixture,  # noqa: F401
)
from tests.test_organiser_events import kiosk_event, upload

ENCODED_WORD = "=?utf-8?q?=0D=0ABcc:_evil@attacker.example?="
# Each is one line to the eye and something else to a mail client, a CSV reader or a screen.
HOSTILE = {
    "encoded word": ENCODED_WORD,
    "encoded word inside": f"Jane {ENCODED_WORD} Citizen",
    "line separator U+2028": "Jane\u2028Bcc: evil@attacker.example",
    "paragraph separator U+2029": "Jane\u2029Citizen",
    "next line U+0085": "Jane\x85Bcc: evil@attacker.example",
    "C1 control": "Jane\x9bCitizen",
    "bidi isolate": "Jane \u2067evil\u2069 Citizen",
    "bidi override": "Jane \u202egnp.exe",
    "right-to-left mark": "Jane\u200f Citizen",
}
HEADERS_OF_A_LETTER = {
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "X-Letters-Message-Id",
    "X-Letters-Kind",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
}


def _field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert found, f"no error for {field}"
    return found.group(1)


def _only_our_headers(parsed) -> None:
    keys = list(parsed.keys())
    assert set(keys) <= HEADERS_OF_A_LETTER and len(keys) == len(set(keys)), keys
    assert {"From", "To", "Subject"} <= set(keys)


def _header_line(name: str, raw: bytes) -> bool:
    """Whether the email's head has a line starting header `name` (however it is cased)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return bool(re.search(rb"(?:^|[\r\n])" + name.encode() + rb"\s*:", head, re.I))


def _parse(raw: bytes):
    return email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)


def _mail(**changes: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "kind": "letter",
        "message_id": uuid.uuid4(),
        "sender": Address("letters@example.org", "Campaign"),
        "to": (Address("member@example.org", "Member MP"),),
        "subject": "A letter",
        "text": "Body",
        "html": "<p>Body</p>",
    }
    return OutgoingEmail(**{**values, **changes})  # type: ignore[arg-type]


# --- the forms ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "street", "suburb"])
@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_write_form_refuses_what_cannot_be_one_plain_line(client, field, value):
    response = submit(client, division="Canberra", member="Alicia Payne", **{field: value})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), field)


def test_the_write_form_says_why_an_encoded_word_is_refused(client):
    page = submit(client, name=ENCODED_WORD).get_data(as_text=True)
    assert "email coding" in _field_error(page, "name")
    assert 'value="12 Example St"' in page  # what else was typed is kept


def test_a_non_ascii_local_part_is_refused_at_the_form(client):
    response = submit(client, email="josé@example.com", delivery="email")
    assert response.status_code == 422
    assert "before the @" in _field_error(response.get_data(as_text=True), "email")


def test_an_idn_domain_is_kept_as_punycode_and_the_email_goes_there(make_app, tmp_path):
    app = make_app(OUTBOX_DIR=tmp_path / "outbox")
    load_fixture_members(app.config["DATA_DIR"])
    client = app.test_client()
    response = submit(client, postcode="2001", email="Jana@Bücher.de", delivery="email")
    assert response.status_code == 303
    with app.app_context():
        token = response.headers["Location"].rsplit("/", 1)[1]
        message = db.session.scalar(select(Message).where(Message.token == token))
        assert message.sender_email == "Jana@xn--bcher-kva.de"
        assert notices.send_confirmation(message.id)
    (sent,) = (tmp_path / "outbox").glob("*-confirmation-*.eml")
    assert _parse(sent.read_bytes())["To"].addresses[0].addr_spec == "Jana@xn--bcher-kva.de"


@pytest.fixture
def event_id(organiser_client) -> int:
    event_id = kiosk_event(organiser_client)  # today, whenever the tests run: its kiosk is open
    upload(organiser_client, event_id, "good.csv")
    return event_id


def test_the_kiosk_refuses_an_encoded_word_name(app_with_data, organiser_client, event_id):
    page = organiser_client.get(f"/organiser/events/{event_id}/kiosk").get_data(as_text=True)
    path = urllib.parse.urlsplit(re.search(r'id="kiosk-url">([^<]+)<', page).group(1)).path
    tablet = app_with_data.test_client()
    form = {
        "csrf_token": csrf(tablet, path),
        "street": "1 Kiosk Lane",
        "suburb": "Carlton",
        "postcode": "2003",
        "statistics": ["afp-reports"],
        "recommendations": ["increase-fines"],
    }
    for value in HOSTILE.values():
        response = tablet.post(path, data={**form, "name": value})
        assert response.status_code == 422, value
        assert _field_error(response.get_data(as_text=True), "name")
    with app_with_data.app_context():
        kiosk = select(Attendee).where(Attendee.source == "kiosk")
        assert db.session.scalars(kiosk).all() == []


def test_the_attendee_form_refuses_an_encoded_word_name(app_with_data, organiser_client, event_id):
    with app_with_data.app_context():
        attendee = db.session.scalars(select(Attendee)).first()
        before = attendee.name
    url = f"/organiser/events/{event_id}/attendees/{attendee.id}"
    for field in ("name", "street", "suburb"):
        for value in HOSTILE.values():
            data = {"csrf_token": csrf(organiser_client, url), "name": "Kim", "postcode": "2003"}
            response = organiser_client.post(url, data={**data, field: value})
            assert response.status_code == 422, (field, value)
            assert _field_error(response.get_data(as_text=True), field)
    with app_with_data.app_context():
        assert db.session.get(Attendee, attendee.id).name == before


# --- the CSV import -----------------------------------------------------------------------


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    load_fixture_members(tmp_path)
    loaded = load_directory(tmp_path)
    assert loaded is not None
    return loaded


CAMPAIGN = load_campaign(PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml")


def test_an_import_row_gets_a_field_error_for_each_hostile_cell(directory):
    rows = [f'"{value}",2001,1 Main St,Braddon' for value in HOSTILE.values()]
    rows += [f'Jo,2001,"{value}",Braddon' for value in HOSTILE.values()]
    rows += [f'Jo,2001,1 Main St,"{value}"' for value in HOSTILE.values()]
    data = ("name,postcode,street,suburb\r\n" + "\r\n".join(rows) + "\r\n").encode()
    report = read_attendees(data, CAMPAIGN, directory)
    n = len(HOSTILE)
    assert report.data_rows == 3 * n and report.rows == []
    places = {(p.row, p.column) for p in report.errors}
    for offset, column in enumerate(("name", "street", "suburb")):
        for index in range(n):
            assert (2 + offset * n + index, column) in places


def test_an_import_row_checks_addresses_as_the_forms_do(directory):
    data = "name,email,postcode\nJosé,josé@example.com,2001\nAnna,anna@bücher.de,2001\n"
    report = read_attendees(data.encode(), CAMPAIGN, directory)
    [problem] = report.errors
    assert (problem.row, problem.column) == (2, "email") and "before the @" in problem.message
    assert [r.email for r in report.rows] == ["anna@xn--bcher-kva.de"]


def test_an_unquoted_line_separator_does_not_split_a_row(directory):
    data = (
        "name,postcode,personal_note\n"
        "Jo\u2028Smith,2001,hello\n"
        "Ann Lee,2001,one\u2028two\x85three\n"
        "Bo Diddley,2001,fine\n"
    ).encode()
    report = read_attendees(data, CAMPAIGN, directory)
    assert report.data_rows == 3
    assert [(p.row, p.column) for p in report.errors] == [(2, "name")]
    assert [(r.row, r.name, r.personal_note) for r in report.rows] == [
        (3, "Ann Lee", "one\ntwo\nthree"),  # a break the person typed, as a break
        (4, "Bo Diddley", "fine"),
    ]


def test_the_export_quotes_a_cell_holding_a_line_separator(directory):
    text = write_csv(("name", "postcode", "personal_note"), [["Ann", "2001", "one\u2028two"]])
    assert '"one\u2028two"' in text
    assert read_attendees(text.encode(), CAMPAIGN, directory).data_rows == 1


def test_five_megabytes_of_bad_rows_give_a_small_report_page(
    app_with_data, organiser_client, event_id
):
    row = f"{ENCODED_WORD},not-an-email,{'x' * 300},Braddon,ZZ,99999,,bogus,bogus,{'y' * 300}\n"
    header = "name,email,street,suburb,state,postcode,division,statistics,recommendations,note\n"
    data = (header + row * (5 * 2**20 // len(row))).encode()
    assert len(data) > 5 * 10**6
    response = upload(organiser_client, event_id, "bad.csv", data)
    page = response.get_data(as_text=True)
    # The test client spools a body this big to a temporary file and leaves it open.
    response.request.environ["wsgi.input"].close()
    assert response.status_code == 422
    assert len(page.encode()) < 200_000, len(page.encode())
    rows = len(data.splitlines()) - 1
    assert f"{rows:,} rows read, 0 imported, {rows:,} left out because of errors" in page
    assert re.search(r"The first 100 are shown, and [\d,]+ more\.", page)
    link = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(link).decode("utf-8-sig").count("\r\n") == 1_001  # header + kept


# --- the emails ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_an_email_built_with_a_hostile_name_has_no_injected_header(tmp_path, name):
    mail = _mail(
        sender=Address("letters@example.org", f"{name} via Campaign"),
        to=(Address("member@example.org", name),),
        reply_to=Address("jane@example.org", name),
    )
    OutboxMailer(tmp_path).send(mail)
    (sent,) = tmp_path.glob("*.eml")
    parsed = _parse(sent.read_bytes())
    _only_our_headers(parsed)
    assert not _header_line("Bcc", sent.read_bytes())
    for header, addr in (
        ("From", "letters@example.org"),
        ("To", "member@example.org"),
        ("Reply-To", "jane@example.org"),
    ):
        (address,) = parsed[header].addresses
        assert address.addr_spec == addr
        # At most one harmless line of text: a separator became a space, an encoded word
        # took the name away.
        assert people.is_display_name(address.display_name), address.display_name


def test_a_stored_encoded_word_name_forges_nothing_in_the_outbox(app_with_data, tmp_path):
    with app_with_data.app_context():
        # A row written before the forms refused it, or by any other path.
        message = factories.message(
            delivery="email",
            state="sent",
            sender_name=ENCODED_WORD,
            sent_at=clock.now(),
        )
        mailer = OutboxMailer(tmp_path / "outbox")
        mailer.send(letter_email(message))
        mailer.send(receipt_email(message))
    written = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(written) == 2
    for sent in written:
        raw = sent.read_bytes()
        assert not _header_line("Bcc", raw), sent.name
        parsed = _parse(raw)
        assert "Bcc" not in parsed and "Cc" not in parsed
        for header in ("From", "To", "Reply-To"):
            for address in parsed[header].addresses if header in parsed else ():
                assert "Bcc" not in address.display_name


LONG_NAMES = [
    'Jane "JJ" <Citizen> ' * 6,
    "O'Brien, Pat",
    "Semi; Colon, and \\ backslash",
    'Zoë Ångström-Łukasz "the" <x>, ; ' * 4,
    "X" * 150,
]


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_name_with_quotes_and_brackets_keeps_its_quoting(name):
    mail = _mail(to=(Address("member@example.org", name),), reply_to=Address("j@example.org", name))
    parsed = _parse(to_mime(mail).as_bytes())
    for header, addr in (("To", "member@example.org"), ("Reply-To", "j@example.org")):
        (address,) = parsed[header].addresses
        assert (address.display_name, address.addr_spec) == (mail.to[0].name, addr)
    assert mail.to[0].name == " ".join(name.split())  # only spaces were tidied


names = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]),
    min_size=1,
    max_size=150,
).filter(lambda s: people.is_display_name(s) and s.strip())


@settings(max_examples=examples(200), deadline=None)
@given(name=names)
def test_any_plain_display_name_arrives_as_it_was_typed(name):
    mail = _mail(to=(Address("member@example.org", name),))
    parsed = _parse(to_mime(mail).as_bytes())
    (address,) = parsed["To"].addresses
    assert (address.display_name, address.addr_spec) == (mail.to[0].name, "member@example.org")
    _only_our_headers(parsed)


def test_sendgrid_gets_names_with_commas_and_semicolons_quoted():
    with running() as fake:
        mailer = SendGridMailer(API_KEY, fake.url, 2.0)
        mail = _mail(
            to=(Address("pat@example.org", "O'Brien, Pat"),),
            cc=(Address("minister@example.org", 'Min; "the" Minister'),),
            reply_to=Address("pat@example.org", "O'Brien, Pat"),
        )
        assert mailer.send(mail).accepted
        assert mailer.send(_mail(to=(Address("jo@example.org", "Jo Bloggs"),))).accepted
        first, second = (r.payload for r in fake.received)
    personalization = first["personalizations"][0]
    assert personalization["to"] == [{"email": "pat@example.org", "name": '"O\'Brien, Pat"'}]
    assert personalization["cc"] == [
        {"email": "minister@example.org", "name": '"Min; \\"the\\" Minister"'}
    ]
    # A name SendGrid takes as it is goes as it is.
    assert second["personalizations"][0]["to"] == [{"email": "jo@example.org", "name": "Jo Bloggs"}]


def test_an_idn_address_in_any_header_goes_as_punycode():
    parsed = _parse(to_mime(_mail(to=(Address("a@bücher.de", "A"),))).as_bytes())
    assert parsed["To"].addresses[0].addr_spec == "a@xn--bcher-kva.de"


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("a@B\u00fccher.DE", "a@xn--bcher-kva.de"),  # mapped (UTS 46) before encoding
        ('"x@y"@b\u00fccher.de', '"x@y"@xn--bcher-kva.de'),  # the last @ starts the domain
        ("a@example.org", "a@example.org"),
        ("b\u00fccher", "b\u00fccher"),  # no @: nothing to encode
        ("a@-b\u00fccher-.de", "a@-b\u00fccher-.de"),  # no valid IDN: left as it was
    ],
)
def test_only_an_idn_domain_is_changed_to_punycode(given, sent):
    assert people.ascii_address(given) == sent


def test_one_list_of_surname_particles():
    assert surname_key("Anna le Roux") == "le roux anna"
    assert display_name("Marie Claire le Roux") == "Marie le Roux"
    assert display_name("Albertus van Manen") == "Albertus van Manen"


def test_a_supporter_named_with_a_comma_gets_their_receipt_through_sendgrid(make_app):
    from tests.test_email import _confirm_path, _refresh, _write_email_letter

    with running() as fake:
        app = make_app(
            SENDGRID_API_KEY=API_KEY,
            SENDGRID_API_HOST=fake.url,
            SEND_TIMEOUT_SECONDS=2.0,
            BASE_URL="https://letters.example.org",
        )
        load_fixture_members(app.config["DATA_DIR"])
        client = app.test_client()
        with app.app_context():
            message = _write_email_letter(client, name="O'Brien, Pat", email="pat@example.org")
            assert notices.send_confirmation(message.id)
            path = _confirm_path(fake)
            client.post(path, data={"csrf_token": csrf(client, path)})
            assert sending.deliver(message.id).state == "sent"
            assert notices.send_receipt(_refresh(message).id)
        by_kind = {r.kind: r.payload for r in fake.received if r.status == 202}
    assert by_kind["receipt"]["personalizations"][0]["to"] == [
        {"email": "pat@example.org", "name": '"O\'Brien, Pat"'}
    ]
    # In the letter the name is the sender's and the reply address's, which SendGrid takes.
    assert by_kind["letter"]["reply_to"] == {"email": "pat@example.org", "name": "O'Brien, Pat"}
    assert by_kind["letter"]["from"]["name"].startswith("O'Brien, Pat via ")
