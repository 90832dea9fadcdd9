"""Campaign files: the shipped campaign is valid, a bad file names the file and field."""

from __future__ import annotations

import datetime as dt
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from letters.domain.campaign import CampaignError, Section, load_campaign, load_campaigns
from letters.settings import PROJECT_ROOT

CAMPAIGNS = PROJECT_ROOT / "data" / "campaigns"
SHIPPED = CAMPAIGNS / "tougher-on-tech.yaml"


def _write(tmp_path: Path, data: dict, name: str = "tougher-on-tech") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_shipped_campaign_has_the_stable_keys():
    campaign = load_campaign(SHIPPED)
    assert campaign.statistic_keys == (
        "ncmec-reports",
        "philippines-children",
        "afp-reports",
        "philippines-1-in-100",
        "tech-enabled",
    )
    assert campaign.recommendation_keys == ("increase-fines", "expand-expectations", "duty-of-care")
    assert campaign.default_recommendations == campaign.recommendation_keys


def test_writing_prompts_come_from_the_ticked_points_two_at_most():
    campaign = load_campaign(SHIPPED)
    duty = next(r for r in campaign.recommendations if r.key == "duty-of-care")
    assert duty.title == "Protect all children."
    assert campaign.prompts_for([], ["duty-of-care"]) == [duty.prompt]
    assert duty.prompt == "Is there a child in your life this is about?"
    # Every prompt of the ticked points, the recommendations' first, cut at two.
    everything = campaign.prompts_for(campaign.statistic_keys, campaign.recommendation_keys)
    assert len(everything) == 2 and everything[1] == duty.prompt
    assert campaign.prompts_for(["ncmec-reports"], ["increase-fines"]) == []  # none written


def test_minister_is_the_current_one_not_the_seeds():
    campaign = load_campaign(SHIPPED)
    assert "Anika Wells" in campaign.minister.name
    assert campaign.minister.as_of == dt.date(2025, 5, 13)
    assert "Rowland" not in SHIPPED.read_text(encoding="utf-8")


def test_stale_review_statements_are_kept_but_not_current():
    campaign = load_campaign(SHIPPED)
    keys = {s.key for s in campaign.statements}
    assert {"review-under-way", "review-handover"} <= keys
    assert all(not campaign.current_statements(section) for section in Section)


def test_campaign_check_cli_accepts_the_shipped_file(runner):
    result = runner.invoke(args=["campaign", "check", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "ok (5 statistics, 3 recommendations)" in result.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["statistics"][0].pop("text"), "statistics.0.text: Field required"),
        (lambda d: d["minister"].update(as_of="13 May 2025"), "minister.as_of"),
        (lambda d: d["recommendations"][1].update(key="Bad Key"), "recommendations.1.key"),
        (lambda d: d["letter"].update(ask="Tell {premier}"), "unknown placeholder {premier}"),
        (lambda d: d.update(colour="red"), "colour: Extra inputs are not permitted"),
        (lambda d: d["statistics"].append(dict(d["statistics"][0])), "appears twice"),
        (lambda d: d.update(subject="two\nlines"), "subject"),
        (lambda d: d.update(statistics=[]), "statistics"),
        (lambda d: d["recommendations"][2].update(prompt="two\nlines"), "2.prompt: Value error"),
        (lambda d: d["statistics"][1].update(prompt="Why? " * 40), "statistics.1.prompt"),
        (lambda d: d["recommendations"][0].update(prompt=["a", "list"]), "0.prompt"),
    ],
)
def test_a_bad_file_names_file_field_and_problem(tmp_path, raw, change, expected):
    change(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_unreadable_yaml_and_wrong_name(tmp_path, raw):
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: [unclosed", encoding="utf-8")
    with pytest.raises(CampaignError, match="not valid YAML"):
        load_campaign(broken)
    misnamed = _write(tmp_path, raw, name="other")
    with pytest.raises(CampaignError, match="must match the file name"):
        load_campaign(misnamed)


def test_campaign_check_cli_fails_with_the_problem(tmp_path, raw, runner):
    raw["recommendations"][0].pop("title")
    path = _write(tmp_path, raw)
    result = runner.invoke(args=["campaign", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}: recommendations.0.title: Field required" in result.output


def test_a_second_campaign_needs_no_code(tmp_path, raw):
    raw.update(key="second-campaign", title="Second Campaign")
    _write(tmp_path, raw, name="second-campaign")
    _write(tmp_path, yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))
    assert set(load_campaigns(tmp_path)) == {"second-campaign", "tougher-on-tech"}


def test_a_problem_across_fields_is_placed_at_the_top_level(tmp_path, raw, runner):
    # A rule over several fields (here: keys unique within a list) has no one field to name.
    raw["statistics"].append(dict(raw["statistics"][0]))
    path = _write(tmp_path, raw)
    result = runner.invoke(args=["campaign", "check", str(path)])
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if "appears twice" in line]
    assert line.startswith(f"{path}: (top level): ")


def test_the_error_of_a_file_with_several_problems_lists_each_after_the_file(tmp_path, raw):
    # What an operator reads when the app will not start on a bad campaign file.
    raw["statistics"][0].pop("text")
    raw["minister"].update(as_of="13 May 2025")
    path = _write(tmp_path, raw)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    first, second = caught.value.problems
    assert first.startswith("statistics.0.text") or second.startswith("statistics.0.text")
    assert "minister.as_of" in first + second
    assert str(caught.value) == f"{path}: {first}; {second}"


@pytest.mark.parametrize("line_break", ["\n", "\r", "\r\n"], ids=["LF", "CR", "CRLF"])
def test_a_subject_is_one_line_whatever_character_breaks_it(
    tmp_path: Path, raw: dict, line_break: str
) -> None:
    raw["subject"] = f"Protect children{line_break}online"
    path = _write(tmp_path, raw)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert caught.value.problems == ["subject: Value error, must be one line"]


def test_a_missing_file_is_named_with_the_systems_reason(tmp_path: Path) -> None:
    path = tmp_path / "tougher-on-tech.yaml"
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == f"{path}: cannot read: {os.strerror(errno.ENOENT)}"


def test_a_file_in_another_encoding_is_named_as_not_utf8(tmp_path: Path, raw: dict) -> None:
    raw["title"] = "Tougher on tech, café by café"
    path = tmp_path / "tougher-on-tech.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="latin-1")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == f"{path}: not UTF-8 text"


# A process whose locale is plain ASCII: no UTF-8 mode, and no coercing of the C locale to one.
ASCII_LOCALE = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
READ_TITLE = (
    "import locale, sys; from letters.domain.campaign import load_campaign; "
    "print(locale.getpreferredencoding(False)); print(load_campaign(sys.argv[1]).title)"
)


@pytest.mark.processes  # a process's locale is set as it starts
def test_a_file_is_read_as_utf8_whatever_the_machines_locale(tmp_path: Path, raw: dict) -> None:
    raw["title"] = "Tougher on tech, café by café"
    path = tmp_path / "tougher-on-tech.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", READ_TITLE, str(path)],
        env={**os.environ, **ASCII_LOCALE, "PYTHONIOENCODING": "utf-8"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    locale_encoding, title = result.stdout.splitlines()
    assert locale_encoding.lower().replace("-", "") != "utf8"  # the locale is not UTF-8
    assert title == raw["title"]


ALLOWED = "allowed: {division}, {member}, {minister}, {minister_title}"


def _ask_problems(tmp_path: Path, raw: dict, ask: str) -> list[str]:
    """What loading the campaign says of this letter.ask."""
    raw["letter"]["ask"] = ask
    with pytest.raises(CampaignError) as caught:
        load_campaign(_write(tmp_path, raw))
    return caught.value.problems


@pytest.mark.parametrize(
    "ask",
    ["Please tell {premier} too.", "Write to {{your MP}} and to {premier}."],
    ids=["alone", "after a literal brace"],
)
def test_an_unknown_placeholder_is_refused_with_the_ones_allowed(
    tmp_path: Path, raw: dict, ask: str
) -> None:
    assert _ask_problems(tmp_path, raw, ask) == [
        f"letter.ask: Value error, unknown placeholder {{premier}}; {ALLOWED}"
    ]


@pytest.mark.parametrize("placeholder", ["{member:>20}", "{member!r}"])
def test_a_placeholder_takes_no_format_and_no_conversion(
    tmp_path: Path, raw: dict, placeholder: str
) -> None:
    assert _ask_problems(tmp_path, raw, f"Please, {placeholder}, act.") == [
        f"letter.ask: Value error, placeholder {placeholder} takes no format; write {{member}}"
    ]


def test_a_file_that_is_not_yaml_is_named_with_the_parsers_reason(tmp_path: Path) -> None:
    path = tmp_path / "tougher-on-tech.yaml"
    path.write_text("key: [unclosed", encoding="utf-8")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value).startswith(f"{path}: not valid YAML: ")


@pytest.mark.parametrize("text", ["- a list\n- of fields\n", "just words\n", ""])
def test_a_file_that_is_not_a_mapping_of_fields_says_so_at_the_top_level(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "tougher-on-tech.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == f"{path}: (top level): expected a mapping of fields"


def test_a_file_whose_key_is_not_its_name_names_both(tmp_path: Path, raw: dict) -> None:
    path = _write(tmp_path, raw, name="other")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == (f"{path}: key: 'tougher-on-tech' must match the file name 'other'")


def test_a_branding_file_missing_from_the_campaigns_folder_is_named(
    tmp_path: Path, raw: dict
) -> None:
    raw["branding"] = {"logo": "logo.svg", "share_image": "share.png"}
    (tmp_path / "share.png").write_bytes(b"")
    path = _write(tmp_path, raw)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == f"{path}: branding: 'logo.svg' is not in {tmp_path}"
