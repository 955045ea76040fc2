"""Keyword vectors measured from the centre of their own subject, for clustering by meaning.

What every keyword of a subject shares ("espresso", "bike") dominates a sentence embedding;
measured from the subject's centre, it weighs nothing and what tells the subject's topics apart
weighs all. A site of one subject has one centre. A site that mixes subjects (espresso, dog
care and personal finance) would, measured from the centre of them all, keep each subject's
shared direction, and lump that subject's topics together; so the texts at hand are first
grouped into subjects (average linkage of the raw vectors of each keyword and of each existing
cluster's members, loosely), and each subject is measured from its own centre in a subspace of
its own, beside the whole batch's centre with less weight: keywords of two subjects meet only
there, so they seldom group, while neighbouring subjects of one broad site still can.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from cascade.ai.vectors import normalized

# Two groups of texts belong to one subject while the mean cosine distance of their raw
# vectors is at most this (keywords of one subject are at 0.5-0.8, of two at 0.85-1.0).
APART = 0.85
# Texts a subject needs to be measured from its own centre; a smaller group joins the nearest
# subject (a lone off-topic keyword, a subject the site has hardly begun).
SMALLEST = 15
# Subjects kept apart at most (the largest; the rest join the nearest of them): each is a block
# of columns, and the products of the rows grow with them.
MOST = 8
# Nodes (keywords and clusters) the subjects are found among; beyond, the rest join the nearest.
FOUND_AMONG = 1500
# Keywords' worth of the origin in a centre: the centre of a few keywords is mostly their shared
# topic, and taking all of it away would set them apart.
SHRINK = 5
# The share of a text's vector measured from its subject's centre; the rest is measured from the
# centre of all the texts, so that neighbouring subjects of one broad site (plumbing and kitchen
# remodelling on a home-and-garden site) still meet, less closely.
OWN = 0.7


def _centred(raw: np.ndarray) -> np.ndarray:
    return normalized(raw - raw.sum(axis=0) / (len(raw) + SHRINK))


def summing(owner: np.ndarray, count: int) -> sparse.csr_matrix:
    """The matrix that sums rows by their owner (row i of the product: the rows owned by i)."""
    ones = np.ones(len(owner))
    return sparse.csr_matrix((ones, (owner, np.arange(len(owner)))), shape=(count, len(owner)))


def subjects(raw: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Each text's subject (0, 1, ...). `nodes` says which texts stand together: a keyword
    alone, an existing cluster's members as one (a cluster is never split between subjects)."""
    from scipy.cluster import hierarchy  # (imported when used: every command would wait for it)

    ids, inverse = np.unique(nodes, return_inverse=True)
    if len(ids) < 2:
        return np.zeros(len(raw), dtype=int)
    sums = summing(inverse, len(ids)) @ raw
    sizes = np.bincount(inverse)
    # The largest nodes (clusters first) and every keyword up to FOUND_AMONG are grouped;
    # any further node joins the group of its nearest grouped node.
    found = np.sort(np.argsort(-sizes, kind="stable")[:FOUND_AMONG])
    tree = hierarchy.linkage(normalized(sums[found]), method="average", metric="cosine")
    group = np.empty(len(ids), dtype=int)
    group[found] = hierarchy.fcluster(tree, t=APART, criterion="distance") - 1
    rest = np.setdiff1d(np.arange(len(ids)), found)
    if len(rest):
        group[rest] = group[found][
            np.argmax(normalized(sums[rest]) @ normalized(sums[found]).T, axis=1)
        ]
    texts_in = np.bincount(group, weights=sizes)
    kept = np.flatnonzero(texts_in >= SMALLEST)
    kept = kept[np.argsort(-texts_in[kept], kind="stable")[:MOST]]
    if len(kept) <= 1:
        return np.zeros(len(raw), dtype=int)
    group_sums = summing(group, group.max() + 1) @ sums
    nearest = np.argmax(normalized(group_sums) @ normalized(group_sums[kept]).T, axis=1)
    nearest[kept] = np.arange(len(kept))
    return nearest[group][inverse]


@dataclass(frozen=True, eq=False)  # (arrays: compared by identity)
class Rows:
    """Unit rows of texts of several subjects, in two dense parts: `own`, each text measured
    from its subject's centre (scaled by √OWN), and `whole`, measured from the centre of them
    all (by √(1 − OWN)). Two rows' product is own·own when their subjects are one, plus
    whole·whole: a block of columns per subject, without the blocks' zeros. Rows index, stack,
    sum and multiply (`a @ b.T`) as the arrays of the one-subject case do."""

    own: np.ndarray
    whole: np.ndarray
    subject: np.ndarray
    transposed: bool = False

    def __len__(self) -> int:
        return len(self.own)

    def __getitem__(self, index) -> Rows:
        return Rows(self.own[index], self.whole[index], self.subject[index])

    @property
    def T(self) -> Rows:  # noqa: N802 (read as an array's)
        return replace(self, transposed=not self.transposed)

    def __matmul__(self, other: Rows) -> np.ndarray:
        if self.transposed or not other.transposed:
            return NotImplemented
        out = self.whole @ other.whole.T
        for s in np.intersect1d(self.subject, other.subject):
            mine, theirs = np.flatnonzero(self.subject == s), np.flatnonzero(other.subject == s)
            out[np.ix_(mine, theirs)] += self.own[mine] @ other.own[theirs].T
        return out

    def summed(self, owners: sparse.spmatrix) -> Rows:
        """Each owner's rows summed (row i of `owners` marks the rows of owner i). An owner's
        rows are of one subject: a cluster is never split between subjects."""
        owners = sparse.csr_matrix(owners)
        subject = np.zeros(owners.shape[0], dtype=self.subject.dtype)
        held = np.diff(owners.indptr) > 0
        subject[held] = self.subject[owners.indices[owners.indptr[:-1][held]]]
        return Rows(owners @ self.own, owners @ self.whole, subject)

    @staticmethod
    def stacked(parts: list[Rows]) -> Rows:
        return Rows(
            np.concatenate([p.own for p in parts]),
            np.concatenate([p.whole for p in parts]),
            np.concatenate([p.subject for p in parts]),
        )


def measured(raw: np.ndarray, nodes: np.ndarray | None = None) -> np.ndarray | Rows:
    """Unit rows. With one subject, each text measured from the centre of them all (an array).
    With several, `Rows`: each text measured from its subject's centre (weight OWN) beside the
    same text measured from the centre of them all (the rest): two texts of one subject meet in
    both, two of different subjects only in the second."""
    if nodes is None:
        nodes = np.arange(len(raw))
    subject = subjects(raw, nodes) if len(raw) else np.zeros(0, dtype=int)
    if not len(subject) or subject.max() == 0:
        return _centred(raw)
    own = np.empty_like(raw)
    for s in range(int(subject.max()) + 1):
        where = subject == s
        own[where] = _centred(raw[where])
    scale = np.float32(np.sqrt(OWN)), np.float32(np.sqrt(1 - OWN))
    return Rows(scale[0] * own, scale[1] * _centred(raw), subject.astype(np.int32))
