"""The ceiling of the keyword model on the 15 labelled lists: each list's vectors, centred on the
list's mean, clustered all at once by average linkage into exactly as many clusters as the list
has topics (a number no method knows) and at the best single cosine distance (searched in steps
of 0.02). Whatever the batches, floors and subjects do, stage 1 by meaning cannot beat these.
Variants of what the model reads: the keyword as it is (`plain`), with search modifiers and stop
words taken out (`stripped`), the token vectors pooled over content words only (`content`), and
the first and last side by side (`both`). Prints one JSON line (mean and lowest ARI a variant)."""

from __future__ import annotations

import json
import sys

import numpy as np
from common import labelled_lists

MODIFIERS = frozenset(
    "a an the of for to in on at my is are do does how what why when which best vs versus or "
    "and with without can i you your it its be near me should good top guide tips beginners "
    "beginner".split()
)


def pooled(texts: list[str], content_only: bool) -> np.ndarray:
    """Mean-pooled unit vectors of the model, over every token or over content words only."""
    from cascade.ai.meaning import embedder

    if not content_only:
        return embedder.embed(texts)
    encodings = embedder.tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings])
    mask = np.array([e.attention_mask for e in encodings])
    hidden = embedder.session.run(
        None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    )[0]
    weights = mask.astype(np.float32)
    for i, encoding in enumerate(encodings):
        for j, token in enumerate(encoding.tokens):
            if token in MODIFIERS or token in ("[CLS]", "[SEP]"):
                weights[i, j] = 0
        if not weights[i].any():
            weights[i] = mask[i]
    vectors = (hidden * weights[..., None]).sum(axis=1) / weights.sum(axis=1)[:, None]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def stripped(text: str) -> str:
    return " ".join(w for w in text.split() if w not in MODIFIERS) or text


def variant(name: str, texts: list[str]) -> np.ndarray:
    if name == "stripped":
        return pooled([stripped(t) for t in texts], False)
    if name == "both":
        return np.hstack([pooled(texts, False), pooled(texts, True)])
    return pooled(texts, name == "content")


def ceilings(vectors: np.ndarray, topics: list[str]) -> tuple[float, float]:
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import adjusted_rand_score

    x = vectors.astype(np.float64) - vectors.mean(axis=0)
    x /= np.linalg.norm(x, axis=1, keepdims=True)

    def labels(**how: object) -> np.ndarray:
        model = AgglomerativeClustering(metric="cosine", linkage="average", **how)
        return model.fit_predict(x)

    at_topics = adjusted_rand_score(topics, labels(n_clusters=len(set(topics))))
    best = max(
        adjusted_rand_score(topics, labels(n_clusters=None, distance_threshold=d))
        for d in np.arange(0.5, 1.0, 0.02)
    )
    return at_topics, best


def main() -> None:
    from cascade.ai.meaning import embedder

    embedder.embed(["warm up"])  # loads the model and its tokenizer
    names = sys.argv[1:] or ["plain", "stripped", "content", "both"]
    found = {
        n: [ceilings(variant(n, texts), topics) for _, texts, topics in labelled_lists()]
        for n in names
    }
    print(
        json.dumps(
            {
                n: {
                    "at_topics_mean": round(float(np.mean([a for a, _ in s])), 3),
                    "best_threshold_mean": round(float(np.mean([b for _, b in s])), 3),
                    "at_topics_lowest": round(float(min(a for a, _ in s)), 3),
                }
                for n, s in found.items()
            }
        )
    )


if __name__ == "__main__":
    main()
