"""The offline provider's keyword model (cascade/ai/meaning.py): the pinned files, what its
vectors say, which sites it clusters, and what a broken install does to a run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from cascade.accounts.models import Site
from cascade.ai import clustering, meaning
from cascade.automation import engine
from cascade.automation.checks import stage_settings
from cascade.automation.models import RunItem
from cascade.automation.statuses import ItemState
from cascade.planner.importing import import_rows
from cascade.planner.models import Keyword
from tests.conftest import DATA, keywords_of, stage_one_only


def test_the_model_and_its_vocabulary_are_the_pinned_files():
    assert meaning.problem() is None
    assert not [m for m in stage_settings() if m.id == "cascade.W002"]


def test_keywords_are_tokenised_as_the_model_was_trained():
    """The WordPiece ids of all-MiniLM-L6-v2's own tokenizer.json for the same text."""
    meaning.embedder.embed(["warm up"])
    ids = meaning.embedder.tokenizer.encode("Fix a puncture on a road bike").ids
    assert ids == [101, 8081, 1037, 26136, 14890, 2006, 1037, 2346, 7997, 102]


def test_vectors_follow_meaning_not_spelling():
    texts = ["flat tyre repair", "fix a puncture", "espresso grind size", "flat white coffee"]
    raw = meaning.embedder.embed(texts)
    assert np.allclose(np.linalg.norm(raw, axis=1), 1, atol=1e-5)
    sim = raw @ raw.T
    assert sim[0, 1] > sim[0, 3]  # a puncture is a flat tyre; a flat white is not
    assert sim[2, 3] > sim[2, 0]
    # A text's vector does not depend on the texts embedded with it (batches are padded).
    alone = meaning.Embedder().embed(["fix a puncture"])[0]
    assert np.allclose(alone, raw[1], atol=1e-4)


def test_threads_share_one_model_and_get_the_same_vectors():
    """The engine's worker threads embed at once, the first of them loading the model."""
    texts = [f"raised bed idea number {n}" for n in range(160)]
    shared = meaning.Embedder()
    parts = [texts[:120], texts[40:], texts[::2], texts]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(shared.embed, parts))
    reference = dict(zip(texts, meaning.Embedder().embed(texts), strict=True))
    for part, rows in zip(parts, results, strict=True):
        assert np.allclose(rows, [reference[t] for t in part], atol=1e-4)


def test_a_model_that_cannot_load_is_said_as_such(monkeypatch):
    import onnxruntime

    def refuse(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    with pytest.raises(meaning.ModelMissing, match="cannot be loaded .*INVALID_GRAPH"):
        meaning.Embedder().embed(["raised garden bed"])


def test_small_sites_are_clustered_by_meaning_and_large_ones_by_words(settings):
    settings.CASCADE_MEANING_MAX_KEYWORDS = 1000
    assert clustering.method_for(1000) is clustering.BY_MEANING
    assert clustering.method_for(1001) is clustering.BY_WORDS
    settings.CASCADE_MEANING_MAX_KEYWORDS = 0
    assert clustering.method_for(1) is clustering.BY_WORDS


@pytest.fixture
def broken_model(monkeypatch, tmp_path):
    """A model file that is not the pinned one (a half-downloaded or replaced file)."""
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    monkeypatch.setattr(meaning, "model_file", lambda: bad)
    monkeypatch.setattr(meaning, "embedder", meaning.Embedder())
    return bad


def test_a_replaced_model_file_is_refused_and_said_by_the_system_check(broken_model):
    with pytest.raises(meaning.ModelMissing, match="not the file Cascade was built with"):
        meaning.vectorize(["raised garden bed"])
    (warning,) = [m for m in stage_settings() if m.id == "cascade.W002"]
    assert str(broken_model) in warning.msg and meaning.MODEL_SHA256 in warning.msg
    assert "CASCADE_MEANING_MAX_KEYWORDS=0" in warning.hint


@pytest.mark.django_db(transaction=True)
def test_a_run_pauses_on_a_broken_model_and_a_large_site_needs_none(
    garden, alice, settings, broken_model
):
    """A site small enough to be clustered by meaning pauses with the reason (no keyword is
    failed or clustered otherwise); one above CASCADE_MEANING_MAX_KEYWORDS is clustered by
    words and never touches the model."""
    rows = keywords_of(DATA / "clustering_search" / "running.csv")
    site = Site.objects.create(account=garden, name="Running")
    stage_one_only(site)
    import_rows(site, [{"keyword": r["keyword"]} for r in rows])
    run = engine.start_run(site)
    engine.run_until_idle()
    run.refresh_from_db()
    assert run.status == "paused" and run.pause_reason == "provider_unavailable"
    assert "not the file Cascade was built with" in run.status_message
    assert not Keyword.objects.filter(site=site, cluster__isnull=False).exists()
    assert not RunItem.objects.filter(run=run, state=ItemState.FAILED).exists()

    engine.cancel_run(run.run_id)
    engine.run_until_idle()
    settings.CASCADE_MEANING_MAX_KEYWORDS = len(rows) - 1
    run = engine.start_run(site)
    engine.run_until_idle()
    run.refresh_from_db()
    assert run.status == "completed", run.status_message
    assert not Keyword.objects.filter(site=site, cluster__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_keeps_the_method_it_started_with(garden, settings, broken_model):
    """The method is decided once, when the run starts, and frozen in the run: keywords
    imported afterwards (the site now over CASCADE_MEANING_MAX_KEYWORDS) switch no process of
    the run to words; the next run decides again."""
    listed = keywords_of(DATA / "clustering_search" / "running.csv")
    rows = [{"keyword": r["keyword"]} for r in listed]
    site = Site.objects.create(account=garden, name="Running")
    stage_one_only(site)
    import_rows(site, rows[:50])
    settings.CASCADE_MEANING_MAX_KEYWORDS = 50
    run = engine.start_run(site)
    assert run.config["clustering"] == "meaning"
    import_rows(site, rows[50:])
    engine.run_until_idle()
    run.refresh_from_db()
    assert run.status == "paused" and run.pause_reason == "provider_unavailable"
    assert "CASCADE_MEANING_MAX_KEYWORDS=0" in run.status_message

    engine.cancel_run(run.run_id)
    engine.run_until_idle()
    run = engine.start_run(site)
    assert run.config["clustering"] == "words"
    engine.run_until_idle()
    run.refresh_from_db()
    assert run.status == "completed", run.status_message


@pytest.mark.django_db(transaction=True)
def test_a_run_paused_on_the_model_resumes_by_words_when_told_to(garden, settings, broken_model):
    """The pause says CASCADE_MEANING_MAX_KEYWORDS=0 clusters without the model: set, the same
    run resumes and finishes by words (its recorded method gives way)."""
    site = Site.objects.create(account=garden, name="Running")
    stage_one_only(site)
    listed = keywords_of(DATA / "clustering_search" / "running.csv")
    import_rows(site, [{"keyword": r["keyword"]} for r in listed])
    run = engine.start_run(site)
    engine.run_until_idle()
    run.refresh_from_db()
    assert run.status == "paused" and run.config["clustering"] == "meaning"
    settings.CASCADE_MEANING_MAX_KEYWORDS = 0
    engine.resume_run(run.run_id)
    engine.run_until_idle()
    run.refresh_from_db()
    assert run.status == "completed", run.status_message
    assert not Keyword.objects.filter(site=site, cluster__isnull=True).exists()
