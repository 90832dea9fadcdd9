"""How much of a letter's text other letters already said (shingles, as WriteToThem measures).

A shingle is a run of consecutive words. Two letters that share most of their shingles read
as the same form letter, which members' offices discount.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

from letters.domain.compose import BulletList, Letter

SHINGLE_WORDS = 5
NEAR_IDENTICAL = 0.5  # WriteToThem's threshold: half the text seen before
_WORD = re.compile(r"[a-z0-9']+")


def letter_text(letter: Letter) -> str:
    """The body only: the greeting, sign-off and addresses are the same in every letter."""
    parts: list[str] = []
    for block in letter.body:
        items = block.items if isinstance(block, BulletList) else (block,)
        parts += [f"{item.lead} {item.text}" for item in items]
    return "\n".join(parts)


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[int]:
    """The text's word shingles, as stable 32-bit hashes (the same in every process)."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    if len(words) < size:
        return frozenset({zlib.crc32(" ".join(words).encode())}) if words else frozenset()
    return frozenset(
        zlib.crc32(" ".join(words[i : i + size]).encode()) for i in range(len(words) - size + 1)
    )


def shared_fraction(mine: Iterable[int], others: Iterable[Iterable[int]]) -> float:
    """The share of this letter's shingles found in any of the other letters (0 to 1)."""
    own = set(mine)
    if not own:
        return 0.0
    seen: set[int] = set()
    for other in others:
        seen.update(other)
    return len(own & seen) / len(own)
