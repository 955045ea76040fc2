"""Small text helpers every provider uses: counting an article's words, shortening a text."""

from __future__ import annotations

import re

TAG_RE = re.compile(r"<[^>]+>")


def count_words(html: str) -> int:
    return len(TAG_RE.sub(" ", html).split())


def clip(text: str, limit: int) -> str:
    """Shorten at a word boundary to at most `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"
