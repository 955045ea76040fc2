"""Keyword clustering for the offline provider. Keywords become vectors by one of two methods:
by meaning (a small sentence-embedding model, `meaning.py`), for sites up to
CASCADE_MEANING_MAX_KEYWORDS keywords, or by words (TF-IDF over word stems and character
n-grams) above that, where embedding every keyword would take too long.
A batch's keywords and the site's existing clusters are agglomerated together by average
linkage: a keyword joins a cluster, groups with other new keywords or stands alone by one rule,
their mean cosine similarity. Only the batch and the clusters' short signatures are ever in
memory, and the agglomeration holds the batch's keywords against the clusters they reach
(batch × (batch + clusters) numbers), never a matrix over the whole site. Both methods read a
cluster by its signature's text, so a site can move from one to the other (docs/clustering.md).
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from scipy import sparse

from cascade.ai import meaning, subjects
from cascade.ai.base import ClusterAssignment, ClusterRef, KeywordIn
from cascade.ai.linkage import dense, merge_groups, restatements, stacked, summed, unit_rows

# Words that say how someone searches, not what about: they must not pull topics together.
STOP_WORDS = frozenset(
    """a an the and or of for to in on at by with from into about is are was be can do does did
    how what why when where which who whom should would could will my your our their its it i you we
    me best top good great cheap easy simple quick diy ideas idea tips tip guide guides vs versus
    near way ways much many often long need make get use using without than that this these those
    there here more most very really not no yes all any some every per""".split()
)
WORD_RE = re.compile(r"[a-z0-9]+")
SIGNATURE_SIZE = 15  # members kept in a cluster's signature


def stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> list[str]:
    return [stem(w) for w in WORD_RE.findall(text.lower()) if w not in STOP_WORDS]


def _char_text(text: str) -> str:
    return " ".join(content_words(text)) or text.lower()


class Features:
    """TF-IDF over one kind of feature, as scikit-learn's TfidfVectorizer computes it (counts,
    sublinear tf, smoothed idf from the texts at hand, L2 rows), with what each text is made of
    kept between calls: every batch of a stage-1 run weighs the signatures of all the site's
    clusters again, and taking those texts apart and counting was nearly all of its work. The
    columns are shared by all calls; their order means nothing to a cosine."""

    TEXTS = 50_000  # texts whose features are kept (least recently used go first)
    COLUMNS = 2_000_000  # features known before the column space starts afresh

    def __init__(self, analyse: Callable[[str], list[str]]) -> None:
        self.analyse = analyse
        self.columns: dict[str, int] = {}
        self.rows: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.lock = threading.Lock()  # the engine's worker threads cluster at the same time

    def _row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        found = self.rows.get(text)
        if found is not None:
            self.rows.move_to_end(text)
            return found
        counts = Counter(self.analyse(text))
        cols = [self.columns.setdefault(f, len(self.columns)) for f in counts]
        found = (np.array(cols, dtype=np.int64), np.array(list(counts.values()), dtype=float))
        self.rows[text] = found
        if len(self.rows) > self.TEXTS:
            self.rows.popitem(last=False)
        return found

    def tfidf(self, texts: list[str]) -> sparse.csr_matrix:
        with self.lock:
            if len(self.columns) > self.COLUMNS:
                self.columns.clear()
                self.rows.clear()
            rows = [self._row(t) for t in texts]
            width = max(len(self.columns), 1)
        indptr = np.cumsum([0] + [len(cols) for cols, _ in rows])
        indices = np.concatenate([cols for cols, _ in rows] or [np.zeros(0, np.int64)])
        counts = np.concatenate([vals for _, vals in rows] or [np.zeros(0)])
        df = np.bincount(indices, minlength=width)
        idf = np.log((1 + len(texts)) / (1 + df)) + 1
        data = (1 + np.log(counts)) * idf[indices]
        return unit_rows(sparse.csr_matrix((data, indices, indptr), shape=(len(texts), width)))


@functools.cache
def _char_analyser() -> Callable[[str], list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer  # 0.6 s to import: when used

    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(4, 5), preprocessor=_char_text
    ).build_analyzer()


_words = Features(content_words)
_char_grams = Features(lambda text: _char_analyser()(text))


def vectorize(texts: list[str], nodes: Any = None) -> sparse.csr_matrix:
    """Rows are L2-normalised: a dot product is a cosine similarity (`nodes` is not needed)."""
    return unit_rows(
        sparse.hstack([_words.tfidf(texts) * 0.8, _char_grams.tfidf(texts) * 0.6]).tocsr()
    )


@dataclass(frozen=True)
class Method:
    """How keywords become vectors, and the cosine similarities that group them: new keywords
    group while their mean similarity is at least `group`; a group joins an existing cluster
    at a mean similarity of `join` to its members; a keyword at least `restates` to one member
    of a cluster joins that cluster first."""

    name: str
    vectorize: Callable[[list[str], np.ndarray], Any]  # unit rows of texts, given their nodes
    group: float
    join: float
    restates: float


BY_WORDS = Method("words", vectorize, group=0.15, join=0.10, restates=0.6)
BY_MEANING = Method("meaning", meaning.vectorize, group=0.2, join=0.15, restates=0.8)
METHODS = {m.name: m for m in (BY_MEANING, BY_WORDS)}


def method_for(site_keywords: int) -> Method:
    """By meaning up to CASCADE_MEANING_MAX_KEYWORDS keywords in the site (0 turns it off)."""
    limit = settings.CASCADE_MEANING_MAX_KEYWORDS
    return BY_MEANING if limit and site_keywords <= limit else BY_WORDS


def method_named(name: str, keywords: int) -> Method:
    """The method a run decided on ("meaning" or "words"), by words whenever
    CASCADE_MEANING_MAX_KEYWORDS is 0 now (a run paused on the model resumes without it);
    without one (a call outside a run, or an older run), the method for `keywords` keywords."""
    found = METHODS.get(name) if settings.CASCADE_MEANING_MAX_KEYWORDS else BY_WORDS
    return found or method_for(keywords)


def signature_members(signature: str) -> list[str]:
    return [line for line in signature.splitlines() if line.strip()]


def make_signature(members: list[str]) -> str:
    return "\n".join(members[:SIGNATURE_SIZE])


def representative(indices: list[int], vectors: Any, texts: list[str]) -> int:
    """The member closest to all the others (the medoid); shorter wins a tie."""
    if len(indices) == 1:
        return indices[0]
    sub = vectors[indices]
    sims = np.asarray((sub @ sub.T).sum(axis=1)).ravel()
    best = max(
        range(len(indices)), key=lambda i: (round(float(sims[i]), 6), -len(texts[indices[i]]))
    )
    return indices[best]


def cluster_keywords(
    keywords: list[KeywordIn], existing: list[ClusterRef], method: Method = BY_WORDS
) -> list[ClusterAssignment]:
    """Group a batch of keywords, joining the site's existing clusters where they belong.

    The batch's keywords and the existing clusters (each as its signature members) are
    agglomerated together by mean similarity (`merge_groups`): one rule decides whether a
    keyword joins a cluster, starts one with other keywords of the batch, or stands alone, so
    the size of the batches matters little, and a cluster grows only while its members stay
    close on average (a word the site shares is far less likely to chain topics into one).
    A cluster is compared by its signature (its first members) and the batch's keywords that
    joined it."""
    if not keywords:
        return []
    texts = [k.keyword for k in keywords]
    member_texts: list[str] = []
    owners: list[int] = []
    for ci, ref in enumerate(existing):
        names = signature_members(ref.signature) or [ref.name]
        member_texts.extend(names)
        owners.extend([ci] * len(names))
    # Which texts stand together: each keyword alone, each cluster's members as one.
    nodes = np.concatenate([np.arange(len(texts)), len(texts) + np.asarray(owners, dtype=int)])
    vectors = method.vectorize(texts + member_texts, nodes)
    kw_vecs = vectors[: len(texts)]

    candidates = np.zeros(0, dtype=np.int64)
    sums = vectors[:0]
    sizes = np.zeros(0)
    joins: dict[int, int] = {}
    if existing:
        owner_matrix = subjects.summing(np.asarray(owners), len(existing))
        all_sums = summed(owner_matrix, vectors[len(texts) :])
        all_sizes = np.asarray(owner_matrix.sum(axis=1)).ravel()
        # A cluster no keyword of the batch reaches on its own cannot be reached by a group of
        # them either (a group's mean similarity is the mean of its members'): leave it out.
        mean_sims = dense(kw_vecs @ all_sums.T) / all_sizes
        candidates = np.flatnonzero(mean_sims.max(axis=0) >= method.join)
        sums, sizes = all_sums[candidates], all_sizes[candidates]
        joins = restatements(
            kw_vecs, vectors[len(texts) :], np.asarray(owners), candidates, method.restates
        )
    groups = merge_groups(
        dense(kw_vecs @ stacked([kw_vecs, sums]).T),
        np.concatenate([np.ones(len(texts)), sizes]),
        method.group,
        method.join,
        {i: len(texts) + c for i, c in joins.items()},
    )

    assignments: list[ClusterAssignment] = []
    for group in groups:
        olds = [node - len(texts) for node in group if node >= len(texts)]
        members = sorted(node for node in group if node < len(texts))
        if not members:
            continue
        ids = [keywords[i].id for i in members]
        if olds:
            cluster = existing[int(candidates[olds[0]])]
            assignments.append(ClusterAssignment(keyword_ids=ids, cluster_id=cluster.id))
        else:
            head = representative(members, kw_vecs, texts)
            assignments.append(ClusterAssignment(keyword_ids=ids, name=texts[head]))
    return assignments


def estimate_new_clusters(
    sample: list[str],
    existing: list[ClusterRef],
    batch: int,
    total: int | None = None,
    parallel: int = 1,
    method: Method = BY_WORDS,
) -> float:
    """How many new clusters grouping keywords batch by batch would create, done the way stage 1
    does it: `parallel` batches at a time (one per worker thread) each join the site's clusters
    as they were when the batches began, or form new ones; a new cluster whose name another
    batch already took joins that one. `sample` is the first of `total` keywords; the rest is
    extrapolated at the rate of the sample's last batches (new clusters per keyword fall as
    clusters accumulate)."""
    refs = list(existing)
    by_id = {ref.id: i for i, ref in enumerate(refs)}
    by_name = {" ".join(ref.name.split()).casefold(): i for i, ref in enumerate(refs)}
    created, progress = 0, [(0, 0)]
    starts = list(range(0, len(sample), batch))
    for first in range(0, len(starts), max(1, parallel)):
        seen = list(refs)  # what every batch of this round sees
        results = [
            (
                start,
                cluster_keywords(
                    [KeywordIn(start + i, t) for i, t in enumerate(sample[start : start + batch])],
                    seen,
                    method,
                ),
            )
            for start in starts[first : first + max(1, parallel)]
        ]
        for start, assignments in results:
            for a in assignments:
                name = " ".join((a.name or sample[a.keyword_ids[0]]).split()).casefold()
                index = by_id.get(a.cluster_id) if a.cluster_id is not None else by_name.get(name)
                if index is None:
                    index = len(refs)
                    refs.append(ClusterRef(id=-1 - index, name=name, signature=""))
                    by_id[refs[index].id], by_name[name] = index, index
                    created += 1
                members = signature_members(refs[index].signature)
                extra = [sample[k] for k in a.keyword_ids][: max(0, SIGNATURE_SIZE - len(members))]
                ref = refs[index]
                refs[index] = ClusterRef(ref.id, ref.name, make_signature(members + extra))
            progress.append((min(len(sample), start + batch), created))
    rest = (total or len(sample)) - len(sample)
    if rest > 0 and len(progress) > 1:
        (n0, c0), (n1, c1) = progress[max(0, len(progress) - 4)], progress[-1]
        return created + (c1 - c0) / max(1, n1 - n0) * rest
    return float(created)
