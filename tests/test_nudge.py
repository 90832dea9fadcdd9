"""The letter page's nudge: it judges the supporter's own words, never the campaign's.

Encouragement that grows with what they wrote; a warning only when there are no own words, or
when they are largely the same as other supporters' letters to the same member. It never shows
anything of another supporter's words.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest
import yaml
from sqlalchemy import event, func, insert, select

from letters import clock
from letters.domain.own_words import (
    SHINGLE_WORDS,
    Nudge,
    NudgeKind,
    judge,
    largely_shared,
    sentences,
    shingles,
)
from letters.extensions import db
from letters.messages.own_words import SAMPLE, nudge_for
from letters.models import Message, OwnWordsShingle
from letters.settings import PROJECT_ROOT
from tests import factories
from tests.conftest import load_fixture_members
from tests.helpers import submit

# Two distinct sentences of their own for each of five supporters.
OWN_WORDS = [
    "I coach the under-twelves netball team in Braddon. Every girl on it has a phone.",
    "My grandson turned ten last month. He plays games online with strangers most nights.",
    "I taught in a primary school for thirty years. Children told me things that kept me awake.",
    "Our church sponsors a family in Cebu. Their youngest daughter is the age of my own.",
    "I work in cyber security for a bank. We stop fraud in seconds, so platforms could do this.",
]
PASTED = (
    "As a parent I am horrified that tech giants profit while children suffer. "
    "I demand that you act now to hold these companies to account for the harm they cause."
)


def _nudge(page: str) -> str:
    found = re.findall(r'data-nudge="([^"]+)"', page)
    assert len(found) == 1, found  # one nudge on the page, whichever it is
    return found[0]


def _text(page: str) -> str:
    """The page's words as a reader sees them: no tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split()).replace(" .", ".")


def _page(client, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _write(client, note: str, **changes: object) -> str:
    return _page(client, submit(client, personal_note=note, **changes))


def test_five_letters_to_one_member_with_their_own_words_are_never_warned(app_with_data):
    client = app_with_data.test_client()
    pages = [
        _write(client, note, name=f"Supporter {n}", postcode="2001")
        for n, note in enumerate(OWN_WORDS)
    ]
    for page in pages:
        assert _nudge(page) == "own-words"
        assert "Your own words: 2 sentences — letters with a local story get more weight" in _text(
            page
        )
    # Shown again after all five were written, each is still praised, never warned.
    with app_with_data.app_context():
        letters = db.session.scalars(select(Message)).all()
        assert len(letters) == 5
        assert {nudge_for(m).kind for m in letters} == {NudgeKind.OWN_WORDS}


def test_own_words_repeating_another_supporters_are_warned_and_nothing_of_theirs_shown(
    app_with_data,
):
    first = app_with_data.test_client()
    private = "My son Tobias goes to Braddon Primary and was contacted by a stranger."
    assert _nudge(_write(first, f"{PASTED}\n\n{private}", name="Rosalind First")) == "own-words"

    second = app_with_data.test_client()
    page = _write(second, PASTED, name="Sam Second")
    assert _nudge(page) == "shared-own-words"
    assert "much the same as other letters to Priya Nandakumar" in page
    # What the first supporter wrote beyond the shared words, and who they are: not a trace.
    assert "Tobias" not in page and "Rosalind" not in page and "First" not in page
    # The first letter is now shared too, by more than half: the same words count both ways.
    with app_with_data.app_context():
        rosalind = db.session.scalar(select(Message).where(Message.sender_name == "Rosalind First"))
        assert nudge_for(rosalind).kind == NudgeKind.SHARED_OWN_WORDS


def test_the_same_words_to_a_different_member_are_not_warned(app_with_data):
    client = app_with_data.test_client()
    _write(client, PASTED, name="To Banksia", postcode="2001")
    page = _write(client, PASTED, name="To Wattle", postcode="2003")
    assert "Hubert" not in page and "Wattle" in page  # the member for 2003
    assert _nudge(page) == "own-words"


def test_a_letter_with_no_own_words_is_asked_for_some_with_the_prompts(app_with_data):
    client = app_with_data.test_client()
    page = _write(client, "")
    assert _nudge(page) == "no-own-words"
    assert "Add a sentence or two of your own" in page
    assert re.search(r'href="/letters/[^"]+/edit#personal_note"', page)
    # The good form ticks "Protect all children": its prompt is offered.
    assert "Is there a child in your life this is about?" in page
    # Identical campaign text in many letters is no reason for the other kind of warning.
    assert _nudge(_write(client, "", name="Another")) == "no-own-words"


def test_the_encouragement_grows_with_what_was_written(app_with_data):
    client = app_with_data.test_client()
    one = _write(client, "My niece is eleven and online every day.")
    assert _nudge(one) == "own-words" and "Your own words: 1 sentence — a good start" in _text(one)
    assert "add another sentence" in one
    five = _write(client, " ".join(OWN_WORDS[:2]) + " " + OWN_WORDS[2].split(".")[0] + ". Ok.")
    assert _nudge(five) == "own-words"
    assert "Your own words: 5 sentences" in five and "read closely" in five


def test_letters_older_than_four_weeks_are_not_compared(app_with_data):
    client = app_with_data.test_client()
    start = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
    with clock.frozen(start):
        _write(client, PASTED, name="Long Ago")
    with clock.frozen(start + dt.timedelta(weeks=4, days=1)):
        assert _nudge(_write(client, PASTED, name="Today")) == "own-words"
    with clock.frozen(start + dt.timedelta(weeks=3)):
        assert _nudge(_write(client, PASTED, name="Within")) == "shared-own-words"


def test_an_edit_replaces_the_letters_own_words(app_with_data):
    first, second = app_with_data.test_client(), app_with_data.test_client()
    location = submit(first, personal_note=PASTED).headers["Location"]
    later = submit(second, personal_note=PASTED, name="Later")
    assert _nudge(_page(second, later)) == "shared-own-words"
    _page(first, submit(first, location + "/edit", personal_note=OWN_WORDS[0]))
    # The pasted paragraph is gone from the first letter, so the other one is no copy now.
    assert _nudge(second.get(later.headers["Location"]).get_data(as_text=True)) == "own-words"
    with app_with_data.app_context():
        token = location.rsplit("/", 1)[1]
        letter = db.session.scalar(select(Message).where(Message.token == token))
        stored = set(
            db.session.scalars(
                select(OwnWordsShingle.shingle).where(OwnWordsShingle.message_id == letter.id)
            )
        )
        assert stored == set(shingles(OWN_WORDS[0]))


def test_a_long_letter_is_judged_by_a_sample_of_its_words_and_judged_right(app_with_data):
    def words(prefix: str, count: int) -> str:
        return ". ".join(" ".join(f"{prefix}{n}x{k}" for k in range(8)) for n in range(count))

    long = words("a", 45)[:2000]  # about 350 words: sampled, not probed word by word
    client = app_with_data.test_client()
    assert _nudge(_write(client, long, name="Long One")) == "own-words"
    assert _nudge(_write(client, long, name="Long Copy")) == "shared-own-words"
    quarter = (long[:500] + ". " + words("b", 45))[:2000]
    assert _nudge(_write(client, quarter, name="Long Quarter")) == "own-words"


def test_a_long_letter_is_warned_by_what_its_sample_shares_not_by_the_rest(app_with_data):
    # Words for about one and a half samples' worth of shingles: every second one is probed.
    note = " ".join(f"w{n}" for n in range(SAMPLE * 3 // 2 + SHINGLE_WORDS - 1)) + "."
    mine = sorted(shingles(note))
    step = math.ceil(len(mine) / SAMPLE)
    assert step == 2
    probed = [s for s in mine if s % step == 0]
    unprobed = [s for s in mine if s % step]
    # Another letter to the member holds every unprobed shingle and just enough probed ones
    # to share half of them all: counted in full this letter would be warned, by its sample not.
    held = unprobed + probed[: max(0, math.ceil(len(mine) / 2) - len(unprobed))]
    assert largely_shared(len(held), len(mine))
    assert not largely_shared(len(held) - len(unprobed), len(probed))

    client = app_with_data.test_client()
    location = submit(client, personal_note=note).headers["Location"]
    with app_with_data.app_context():
        letter = db.session.scalar(select(Message).where(Message.token == location.split("/")[-1]))
        other = factories.message(division=letter.division, personal_note="Other words.")

        def file(filed: list[int]) -> None:
            rows = [
                {
                    "message_id": other.id,
                    "shingle": s,
                    "division": letter.division,
                    "written_at": letter.created_at,
                }
                for s in filed
            ]
            db.session.execute(insert(OwnWordsShingle), rows)
            db.session.commit()

        file(held)
        assert _nudge(client.get(location).get_data(as_text=True)) == "own-words"
        file(probed[len(held) - len(unprobed) :])  # and now the probed ones too
        assert _nudge(client.get(location).get_data(as_text=True)) == "shared-own-words"


def test_the_check_is_one_statement(app_with_data):
    client = app_with_data.test_client()
    for n, note in enumerate(OWN_WORDS):
        _write(client, note, name=f"Supporter {n}")
    with app_with_data.app_context():
        letter = db.session.scalars(select(Message)).first()
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            nudge_for(letter)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert len(statements) == 1 and "count" in statements[0].lower()


def test_a_sent_letter_shows_no_nudge(app_with_data):
    client = app_with_data.test_client()
    location = submit(client, personal_note="").headers["Location"]
    with app_with_data.app_context():
        token = location.rsplit("/", 1)[1]
        letter = db.session.scalar(select(Message).where(Message.token == token))
        letter.state = "sent"  # on its way: nothing it says can be changed any more
        db.session.commit()
    assert "data-nudge" not in client.get(location).get_data(as_text=True)


# --- prompts come from the campaign file ---------------------------------------------------


def test_the_prompts_come_from_the_campaign_file(make_app, tmp_path):
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    shipped = PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml"
    raw = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    duty = next(r for r in raw["recommendations"] if r["key"] == "duty-of-care")
    assert duty["title"] == "Protect all children."
    assert duty["prompt"] == "Is there a child in your life this is about?"
    duty["prompt"] = "Which young person would you most like to keep safe online?"
    (campaigns / "tougher-on-tech.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    app = make_app(CAMPAIGNS_DIR=campaigns)
    load_fixture_members(app.config["DATA_DIR"])
    client = app.test_client()
    page = _write(client, "", recommendations=["duty-of-care"], statistics=["afp-reports"])
    assert "Which young person would you most like to keep safe online?" in page
    assert "Is there a child in your life this is about?" not in page
    # And the form offers the ticked points' prompts beside the box for the own words.
    form = client.get("/write?recommendations=duty-of-care").get_data(as_text=True)
    assert "Which young person would you most like to keep safe online?" in form


def test_only_the_ticked_points_prompts_are_offered_two_at_most(app_with_data):
    client = app_with_data.test_client()
    page = _write(client, "", recommendations=["increase-fines"], statistics=["ncmec-reports"])
    assert _nudge(page) == "no-own-words" and "Something to write about" not in page
    page = _write(
        client,
        "",
        recommendations=["expand-expectations", "duty-of-care"],
        statistics=["tech-enabled", "afp-reports"],
    )
    offered = re.findall(r'<ul class="prompts">(.*?)</ul>', page, re.S)[0]
    assert offered.count("<li>") == 2
    assert "Is there a child in your life this is about?" in offered
    assert "Which of these apps" not in offered  # the recommendations' come first


# --- the rules, without a database ---------------------------------------------------------


def test_sentences_are_counted_by_their_ends_and_lines():
    assert sentences("") == sentences("Thanks.") == sentences("   ") == 0
    assert sentences("My niece is eleven. She is online every day!") == 2
    assert sentences("A line without a stop\nand another one") == 2
    assert sentences("Mr. Smith is my neighbour") == 1  # "Mr." alone is no sentence
    assert sentences("Thank you.") == 1  # two words are enough


def test_half_shared_warns_and_a_third_does_not():
    assert judge("Two sentences here. And one more here.", 5, 10) == Nudge(
        NudgeKind.SHARED_OWN_WORDS, sentences=2
    )
    assert judge("Two sentences here. And one more here.", 1, 1).kind == "shared-own-words"
    assert judge("Two sentences here. And one more here.", 0, 0).kind == "own-words"
    assert judge("Two sentences here. And one more here.", 3, 10).kind == "own-words"
    assert judge("", 0, 0).kind == "no-own-words"
    assert judge("Hi", 1, 1).kind == "no-own-words"  # a word is not yet a sentence


@pytest.mark.parametrize("spelling", ["Don\u2019t WAIT, please act", "don't wait please act"])
def test_shingles_ignore_case_punctuation_and_curly_apostrophes(spelling):
    assert shingles(spelling) == shingles("Don't wait, please act.")
    assert len(shingles(spelling)) == 1  # shorter than a shingle: the whole text is one
    assert len(shingles("one two three four five six seven")) == 3


def test_nothing_is_filed_for_a_letter_without_own_words(app_with_data):
    client = app_with_data.test_client()
    _write(client, "")
    with app_with_data.app_context():
        assert db.session.scalar(select(func.count()).select_from(OwnWordsShingle)) == 0
