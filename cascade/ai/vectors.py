"""Clustering keywords by their embedding vectors, batch by batch as stage 1 works: a keyword
joins the existing cluster whose centroid is nearest when it is close enough (every cluster of
the site is compared, not a first few hundred), and the rest of the batch is grouped by
average-linkage agglomerative clustering at the same similarity. A cluster keeps the sum of
its members' vectors (its centroid, once normalised), stored with the cluster."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DTYPE = np.float32


def pack(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=DTYPE).tobytes()


def unpack(data: bytes | memoryview | None, width: int | None = None) -> np.ndarray | None:
    """A stored vector, or None when there is none (or it is of another width)."""
    if not data:
        return None
    vector = np.frombuffer(bytes(data), dtype=DTYPE)
    if width is not None and vector.size != width:
        return None
    return vector


def normalized(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=DTYPE)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


@dataclass
class Grouping:
    joined: dict[int, list[int]]  # index of an existing centroid -> positions of the batch
    groups: list[list[int]]  # new groups, as positions of the batch


def group(vectors: np.ndarray, centroids: np.ndarray | None, similarity: float) -> Grouping:
    """Positions of `vectors` (one row a keyword) that join an existing centroid (rows of
    `centroids`, sums or means) at cosine similarity ≥ `similarity`, and the rest grouped
    among themselves at the same similarity (average linkage)."""
    vectors = normalized(vectors)
    joined: dict[int, list[int]] = {}
    rest = list(range(len(vectors)))
    if centroids is not None and len(centroids) and len(vectors):
        sims = vectors @ normalized(centroids).T
        best = sims.argmax(axis=1)
        rest = []
        for i, b in enumerate(best):
            if sims[i, b] >= similarity:
                joined.setdefault(int(b), []).append(i)
            else:
                rest.append(i)
    if len(rest) <= 1:
        return Grouping(joined, [rest] if rest else [])
    from sklearn.cluster import AgglomerativeClustering  # 0.6 s to import: only when used

    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=1.0 - similarity,
    ).fit_predict(vectors[rest])
    groups: dict[int, list[int]] = {}
    for position, label in zip(rest, labels, strict=True):
        groups.setdefault(int(label), []).append(position)
    return Grouping(joined, list(groups.values()))
