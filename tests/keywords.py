"""Synthetic keyword lists for large sites (tests and benchmarks): subjects times angles."""

from __future__ import annotations

from typing import Any

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


def clustered_in_batches(
    texts: list[str], batch: int, order: list[int] | None = None, method: Any = None
) -> tuple[list[int], set[int]]:
    """`texts` grouped by the offline provider the way stage 1 does it (tests and benchmarks):
    in `order` (every position of `texts` once; in turn by default), in batches, each batch
    seeing the clusters made so far as their signatures, by `method` (by meaning unless given).
    Returns each text's cluster number and
    the positions of the texts that started a new cluster rather than joining one."""
    from cascade.ai.base import ClusterRef, KeywordIn
    from cascade.ai.clustering import BY_MEANING, cluster_keywords, make_signature

    order = list(range(len(texts))) if order is None else order
    members: dict[int, list[str]] = {}
    label: dict[int, int] = {}
    started: set[int] = set()
    for start in range(0, len(order), batch):
        existing = [ClusterRef(c, m[0], make_signature(m)) for c, m in members.items()]
        chunk = [KeywordIn(i, texts[i]) for i in order[start : start + batch]]
        for a in cluster_keywords(chunk, existing, method or BY_MEANING):
            cid = a.cluster_id if a.cluster_id is not None else len(members) + 1
            if a.cluster_id is None:
                started.update(a.keyword_ids)
            members.setdefault(cid, []).extend(texts[k] for k in a.keyword_ids)
            label.update(dict.fromkeys(a.keyword_ids, cid))
    return [label[i] for i in range(len(texts))], started
