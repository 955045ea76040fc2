"""How well the offline provider's clustering recovers the topics of labelled keyword lists
(tests/data/clustering*/ and the labelled list), done the way stage 1 does it: the keywords in a
shuffled order, in batches that join the clusters made so far. Per list: the adjusted Rand index
(mean of 5 orders, at batches of 100 and of 20), clusters made against topics, the largest
cluster's share, and how many keywords of a later import (a fifth of each topic, held back)
started clusters of their own instead of joining the cluster of their topic. Then sites that
mix subjects: several lists as one site. By meaning (what sites of up to
CASCADE_MEANING_MAX_KEYWORDS keywords get) and by words (larger sites)."""

from __future__ import annotations

import csv
import json
import random
import statistics
import sys
from collections import Counter

from common import ROOT, labelled_lists

ORDERS = 5
MIXED_ORDERS = 3  # sites that mix subjects: several lists as one site


def stage_one(
    texts: list[str], batch: int, seed: int, held: set[int], method: object
) -> tuple[list[int], int]:
    """Cluster numbers of the texts, and how many held-back texts (imported last) made new
    clusters."""
    from tests.keywords import clustered_in_batches

    order = [i for i in range(len(texts)) if i not in held]
    random.Random(seed).shuffle(order)
    labels, started = clustered_in_batches(texts, batch, order + sorted(held), method)
    return labels, len(started & held)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from sklearn.metrics import adjusted_rand_score

    from cascade.ai.clustering import METHODS

    method = METHODS[sys.argv[1] if len(sys.argv) > 1 else "meaning"]

    out = []
    for path, texts, topics in labelled_lists():
        by_topic: dict[str, list[int]] = {}
        for i, t in enumerate(topics):
            by_topic.setdefault(t, []).append(i)
        held = {ids[-1] for ids in by_topic.values() if len(ids) >= 5}
        figures = {}
        for batch in (100, 20):
            runs = [stage_one(texts, batch, seed, set(), method) for seed in range(ORDERS)]
            figures[batch] = {
                "ari": statistics.mean(adjusted_rand_score(topics, lab) for lab, _ in runs),
                "clusters": statistics.mean(len(set(lab)) for lab, _ in runs),
                "largest": max(max(Counter(lab).values()) / len(lab) for lab, _ in runs),
            }
        _, stray = stage_one(texts, 20, 0, held, method)
        out.append(
            {
                "list": f"{path.parent.name}/{path.stem}",
                "keywords": len(texts),
                "topics": len(by_topic),
                "ari_100": round(figures[100]["ari"], 3),
                "ari_20": round(figures[20]["ari"], 3),
                "clusters_100": round(figures[100]["clusters"], 1),
                "largest": round(max(f["largest"] for f in figures.values()), 3),
                "later": len(held),
                "later_new": stray,
            }
        )
    mixed = []
    for name, paths in (
        (
            "the 8 lists of tests/data/clustering",
            sorted((ROOT / "tests/data/clustering").glob("*.csv")),
        ),
        (
            "the 6 lists of tests/data/clustering_search",
            sorted((ROOT / "tests/data/clustering_search").glob("*.csv")),
        ),
    ):
        rows = [(r, path.stem) for path in paths for r in csv.DictReader(path.open())]
        texts = [r["keyword"] for r, _ in rows]
        topics = [f"{domain}: {r['topic']}" for r, domain in rows]
        figures = {}
        for batch in (100, 20):
            runs = [stage_one(texts, batch, seed, set(), method)[0] for seed in range(MIXED_ORDERS)]
            figures[batch] = {
                "ari": statistics.mean(adjusted_rand_score(topics, lab) for lab in runs),
                "clusters": statistics.mean(len(set(lab)) for lab in runs),
                "largest": max(max(Counter(lab).values()) / len(lab) for lab in runs),
            }
        mixed.append(
            {
                "site": name,
                "keywords": len(texts),
                "topics": len(set(topics)),
                "ari_100": round(figures[100]["ari"], 3),
                "ari_20": round(figures[20]["ari"], 3),
                "clusters_100": round(figures[100]["clusters"], 1),
                "largest": round(max(f["largest"] for f in figures.values()), 3),
            }
        )
    print(
        json.dumps(
            {"method": method.name, "lists": out, "mixed": mixed, "mixed_orders": MIXED_ORDERS}
        )
    )


if __name__ == "__main__":
    main()
