"""Campaign content (data/campaigns/*.yaml), loaded and validated."""

from __future__ import annotations

import datetime as dt
import string
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

try:
    # libyaml's loader, where PyYAML was built with it, is C rather than Python: every process
    # that builds the app (and every test) reads the campaign file.
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - PyYAML's wheels include libyaml
    from yaml import SafeLoader  # type: ignore[assignment]

# The only placeholders letter text may use; compose() fills them in.
PLACEHOLDERS = frozenset({"member", "division", "minister", "minister_title"})
Key = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)]
Text = Annotated[str, Field(min_length=1)]
# A writing prompt shown beside the supporter's own words when they tick the point; a page's
# words, never the letter's, so one short line.
Prompt = Annotated[str, Field(max_length=150)]
MAX_PROMPTS = 2  # more than two questions reads as a form to fill in


class CampaignError(ValueError):
    """A campaign file that cannot be used: says which file, which field, and what is wrong."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def _check_placeholders(text: str) -> str:
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise ValueError(f"unknown placeholder {{{name}}}; allowed: {allowed}")
        if spec or conversion:
            # {member:>20} or {member!r}: a known name, written as it may not be.
            written = "{" + name + (f"!{conversion}" if conversion else "")
            written += (f":{spec}" if spec else "") + "}"
            raise ValueError(f"placeholder {written} takes no format; write {{{name}}}")
    return text


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be one line")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Statistic(_Strict):
    """A fact a supporter may cite."""

    key: Key
    text: Text
    as_of: dt.date
    default: bool = False
    prompt: Prompt = ""

    _prompt_one_line = field_validator("prompt")(_one_line)


class Recommendation(_Strict):
    """One of the campaign's recommendations: a short title and its explanation."""

    key: Key
    title: Text
    text: Text
    default: bool = False
    prompt: Prompt = ""

    _prompt_one_line = field_validator("prompt")(_one_line)


class Minister(_Strict):
    """Who the member is asked to pass the concerns to."""

    name: Text
    title: Text
    as_of: dt.date
    email: str = ""


# WCAG 2's AA level for normal text: the brand colour carries white text (the header, buttons)
# and is itself text on white (links), so it must reach this ratio against white both ways.
AA_CONTRAST = 4.5
LOGO_SUFFIXES = (".svg", ".png")
SHARE_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def contrast_with_white(colour: str) -> float:
    """WCAG 2's contrast ratio between a "#rrggbb" colour and white."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    return 1.05 / (luminance + 0.05)


def _file_name(value: str, suffixes: tuple[str, ...]) -> str:
    # A plain name in the campaigns folder: no folders, nothing hidden, a known kind of image.
    if value and (
        "/" in value
        or "\\" in value
        or value.startswith(".")
        or not value.lower().endswith(suffixes)
    ):
        raise ValueError(
            f"must be a file name in the campaigns folder ending {', '.join(suffixes)}"
        )
    return value


class Branding(_Strict):
    """The campaign's own look on its pages and emails (never on the printed letter)."""

    organisation_url: str = Field("", pattern=r"^(https://[^\s\"<>]+)?$")
    colour: str = Field("", pattern=r"^(#[0-9a-fA-F]{6})?$")
    logo: str = ""  # shown in every page's header, and the pages' icon
    share_image: str = ""  # what a link to the campaign shows when shared (og:image)

    @field_validator("colour")
    @classmethod
    def _readable_on_white(cls, value: str) -> str:
        if value and (ratio := contrast_with_white(value)) < AA_CONTRAST:
            raise ValueError(
                f"{value} has a contrast of {ratio:.2f}:1 with white; pages need at least "
                f"{AA_CONTRAST}:1 (WCAG AA): choose a darker colour"
            )
        return value.lower()

    @field_validator("logo")
    @classmethod
    def _logo_file(cls, value: str) -> str:
        return _file_name(value, LOGO_SUFFIXES)

    @field_validator("share_image")
    @classmethod
    def _share_file(cls, value: str) -> str:
        return _file_name(value, SHARE_IMAGE_SUFFIXES)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(name for name in (self.logo, self.share_image) if name)


class EmailOptions(_Strict):
    """How email letters go out for this campaign."""

    cc_minister: bool = False


class Section(StrEnum):
    """Where in the letter a time-sensitive statement goes (just before this section)."""

    CONCERN = "concern"
    RECOMMENDATIONS = "recommendations"
    ASK = "ask"


class Statement(_Strict):
    """A time-sensitive statement; only reaches letters while an organiser marks it current."""

    key: Key
    text: Text
    as_of: dt.date
    current: bool = False
    section: Section = Section.ASK

    _placeholders = field_validator("text")(_check_placeholders)


class LetterText(_Strict):
    """The written letter's fixed paragraphs (the spoken script, rewritten for paper)."""

    opening: Text
    concern: Text
    statistics_intro: str = ""
    call_to_act: str = ""
    support: str = ""
    recommendations_intro: str = ""
    personal_intro: str = ""
    ask: Text
    thanks: str = ""

    @field_validator("*")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return _check_placeholders(value)


class Campaign(_Strict):
    """A whole campaign: content for the pages and the letter."""

    key: Key
    title: Text
    organisation: str = ""
    summary: str = ""
    intro: list[Text] = Field(min_length=1)
    subject: Text = Field(max_length=200)
    minister: Minister
    letter: LetterText
    statistics: list[Statistic] = Field(min_length=1)
    recommendations: list[Recommendation] = Field(min_length=1)
    statements: list[Statement] = Field(default_factory=list)
    email: EmailOptions = Field(default_factory=EmailOptions)
    branding: Branding = Field(default_factory=Branding)

    @model_validator(mode="after")
    def _cc_needs_an_address(self) -> Campaign:
        if self.email.cc_minister and "@" not in self.minister.email:
            raise ValueError("email.cc_minister is true but minister.email is not an address")
        return self

    _one_line_subject = field_validator("subject")(_one_line)

    @model_validator(mode="after")
    def _unique_keys(self) -> Campaign:
        for label, items in (
            ("statistics", self.statistics),
            ("recommendations", self.recommendations),
            ("statements", self.statements),
        ):
            seen: set[str] = set()
            for item in items:
                if item.key in seen:
                    raise ValueError(f"{label}: key {item.key!r} appears twice")
                seen.add(item.key)
        return self

    @property
    def statistic_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.statistics)

    @property
    def recommendation_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.recommendations)

    @property
    def default_statistics(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.statistics if s.default)

    @property
    def default_recommendations(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.recommendations if r.default)

    def prompts_for(
        self, statistics: list[str] | tuple[str, ...], recommendations: list[str] | tuple[str, ...]
    ) -> list[str]:
        """The writing prompts of the ticked points, at most MAX_PROMPTS: the recommendations'
        first (what the supporter asks for), then the statistics', in the file's order."""
        ticked = [r for r in self.recommendations if r.key in recommendations]
        ticked += [s for s in self.statistics if s.key in statistics]
        prompts: list[str] = []
        for point in ticked:
            if point.prompt and point.prompt not in prompts:
                prompts.append(point.prompt)
        return prompts[:MAX_PROMPTS]

    def current_statements(self, section: Section) -> list[Statement]:
        return [s for s in self.statements if s.current and s.section == section]


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{where}: {item['msg']}")
    return problems


def load_campaign(path: Path | str) -> Campaign:
    """Read and validate one campaign file; CampaignError names the file, field and problem."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
    except OSError as exc:
        raise CampaignError(path, [f"cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise CampaignError(path, ["not UTF-8 text"]) from exc
    except yaml.YAMLError as exc:
        raise CampaignError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise CampaignError(path, ["(top level): expected a mapping of fields"])
    try:
        campaign = Campaign.model_validate(raw)
    except ValidationError as exc:
        raise CampaignError(path, _describe(exc)) from exc
    if campaign.key != path.stem:
        raise CampaignError(path, [f"key: {campaign.key!r} must match the file name {path.stem!r}"])
    missing = [name for name in campaign.branding.files if not (path.parent / name).is_file()]
    if missing:
        raise CampaignError(
            path, [f"branding: {name!r} is not in {path.parent}" for name in missing]
        )
    return campaign


def load_campaigns(directory: Path) -> dict[str, Campaign]:
    """Every campaign in a folder, by key."""
    return {c.key: c for c in map(load_campaign, sorted(directory.glob("*.yaml")))}
