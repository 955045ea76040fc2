"""How far a reader with knowledge of each domain agrees with the lists' labels: five of the
labelled lists, shuffled and without their topics, grouped into articles by a large
general-purpose language model, once not knowing how many topics a list has
(`bench/data/reader/unknown_count`) and once told the number (`known_count`). Prints one JSON
line: each list's adjusted Rand index against the labels and the topics made, per condition.
It measures the lists, not Cascade: what a method that knew each domain could reach on them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from common import labelled_lists
from sklearn.metrics import adjusted_rand_score

READER = Path(__file__).parent / "data" / "reader"


def main() -> None:
    labels = {
        path.stem: dict(zip(words, topics, strict=True)) for path, words, topics in labelled_lists()
    }
    found: dict[str, dict[str, dict[str, float]]] = {}
    for condition in ("unknown_count", "known_count"):
        for path in sorted((READER / condition).glob("*.csv")):
            grouped = {r["keyword"]: r["topic"] for r in csv.DictReader(path.open())}
            truth = labels[path.stem]
            assert grouped.keys() == truth.keys(), f"{path} does not group its list's keywords"
            keys = sorted(truth)
            score = adjusted_rand_score([truth[k] for k in keys], [grouped[k] for k in keys])
            found.setdefault(condition, {})[path.stem] = {
                "ari": round(score, 3),
                "topics": len(set(grouped.values())),
                "labelled_topics": len(set(truth.values())),
            }
    print(json.dumps(found))


if __name__ == "__main__":
    main()
