"""Synthetic keyword lists for large sites (tests and benchmarks): subjects times angles."""

from __future__ import annotations

SUBJECTS = (
    "tomato lawn compost rose basil deck fence patio roof gutter faucet boiler window paint tile hedge "
    "orchard pond greenhouse mulch shed lighting insulation drain"
).split() + ["raised bed"]
ANGLES = [
    "care guide",
    "cost",
    "problems",
    "ideas",
    "for beginners",
    "maintenance",
    "tools",
    "in winter",
    "repair",
    "installation",
    "best time",
    "mistakes",
    "checklist",
    "diy",
    "pests",
    "watering",
    "design",
    "materials",
    "budget",
    "cleaning",
    "safety",
    "storage",
    "layout",
    "lighting plan",
    "weekend project",
]
SETTINGS = ["garden", "home", "outdoor", "indoor", "small", "large", "cheap", "modern"]


def synthetic_keywords(count: int) -> list[str]:
    """`count` distinct keywords like "tomato garden care guide" (numbered past the combinations)."""
    words = [f"{s} {place} {a}" for s in SUBJECTS for place in SETTINGS for a in ANGLES]
    extra = 0
    while len(words) < count:
        extra += 1
        words += [f"{w} {extra}" for w in words[: count - len(words)]]
    return words[:count]
