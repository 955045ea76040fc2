"""The agglomeration under the offline provider's keyword clustering (`clustering.py`): one
average linkage over a batch's keywords and the site's existing clusters, and the keywords that
restate a cluster's member and join it before any grouping."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from cascade.ai.subjects import Rows


def dense(matrix: Any) -> np.ndarray:
    """A product of feature rows as an array, whether the rows were sparse or not."""
    return matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)


def unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Each row scaled to length 1 (an empty row stays empty), as scikit-learn's `normalize`."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1 / np.where(norms == 0, 1, norms)) @ matrix)


def stacked(parts: list[Any]) -> Any:
    """Feature rows one above the other: arrays, sparse rows or `subjects.Rows`."""
    if isinstance(parts[0], Rows):
        return Rows.stacked(parts)
    return sparse.vstack(parts).tocsr() if sparse.issparse(parts[0]) else np.vstack(parts)


def summed(owners: sparse.csr_matrix, rows: Any) -> Any:
    """Each owner's feature rows summed (row i of `owners` marks the rows of owner i)."""
    return rows.summed(owners) if isinstance(rows, Rows) else owners @ rows


def merge_groups(
    similarity: np.ndarray,
    sizes: np.ndarray,
    floor: float,
    join_floor: float,
    joins: dict[int, int] | None = None,
) -> list[list[int]]:
    """Average-linkage agglomeration of a batch's keywords together with existing clusters.

    Nodes 0..k-1 are the batch's keywords and nodes k.. the existing clusters, where k is
    `similarity`'s row count: `similarity[r, j]` sums the cosine similarities between keyword
    r and the members of node j (rows are unit vectors, so the sum is a dot product with the
    node's vector sum) and `sizes[j]` counts node j's members. The mean similarity of two groups
    is their summed similarity over the product of their sizes. Groups of new keywords merge
    while their mean similarity reaches `floor`; a group joins an existing cluster at
    `join_floor`; two existing clusters never merge. Each step takes the pair furthest above its
    own floor, so a join at mean similarity 0.12 with a floor of 0.10 beats a grouping at 0.16
    with a floor of 0.15. Memory and each step are proportional to k × (k + clusters), never to
    clusters². `joins` maps keywords to the clusters they join before any of this (a keyword
    restating a member of the cluster). Returns the groups as node indices; a cluster no keyword
    joined is not returned."""
    k, n = similarity.shape
    sim = np.array(similarity, dtype=float)
    size = np.asarray(sizes, dtype=float).copy()
    need = np.where(np.arange(n) < k, floor, join_floor)
    live_rows = np.ones(k, dtype=bool)
    live_cols = np.ones(n, dtype=bool)
    members: dict[int, list[int]] = {j: [j] for j in range(n)}

    def row_margins(r: int) -> np.ndarray:
        out = sim[r, :] / (size[r] * size) - need
        out[~live_cols] = -np.inf
        out[r] = -np.inf
        return out

    def col_margins(c: int) -> np.ndarray:
        out = sim[:, c] / (size[:k] * size[c]) - need[c]
        out[~live_rows] = -np.inf
        if c < k:
            out[c] = -np.inf
        return out

    margin = sim / np.outer(size[:k], size) - need
    margin[np.arange(k), np.arange(k)] = -np.inf

    def merge(row: int, col: int) -> None:
        """`row`, a group of new keywords, goes into `col`: another such group or a cluster."""
        live_rows[row] = live_cols[row] = False
        margin[row, :] = -np.inf
        margin[:, row] = -np.inf
        sim[:, col] += sim[:, row]
        size[col] += size[row]
        members[col] += members.pop(row)
        if col < k:
            sim[col, :] += sim[row, :]
            margin[col, :] = row_margins(col)
        margin[:, col] = col_margins(col)

    for row, col in (joins or {}).items():
        merge(row, col)
    while k:
        row, col = divmod(int(np.argmax(margin)), n)
        if margin[row, col] < 0:
            break
        merge(row, col)
    return [m for j, m in members.items() if j < k or len(m) > 1]


def restatements(
    keywords: Any,
    members: Any,
    owners: np.ndarray,
    candidates: np.ndarray,
    floor: float,
) -> dict[int, int]:
    """Keywords (rows of `keywords`) that restate a member of a candidate cluster (cosine at
    least `floor`: "betta tank size for beginners" after "betta tank size"), mapped to the
    position of that cluster in `candidates`. Such a keyword joins its member's cluster even
    when the cluster as a whole is broad: a new word shared by a later import ("at home")
    must not pull its keywords together into some other cluster."""
    if not len(candidates):
        return {}
    position = np.full(int(owners.max()) + 1, -1)
    position[candidates] = np.arange(len(candidates))
    rows = np.flatnonzero(position[owners] >= 0)
    sims = dense(keywords @ members[rows].T)
    best = sims.argmax(axis=1)
    return {i: int(position[owners[rows[b]]]) for i, b in enumerate(best) if sims[i, b] >= floor}
