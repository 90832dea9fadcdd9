"""How much of a letter is the supporter's own, and whether other letters already say it.

The campaign's paragraphs are in every letter by design, so comparing whole letters calls
nearly every letter a copy. Only the supporter's own words are judged: how many sentences they
wrote, and how many of their word shingles (runs of five consecutive words, as WriteToThem
measures) other letters to the same member already hold. One "personal" paragraph pasted by
many is the form letter members' offices discount.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

SHINGLE_WORDS = 5
LARGELY_SHARED = 0.5  # WriteToThem's line: half the text seen before
SENTENCE_WORDS = 2  # fewer words than this ("Thanks.") is not a sentence of one's own
_WORD = re.compile(r"\w+(?:'\w+)*")
# A sentence ends at . ! ? or an ellipsis followed by a space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+|\n+")


def words(text: str) -> list[str]:
    """The text's words, lower case, with curly apostrophes made straight."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def sentences(text: str) -> int:
    """How many sentences of at least SENTENCE_WORDS words the text holds."""
    return sum(len(words(part)) >= SENTENCE_WORDS for part in _SENTENCE_END.split(text))


def _hash(shingle: str) -> int:
    # 64 bits, signed to fit a BIGINT, and the same in every process (unlike hash()).
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), signed=True)


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[int]:
    """The text's word shingles as stable 64-bit hashes; a shorter text is one shingle."""
    found = words(text)
    if len(found) < size:
        return frozenset({_hash(" ".join(found))}) if found else frozenset()
    return frozenset(_hash(" ".join(found[i : i + size])) for i in range(len(found) - size + 1))


def largely_shared(shared: int, total: int) -> bool:
    """Half or more of a letter's own shingles are in other letters to the same member."""
    return total > 0 and shared / total >= LARGELY_SHARED


class NudgeKind(StrEnum):
    """What the letter page says about the supporter's own words (its data-nudge value)."""

    OWN_WORDS = "own-words"  # encouragement, growing with what they wrote
    NO_OWN_WORDS = "no-own-words"  # a warning: only the campaign's words
    SHARED_OWN_WORDS = "shared-own-words"  # a warning: other letters say the same


@dataclass(frozen=True)
class Nudge:
    """The judgement of one letter's own words."""

    kind: NudgeKind
    sentences: int = 0

    @property
    def warning(self) -> bool:
        return self.kind != NudgeKind.OWN_WORDS


def judge(own_words: str, shared: int, total: int) -> Nudge:
    """Encourage the supporter's own words; warn only when there are none, or when most of
    them (`shared` of their `total` shingles) are already in other letters to the member."""
    count = sentences(own_words)
    if count == 0:
        return Nudge(NudgeKind.NO_OWN_WORDS)
    if largely_shared(shared, total):
        return Nudge(NudgeKind.SHARED_OWN_WORDS, count)
    return Nudge(NudgeKind.OWN_WORDS, count)
