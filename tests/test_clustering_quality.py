from __future__ import annotations

import random
import statistics
from collections import Counter

import pytest
from sklearn.metrics import adjusted_rand_score

from cascade.accounts.models import Site
from cascade.ai.base import KeywordIn
from cascade.ai.clustering import METHODS, Method, cluster_keywords
from cascade.automation import engine
from cascade.planner.importing import import_rows
from cascade.planner.models import Keyword
from tests.conftest import DATA, keywords_of, stage_one_only
from tests.keywords import clustered_in_batches

LABELLED = keywords_of(DATA / "labelled_keywords.csv")
# Keyword lists of 14 domains, shaped like keyword-research exports (synonyms, question forms, a
# word most of a domain shares), and the labelled list of unrelated subjects.
LISTS = sorted((DATA / "clustering").glob("*.csv")) + sorted(
    (DATA / "clustering_search").glob("*.csv")
)
LISTS.append(DATA / "labelled_keywords.csv")


def stage_one(texts: list[str], batch: int, seed: int, method: Method) -> list[int]:
    """Cluster numbers of `texts` grouped the way stage 1 does it, in a shuffled order."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    return clustered_in_batches(texts, batch, order, method)[0]


@pytest.fixture(scope="module", params=sorted(METHODS))
def clustered_lists(request) -> tuple[str, dict[str, list[tuple[list[str], list[int]]]]]:
    """Every list clustered in two orders at batches of 100 and of 20, by each method: the
    method's name and, for each list, (topics, cluster ids) of each run."""
    out: dict[str, list[tuple[list[str], list[int]]]] = {}
    for path in LISTS:
        rows = keywords_of(path)
        texts, topics = [r["keyword"] for r in rows], [r["topic"] for r in rows]
        out[f"{path.parent.name}/{path.stem}"] = [
            (topics, stage_one(texts, batch, seed, METHODS[request.param]))
            for batch in (100, 20)
            for seed in (1, 2)
        ]
    return request.param, out


def test_the_domain_lists_are_shaped_like_keyword_research():
    assert len(LISTS) >= 15
    for path in LISTS:
        rows = keywords_of(path)
        sizes = Counter(r["topic"] for r in rows)
        assert 10 <= len(sizes) <= 25, path.name
        assert min(sizes.values()) >= 5, path.name


def test_no_cluster_swallows_a_quarter_of_any_list(clustered_lists):
    """A word shared across a domain ("bike", "tank", "espresso") must not chain its topics
    into one cluster: the old centroid join put 40 % of a list into one cluster."""
    method, lists = clustered_lists
    for name, runs in lists.items():
        for _, labels in runs:
            largest = max(Counter(labels).values()) / len(labels)
            assert largest <= 0.25, f"{method}, {name}: one cluster holds {largest:.0%}"


# Floors under what each method reaches here (two orders at each batch size), as (mean adjusted
# Rand index, lowest list, the labelled list): by meaning 0.55, 0.27 and 0.97; by words 0.39,
# 0.19 and 0.78 (docs/clustering.md has the figures over 5 orders). A change that clusters
# worse fails; so would clustering small sites by words (0.39 is under the floor by meaning).
# The goal, 0.85 in every domain, is reported by `make bench`, where it is not met.
FLOORS = {"meaning": (0.5, 0.22, 0.9), "words": (0.35, 0.15, 0.7)}


def test_topics_are_recovered_at_least_as_well_as_measured(clustered_lists):
    method, lists = clustered_lists
    scores = {
        name: statistics.mean(adjusted_rand_score(t, lab) for t, lab in runs)
        for name, runs in lists.items()
    }
    mean, lowest, labelled = FLOORS[method]
    assert statistics.mean(scores.values()) >= mean, (method, scores)
    assert min(scores.values()) >= lowest, (method, scores)
    assert scores["data/labelled_keywords"] >= labelled, (method, scores)


def test_the_labelled_set_is_big_enough_to_mean_something():
    assert len(LABELLED) >= 150
    assert len({row["topic"] for row in LABELLED}) >= 15


@pytest.mark.parametrize("method", sorted(METHODS))
def test_clustering_the_labelled_set_at_once_recovers_its_topics(method):
    keywords = [KeywordIn(i, row["keyword"]) for i, row in enumerate(LABELLED)]
    label = {}
    for n, assignment in enumerate(cluster_keywords(keywords, [], METHODS[method])):
        for kid in assignment.keyword_ids:
            label[kid] = n
    assert sorted(label) == list(range(len(keywords)))
    ari = adjusted_rand_score(
        [row["topic"] for row in LABELLED], [label[i] for i in range(len(keywords))]
    )
    assert ari >= 0.6, ari


# The limit of keywords a site is clustered by meaning up to: a method for each engine test.
LIMITS = {"meaning": 20_000, "words": 0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method,floor", [("meaning", 0.9), ("words", 0.6)])
def test_stage_one_in_batches_recovers_the_topics_and_joins_existing_clusters(
    garden, alice, settings, method, floor
):
    settings.CASCADE_BATCH_SIZES = {1: 50}
    settings.CASCADE_MEANING_MAX_KEYWORDS = LIMITS[method]
    site = Site.objects.create(account=garden, name="Labelled")
    stage_one_only(site)
    import_rows(site, [{"keyword": row["keyword"]} for row in LABELLED])
    run = engine.start_run(site)
    engine.run_until_idle()
    topic = {row["keyword"]: row["topic"] for row in LABELLED}
    rows = list(Keyword.objects.filter(site=site).values_list("keyword", "cluster_id"))
    ari = adjusted_rand_score([topic[k] for k, _ in rows], [c for _, c in rows])
    assert ari >= floor, ari
    stage1 = run.stages.get(number=1)
    assert stage1.output_count < len(LABELLED) / 3, (
        "later batches joined the clusters of earlier ones"
    )


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_cluster_is_named_after_its_most_representative_keyword(method):
    words = [
        "sourdough starter recipe",
        "best sourdough starter",
        "sourdough starter",
        "sourdough starter jar",
    ]
    keywords = [KeywordIn(i, w) for i, w in enumerate(words)]
    (only,) = cluster_keywords(keywords, [], METHODS[method])
    assert only.name == "sourdough starter"


def test_the_kept_features_weigh_texts_exactly_as_scikit_learn_does():
    """`vectorize` keeps what each text is made of between batches; its similarities are those
    of scikit-learn's own TF-IDF fitted on the same texts, batch after batch, whatever was seen
    before (texts seen again, texts new, a word never seen)."""
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    from cascade.ai import clustering

    def reference(texts: list[str]):
        words = TfidfVectorizer(analyzer=clustering.content_words, sublinear_tf=True)
        chars = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(4, 5),
            preprocessor=clustering._char_text,
            sublinear_tf=True,
        )
        both = [words.fit_transform(texts) * 0.8, chars.fit_transform(texts) * 0.6]
        return normalize(sparse.hstack(both).tocsr())

    texts = [row["keyword"] for row in LABELLED]
    for batch in (texts[:60], texts[40:120], texts[100:] + ["zzyzx quokka"], texts[:60]):
        ours, theirs = clustering.vectorize(batch), reference(batch)
        assert np.allclose((ours @ ours.T).toarray(), (theirs @ theirs.T).toarray())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", sorted(LIMITS))
def test_keywords_imported_later_join_the_clusters_of_their_topics(garden, alice, settings, method):
    """A second import on topics the site already has (a keyword of each cluster asked another
    way, with a word the site has not used) makes no duplicate cluster: each new keyword joins
    its own keyword's cluster, or one whose keywords are mostly of the same topic."""
    from cascade.planner.models import Cluster

    settings.CASCADE_BATCH_SIZES = {1: 20}
    settings.CASCADE_MEANING_MAX_KEYWORDS = LIMITS[method]
    rows = keywords_of(DATA / "clustering_search" / "aquariums.csv")
    topic = {r["keyword"]: r["topic"] for r in rows}
    site = Site.objects.create(account=garden, name="Aquariums")
    stage_one_only(site)
    import_rows(site, [{"keyword": r["keyword"]} for r in rows])
    engine.start_run(site)
    engine.run_until_idle()
    clusters = set(Cluster.objects.filter(site=site).values_list("id", flat=True))
    cluster_of = dict(Keyword.objects.filter(site=site).values_list("keyword", "cluster_id"))
    main_topic = {
        cid: Counter(topic[k] for k, c in cluster_of.items() if c == cid).most_common(1)[0][0]
        for cid in clusters
    }
    # Each adds a word the site has not used (stop words alone would leave the keyword as it was).
    phrasings = ("{} for beginners", "{} at home", "{} explained", "{} checklist")
    later = {}  # a new phrasing -> the keyword it rephrases
    for n, cid in enumerate(sorted(clusters)):
        base = min(k for k, c in cluster_of.items() if c == cid)
        later[phrasings[n % len(phrasings)].format(base)] = base
    import_rows(site, [{"keyword": k} for k in later])
    engine.start_run(site)
    engine.run_until_idle()
    assert set(Cluster.objects.filter(site=site).values_list("id", flat=True)) == clusters
    joined = Keyword.objects.filter(site=site, keyword__in=later).values_list(
        "keyword", "cluster_id"
    )
    strays = {
        k: c for k, c in joined if c != cluster_of[later[k]] and main_topic[c] != topic[later[k]]
    }
    assert len(joined) == len(later)
    assert not strays, strays


def test_groups_merge_by_mean_similarity_and_join_clusters_at_their_own_floor():
    import numpy as np

    from cascade.ai.linkage import merge_groups

    # Nodes 0-2 are keywords, 3 and 4 existing clusters of two members each. Entries are sums
    # of member-to-member similarities: keyword 0 averages 0.12 with cluster 3 and 0.08 with 4;
    # keywords 1 and 2 are close (0.5) and far from everything else.
    sim = np.zeros((3, 5))
    for a, b, value in [(0, 3, 0.24), (0, 4, 0.16), (1, 2, 0.5), (0, 1, 0.01)]:
        sim[a, b] = value
        if b < 3:
            sim[b, a] = value
    sizes = np.array([1, 1, 1, 2, 2])
    groups = sorted(sorted(g) for g in merge_groups(sim, sizes, 0.15, 0.10))
    assert groups == [[0, 3], [1, 2]]  # cluster 4 gained nothing and is not returned
    # Joining follows its own floor: at 0.15 for both, keyword 0 stays alone.
    groups = sorted(sorted(g) for g in merge_groups(sim, sizes, 0.15, 0.15))
    assert groups == [[0], [1, 2]]


def test_a_chain_of_close_pairs_is_not_one_group():
    """a is close to b and b to c, but a and c have nothing in common: average linkage keeps c
    out of {a, b} (mean 0.25 under a floor of 0.3), where single linkage would chain them."""
    import numpy as np

    from cascade.ai.linkage import merge_groups

    sim = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]])
    sim[0, 1] = sim[1, 0] = 0.51  # a and b first
    groups = sorted(sorted(g) for g in merge_groups(sim, np.ones(3), 0.3, 0.3))
    assert groups == [[0, 1], [2]]


def _one_site_of(paths: list) -> tuple[list[str], list[str], list[str]]:
    """The keywords of several domain lists as one site: texts, topics and domains."""
    rows = [(r, path.stem) for path in paths for r in keywords_of(path)]
    return (
        [r["keyword"] for r, _ in rows],
        [f"{domain}: {r['topic']}" for r, domain in rows],
        [domain for _, domain in rows],
    )


def test_the_subjects_of_a_mixed_site_are_found_and_a_site_of_one_subject_is_one():
    import numpy as np

    from cascade.ai import meaning, subjects

    texts, _, domains = _one_site_of(sorted((DATA / "clustering_search").glob("*.csv")))
    found = subjects.subjects(meaning.embedder.embed(texts), np.arange(len(texts)))
    assert adjusted_rand_score(domains, found) >= 0.8  # 0.88 measured
    for path in LISTS[1:]:  # the first list (cycling) is two subjects: riding and the bike
        one = [r["keyword"] for r in keywords_of(path)]
        assert set(subjects.subjects(meaning.embedder.embed(one), np.arange(len(one)))) == {0}


def test_a_site_of_several_subjects_is_clustered_subject_by_subject():
    """Six domains as one site (658 keywords, 99 topics): measured from the centre of the
    whole site, each domain keeps its own shared direction and its topics are lumped (0.19 by
    meaning, 0.28 by words); measured subject by subject, 0.51. Keywords of two domains seldom
    share a cluster."""
    texts, topics, domains = _one_site_of(sorted((DATA / "clustering_search").glob("*.csv")))
    scores = {}
    for name, method in METHODS.items():
        labels = stage_one(texts, 100, 1, method)
        scores[name] = adjusted_rand_score(topics, labels)
        if name == "meaning":
            pairs = list(zip(domains, labels, strict=True))
            held = {
                c: Counter(d for d, lab in pairs if lab == c).most_common(1)[0][0] for c in labels
            }
            own = sum(held[lab] == d for d, lab in pairs) / len(pairs)
            assert own >= 0.9, own  # keywords in a cluster mostly of their domain: 0.96 measured
    assert scores["meaning"] >= 0.4, scores
    assert scores["meaning"] > scores["words"] + 0.1, scores


def test_a_broad_site_is_not_cut_into_fragments_at_its_subjects():
    """The demo site (home and garden: 30 topics of 10 keywords, from tomatoes to roofs) is
    found as several subjects. Measured only from their own centres, neighbouring subjects
    (plumbing, cleaning, kitchens) never meet, and their topics were cut into fragments: 48-65
    clusters. Measured also from the centre of the whole batch, 43-47 (36 with one centre)."""
    from tests.conftest import DEMO

    texts = [r["keyword"] for r in keywords_of(DEMO)]
    topics = [i // 10 for i in range(len(texts))]  # the file lists its topics 10 keywords apiece
    for seed in (1, 2):
        for batch in (100, 20):
            order = list(range(len(texts)))
            random.Random(seed).shuffle(order)
            labels = clustered_in_batches(texts, batch, order)[0]
            assert len(set(labels)) <= 50, (seed, batch, len(set(labels)))
            assert adjusted_rand_score(topics, labels) >= 0.6, (seed, batch)


def test_rows_of_several_subjects_multiply_as_blocks_of_columns():
    """`subjects.Rows` keeps each text's two parts dense; every product, sum and stack of them
    equals that of rows with a block of columns per subject (zeros elsewhere) and one for the
    centre of them all: texts of two subjects meet only in the last."""
    import numpy as np
    from scipy import sparse

    from cascade.ai import subjects
    from cascade.ai.linkage import restatements, stacked, summed

    rng = np.random.default_rng(7)
    raw = rng.normal(size=(90, 12)).astype(np.float32)
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    subject = rng.permutation(np.repeat([0, 1, 2], 30)).astype(np.int32)
    own = np.empty_like(raw)
    for s in range(3):
        own[subject == s] = subjects._centred(raw[subject == s])
    whole = subjects._centred(raw)
    rows = subjects.Rows(np.sqrt(0.7) * own, np.sqrt(0.3) * whole, subject)
    blocks = np.zeros((90, 4 * 12))
    for i, s in enumerate(subject):
        blocks[i, s * 12 : (s + 1) * 12] = np.sqrt(0.7) * own[i]
        blocks[i, 36:] = np.sqrt(0.3) * whole[i]
    assert np.allclose(rows @ rows.T, blocks @ blocks.T, atol=1e-6)
    apart = subject[:, None] != subject[None, :]
    assert np.allclose((rows @ rows.T)[apart], 0.3 * (whole @ whole.T)[apart], atol=1e-6)
    # clusters of members of one subject each: summed, stacked beside keywords, multiplied
    members = [np.flatnonzero(subject == s)[:n] for s, n in ((2, 5), (0, 9), (2, 3))]
    owner = np.concatenate([[c] * len(m) for c, m in enumerate(members)])
    owners = sparse.csr_matrix(
        (np.ones(len(owner)), (owner, np.concatenate(members))), shape=(3, 90)
    )
    sums = summed(owners, rows)
    assert list(sums.subject) == [2, 0, 2]
    both = stacked([rows[:10], sums])
    assert np.allclose(
        rows[10:20] @ both.T, blocks[10:20] @ np.vstack([blocks[:10], owners @ blocks]).T, atol=1e-5
    )
    # a keyword restating a member joins that member's cluster, whatever the representation
    taken = np.concatenate(members)
    keywords = stacked([rows[taken[[0, 6]]], rows[50:52]])
    dense_keywords = np.vstack([blocks[taken[[0, 6]]], blocks[50:52]])
    for ks, ms in ((keywords, rows[taken]), (dense_keywords, blocks[taken])):
        assert restatements(ks, ms, owner, np.arange(3), 0.99) == {0: 0, 1: 1}
