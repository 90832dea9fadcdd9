"""The composer: a written letter from the spoken script, with only what was chosen."""

from __future__ import annotations

import datetime as dt

import pytest

from letters.domain.campaign import load_campaign
from letters.domain.compose import (
    BulletList,
    Choices,
    ComposeError,
    Paragraph,
    Recipient,
    Sender,
    compose,
    format_date,
    split_paragraphs,
)
from letters.settings import PROJECT_ROOT

CAMPAIGN = load_campaign(PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml")
SENDER = Sender("Jane Citizen", "12 Example St", "Braddon", "ACT", "2612", "jane@example.org")
MEMBER = Recipient("David Smith", "Bean", "ACT", "ALP")
TODAY = dt.date(2026, 11, 27)


def _text(letter) -> str:
    parts = []
    for block in letter.body:
        items = block.items if isinstance(block, BulletList) else (block,)
        parts += [f"{p.lead} {p.text}".strip() for p in items]
    return "\n".join(parts)


def _letter(**choices):
    defaults = {"statistics": ("afp-reports",), "recommendations": CAMPAIGN.recommendation_keys}
    defaults.update(choices)
    return compose(CAMPAIGN, SENDER, Choices(**defaults), MEMBER, today=TODAY)


def test_letter_has_the_parts_of_a_letter():
    letter = _letter()
    assert letter.date_text == "27 November 2026"
    assert letter.greeting == "Dear David Smith"
    assert letter.closing == "Yours sincerely"
    assert letter.recipient.address_lines == (
        "David Smith MP",
        "Member for Bean",
        "PO Box 6022",
        "House of Representatives",
        "Parliament House",
        "Canberra ACT 2600",
    )
    assert letter.sender.address_lines == ("12 Example St", "Braddon ACT 2612")
    assert letter.subject == CAMPAIGN.subject


def test_spoken_script_becomes_written():
    text = _text(_letter(statistics=CAMPAIGN.statistic_keys)).lower()
    for spoken in ("i'm calling", "register my views", "pass them on", "<name"):
        assert spoken not in text


def test_only_chosen_points_in_campaign_order():
    letter = _letter(
        statistics=("tech-enabled", "ncmec-reports"), recommendations=("duty-of-care",)
    )
    lists = [b for b in letter.body if isinstance(b, BulletList)]
    stats, recs = lists
    by_key = {s.key: s.text for s in CAMPAIGN.statistics}
    assert [p.text for p in stats.items] == [by_key["ncmec-reports"], by_key["tech-enabled"]]
    assert [p.lead for p in recs.items] == ["Protect all children."]
    text = _text(letter)
    assert by_key["afp-reports"] not in text
    assert "Increase the fines." not in text


def test_ask_names_the_minister_from_the_campaign():
    text = _text(_letter())
    assert "Minister for Communications, the Hon Anika Wells MP" in text
    assert "Rowland" not in text
    assert "31 October" not in text  # stale statements stay out unless marked current


def test_current_statement_is_included(tmp_path):
    marked = CAMPAIGN.model_copy(
        update={
            "statements": [
                CAMPAIGN.statements[0].model_copy(update={"current": True}),
                *CAMPAIGN.statements[1:],
            ]
        }
    )
    letter = compose(
        marked,
        SENDER,
        Choices(("afp-reports",), ("increase-fines",)),
        MEMBER,
        today=TODAY,
    )
    assert CAMPAIGN.statements[0].text in _text(letter)


def test_the_letter_reads_in_the_campaigns_order_with_every_part_filled_in():
    from letters.domain.campaign import Section, Statement

    fields = ("opening", "concern", "statistics_intro", "call_to_act", "recommendations_intro")
    fields += ("personal_intro", "ask", "thanks")
    # Every fixed part names the member, so each is seen to be filled in; `support` is empty
    # and leaves no paragraph.
    text = {name: f"[{name}] to {{member}} for {{division}}" for name in fields}
    statements = [
        Statement(
            key=f"now-{s.value}",
            text=f"[{s.value} now] {{member}}",
            as_of=TODAY,
            current=True,
            section=s,
        )
        for s in Section
    ]
    campaign = CAMPAIGN.model_copy(
        update={
            "letter": CAMPAIGN.letter.model_copy(update={**text, "support": ""}),
            "statements": statements,
        }
    )
    choices = Choices(("afp-reports",), ("duty-of-care",), "Mine.\r\rAlso mine.")
    letter = compose(campaign, SENDER, choices, MEMBER, today=TODAY)
    rows = []
    for block in letter.body:
        for p in block.items if isinstance(block, BulletList) else (block,):
            rows.append((p.lead, p.text, p.own))
    stat = next(s.text for s in CAMPAIGN.statistics if s.key == "afp-reports")
    rec = next(r for r in CAMPAIGN.recommendations if r.key == "duty-of-care")

    def fixed(name: str) -> tuple[str, str, bool]:
        return ("", f"[{name}] to David Smith for Bean", False)

    assert letter.campaign_title == campaign.title
    assert letter.personal_note == "Mine.\n\nAlso mine."
    assert rows == [
        fixed("opening"),
        ("", "[concern now] David Smith", False),
        fixed("concern"),
        fixed("statistics_intro"),
        ("", stat, False),
        fixed("call_to_act"),
        ("", "[recommendations now] David Smith", False),
        fixed("recommendations_intro"),
        (rec.title, rec.text, False),
        fixed("personal_intro"),
        ("", "Mine.", True),
        ("", "Also mine.", True),
        ("", "[ask now] David Smith", False),
        fixed("ask"),
        fixed("thanks"),
    ]


def test_personal_words_are_their_own_paragraphs_before_the_ask():
    letter = _letter(personal_note="My niece is eleven.\r\n\r\n  She is online every day. ")
    texts = [b.text for b in letter.body if isinstance(b, Paragraph)]
    assert "My niece is eleven." in texts
    assert "She is online every day." in texts
    ask_at = next(i for i, t in enumerate(texts) if "Minister for Communications" in t)
    assert texts.index("She is online every day.") < ask_at
    # A Windows line break is one line break, not a blank line between two paragraphs.
    assert split_paragraphs("One line\r\nthe next") == ["One line\nthe next"]


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"statistics": ()}, "choose at least one statistic"),
        ({"recommendations": ()}, "choose at least one recommendation"),
        ({"statistics": ("made-up",)}, "unknown campaign points: made-up"),
        ({"statistics": ("zz", "aa")}, "unknown campaign points: aa, zz"),
    ],
)
def test_bad_choices_are_refused(choices, message):
    with pytest.raises(ComposeError) as refused:
        _letter(**choices)
    assert str(refused.value) == message


def test_member_name_with_braces_is_not_a_placeholder():
    odd = Recipient("{minister}", "Bean")
    letter = compose(
        CAMPAIGN, SENDER, Choices(("afp-reports",), ("increase-fines",)), odd, today=TODAY
    )
    assert letter.greeting == "Dear {minister}"


def test_format_date_has_no_leading_zero():
    assert format_date(dt.date(2026, 3, 5)) == "5 March 2026"


def test_stored_choices_drop_retired_points_and_fall_back_to_defaults():
    from letters.domain.compose import stored_choices

    kept = stored_choices(CAMPAIGN, ["retired", "tech-enabled"], ["duty-of-care"], "Hi")
    assert kept.statistics == ("tech-enabled",) and kept.recommendations == ("duty-of-care",)
    fallback = stored_choices(CAMPAIGN, ["retired"], [], "")
    assert fallback.statistics == CAMPAIGN.default_statistics
    assert fallback.recommendations == CAMPAIGN.default_recommendations


def test_stored_choices_of_a_campaign_without_defaults_are_its_first_statistic_and_every_ask(
    tmp_path,
):
    import yaml

    from letters.domain.compose import stored_choices

    shipped = PROJECT_ROOT / "data" / "campaigns" / "tougher-on-tech.yaml"
    raw = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    for point in raw["statistics"] + raw["recommendations"]:
        point.pop("default", None)
    (tmp_path / shipped.name).write_text(yaml.safe_dump(raw), encoding="utf-8")
    plain = load_campaign(tmp_path / shipped.name)
    assert plain.default_statistics == () and plain.default_recommendations == ()
    fallback = stored_choices(plain, [], ["retired"], "")
    assert fallback.statistics == plain.statistic_keys[:1]
    assert fallback.recommendations == plain.recommendation_keys
    assert len(plain.statistic_keys) > 1 and len(plain.recommendation_keys) > 1
