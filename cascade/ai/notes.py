"""What a reviewer's rewrite note asks for that a writer can check: a length ("keep it under 800
words", "about 1,200 words", "at least 500 words"). Both providers follow it; a real model also
reads the rest of the note, the offline one cannot."""

from __future__ import annotations

import re
from dataclasses import dataclass

TOLERANCE = 0.15  # how far from the asked length an article may land
LENGTH_RE = re.compile(
    r"\b(?:(?P<under>under|below|fewer than|less than|at most|no more than|max(?:imum)?|up to|within)"
    r"|(?P<over>over|above|more than|at least|min(?:imum)?)"
    r"|(?:about|around|roughly|approximately|some|~))?\s*"
    r"(?P<n>\d{1,3}(?:[,.]\d{3})+|\d{2,6})\s*words?\b",
    re.I,
)


@dataclass(frozen=True)
class LengthGoal:
    """A length a note asks for: the words aimed at, and the range an article must land in."""

    aim: int
    low: int
    high: int

    def allows(self, words: int) -> bool:
        return self.low <= words <= self.high

    def say(self) -> str:
        return f"between {self.low:,} and {self.high:,} words"


# A number of words about a part of the article, not the whole: "add about 200 words on
# pricing", "paragraphs under 100 words", "a 50-word intro".
PART_BEFORE = re.compile(
    r"\b(add|adding|extra|more|another|each|every|per|paragraphs?|sections?|sentences?|intro(duction)?|conclusion|summary)\b\W*(\w+\W+){0,2}$",
    re.I,
)
PART_AFTER = re.compile(
    r"^\W*(on|about|for|per|in each|each|of|to the|paragraphs?|sections?|sentences?|intro(duction)?|conclusion|summary|more)\b",
    re.I,
)


def _whole_article(note: str, found: re.Match[str]) -> bool:
    return not PART_BEFORE.search(note[: found.start()]) and not PART_AFTER.search(
        note[found.end() :]
    )


def length_goal(note: str) -> LengthGoal | None:
    """The length of the whole article a note asks for, or None when it names none (a number
    of words about a part of it does not count)."""
    found = next((m for m in LENGTH_RE.finditer(note or "") if _whole_article(note, m)), None)
    if not found:
        return None
    n = int(re.sub(r"[,.]", "", found["n"]))
    if n < 50:
        return None
    if found["under"]:
        low, high = round(n * (1 - TOLERANCE)), n
    elif found["over"]:
        low, high = n, round(n * (1 + TOLERANCE))
    else:
        low, high = round(n * (1 - TOLERANCE)), round(n * (1 + TOLERANCE))
    return LengthGoal(aim=(low + high) // 2, low=low, high=high)


def only_about_length(note: str) -> bool:
    """Whether a note asks for nothing but a length (what the offline writer can follow)."""
    rest = LENGTH_RE.sub(" ", note or "")
    rest = re.sub(
        r"\b(please|keep|make|it|the|article|text|this|a|an|and|to|be|shorter|longer)\b",
        " ",
        rest,
        flags=re.I,
    )
    return not re.sub(r"[\W_]+", "", rest)
