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

import numpy as np
from scipy import sparse
from scipy.cluster import hierarchy

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
# Numbers up to which the rows are a dense array (64 MB of float32), sparse beyond.
DENSE_UP_TO = 16_000_000


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


def _centred(raw: np.ndarray) -> np.ndarray:
    return _unit(raw - raw.sum(axis=0) / (len(raw) + SHRINK))


def _summed(owner: np.ndarray, count: int) -> sparse.csr_matrix:
    """The matrix that sums rows by their owner (row i of the product: the rows owned by i)."""
    ones = np.ones(len(owner))
    return sparse.csr_matrix((ones, (owner, np.arange(len(owner)))), shape=(count, len(owner)))


def subjects(raw: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Each text's subject (0, 1, ...). `nodes` says which texts stand together: a keyword
    alone, an existing cluster's members as one (a cluster is never split between subjects)."""
    ids, inverse = np.unique(nodes, return_inverse=True)
    if len(ids) < 2:
        return np.zeros(len(raw), dtype=int)
    sums = _summed(inverse, len(ids)) @ raw
    sizes = np.bincount(inverse)
    # The largest nodes (clusters first) and every keyword up to FOUND_AMONG are grouped;
    # any further node joins the group of its nearest grouped node.
    found = np.sort(np.argsort(-sizes, kind="stable")[:FOUND_AMONG])
    tree = hierarchy.linkage(_unit(sums[found]), method="average", metric="cosine")
    group = np.empty(len(ids), dtype=int)
    group[found] = hierarchy.fcluster(tree, t=APART, criterion="distance") - 1
    rest = np.setdiff1d(np.arange(len(ids)), found)
    if len(rest):
        group[rest] = group[found][np.argmax(_unit(sums[rest]) @ _unit(sums[found]).T, axis=1)]
    texts_in = np.bincount(group, weights=sizes)
    kept = np.flatnonzero(texts_in >= SMALLEST)
    kept = kept[np.argsort(-texts_in[kept], kind="stable")[:MOST]]
    if len(kept) <= 1:
        return np.zeros(len(raw), dtype=int)
    group_sums = _summed(group, group.max() + 1) @ sums
    nearest = np.argmax(_unit(group_sums) @ _unit(group_sums[kept]).T, axis=1)
    nearest[kept] = np.arange(len(kept))
    return nearest[group][inverse]


def measured(raw: np.ndarray, nodes: np.ndarray | None = None) -> np.ndarray | sparse.csr_matrix:
    """Unit rows. With one subject, each text measured from the centre of them all. With
    several, each text measured from its subject's centre in a block of columns of that
    subject (weight OWN), beside the same text measured from the centre of them all (the rest):
    two texts of one subject meet in both, two of different subjects only in the second."""
    if nodes is None:
        nodes = np.arange(len(raw))
    subject = subjects(raw, nodes) if len(raw) else np.zeros(0, dtype=int)
    count = int(subject.max()) + 1 if len(subject) else 1
    if count == 1:
        return _centred(raw)
    width = raw.shape[1]
    own = np.empty_like(raw)
    for s in range(count):
        where = subject == s
        own[where] = _centred(raw[where])
    # float32 and int32: a batch of a large site holds tens of thousands of texts.
    values = np.empty((len(raw), 2 * width), dtype=np.float32)
    values[:, :width] = np.float32(np.sqrt(OWN)) * own
    values[:, width:] = np.float32(np.sqrt(1 - OWN)) * _centred(raw)
    columns = np.empty(values.shape, dtype=np.int32)
    columns[:, :width] = subject[:, None] * width + np.arange(width)
    columns[:, width:] = count * width + np.arange(width)
    shape = (len(raw), (count + 1) * width)
    if shape[0] * shape[1] <= DENSE_UP_TO:  # dense products are several times faster
        rows = np.zeros(shape, dtype=np.float32)
        np.put_along_axis(rows, columns, values, axis=1)
        return rows
    indptr = np.arange(0, values.size + 1, 2 * width)
    return sparse.csr_matrix((values.ravel(), columns.ravel(), indptr), shape=shape)
