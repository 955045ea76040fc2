"""Words for people, shared by every app."""

from __future__ import annotations


def listed(words: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"; ["a"] -> "a"."""
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]]))
