from __future__ import annotations

import pytest
from sklearn.metrics import adjusted_rand_score

from cascade.accounts.models import Site
from cascade.ai.base import KeywordIn
from cascade.ai.clustering import cluster_keywords
from cascade.automation import engine
from cascade.planner.importing import import_rows
from cascade.planner.models import Keyword
from tests.conftest import DATA, keywords_of

LABELLED = keywords_of(DATA / "labelled_keywords.csv")


def test_the_labelled_set_is_big_enough_to_mean_something():
    assert len(LABELLED) >= 150
    assert len({row["topic"] for row in LABELLED}) >= 15


def test_clustering_the_labelled_set_at_once_recovers_its_topics():
    keywords = [KeywordIn(i, row["keyword"]) for i, row in enumerate(LABELLED)]
    label = {}
    for n, assignment in enumerate(cluster_keywords(keywords, [])):
        for kid in assignment.keyword_ids:
            label[kid] = n
    assert sorted(label) == list(range(len(keywords)))
    ari = adjusted_rand_score(
        [row["topic"] for row in LABELLED], [label[i] for i in range(len(keywords))]
    )
    assert ari >= 0.6, ari


@pytest.mark.django_db(transaction=True)
def test_stage_one_in_batches_recovers_the_topics_and_joins_existing_clusters(
    garden, alice, settings
):
    settings.CASCADE_BATCH_SIZES = {1: 50}
    site = Site.objects.create(account=garden, name="Labelled")
    import_rows(site, [{"keyword": row["keyword"]} for row in LABELLED])
    run = engine.start_run(site)
    engine.run_until_idle()
    topic = {row["keyword"]: row["topic"] for row in LABELLED}
    rows = list(Keyword.objects.filter(site=site).values_list("keyword", "cluster_id"))
    ari = adjusted_rand_score([topic[k] for k, _ in rows], [c for _, c in rows])
    assert ari >= 0.6, ari
    stage1 = run.stages.get(number=1)
    assert stage1.output_count < len(LABELLED) / 3, (
        "later batches joined the clusters of earlier ones"
    )


def test_a_cluster_is_named_after_its_most_representative_keyword():
    words = [
        "sourdough starter recipe",
        "best sourdough starter",
        "sourdough starter",
        "sourdough starter jar",
    ]
    (only,) = cluster_keywords([KeywordIn(i, w) for i, w in enumerate(words)], [])
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
