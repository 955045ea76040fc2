"""Stage 1 through a provider's embeddings (CASCADE_EMBEDDING_MODEL): keywords are embedded in
batches through `/v1/embeddings`, matched to every cluster of the site by its stored centroid
(not a first few hundred names), grouped by vector, and only new groups are named by the chat
model; usage is charged from the tokens the provider reports; 429s are waited out; a provider
without the endpoint falls back to chat clustering and the run's activity says so once. Against
a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import math

import pytest

from cascade.ai import reset_provider_cache
from cascade.automation.models import EventKind, RunEvent, RunItem
from cascade.planner.importing import import_rows
from cascade.planner.models import Cluster, Keyword
from tests.conftest import run_to_end, stage_one_only
from tests.fake_openai import FakeOpenAI
from tests.invariants import charged_to

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake(settings):
    server = FakeOpenAI().start()
    settings.CASCADE_AI_PROVIDER = "openai"
    settings.OPENAI_API_KEY = "sk-test-embeddings"
    settings.OPENAI_BASE_URL = server.url
    settings.CASCADE_AI_TIMEOUT = 2.0
    settings.CASCADE_AI_RETRIES = 3
    settings.CASCADE_EMBEDDING_MODEL = "text-embedding-3-small"
    settings.CASCADE_EMBEDDING_SIMILARITY = 0.75
    reset_provider_cache()
    yield server
    server.stop()
    reset_provider_cache()


def requests(fake, name):
    return [r for r in fake.requests if r["name"] == name]


def test_keywords_are_clustered_by_their_vectors_and_only_new_groups_are_named(
    site, fake, settings
):
    settings.CASCADE_EMBEDDING_BATCH = 7
    stage_one_only(site)
    run = run_to_end(site)
    assert run.outcome == "succeeded"
    embedded = requests(fake, "embeddings")
    assert embedded and all(len(r["body"]["input"]) <= 7 for r in embedded), "batched"
    assert (
        sum(len(r["body"]["input"]) for r in embedded) == Keyword.objects.filter(site=site).count()
    )
    assert {r["body"]["model"] for r in embedded} == {"text-embedding-3-small"}
    assert not requests(fake, "clusters"), "the chat model does not group keywords"
    named = requests(fake, "cluster_names")
    clusters = list(Cluster.objects.filter(site=site))
    several = [c for c in clusters if c.keyword_count > 1]
    assert named and several
    assert all(c.centroid and c.centroid_model == "openai:text-embedding-3-small" for c in clusters)
    for cluster in clusters:  # keywords that start alike are together, others apart
        firsts = {k.split()[0] for k in cluster.keywords.values_list("keyword", flat=True)}
        assert len(firsts) == 1, (cluster.name, firsts)
    # usage is charged from the tokens the provider reported
    tokens = sum(
        p + c
        for p, c in RunItem.objects.filter(run=run).values_list(
            "prompt_tokens", "completion_tokens"
        )
    )
    assert tokens > 0
    assert charged_to(run) >= math.ceil(tokens * 5 / 1000)


def test_new_keywords_join_any_cluster_of_a_large_site_by_vector(garden, fake, settings):
    from cascade.accounts.models import Site

    site = Site.objects.create(account=garden, name="Many topics")
    stage_one_only(site)
    topics = [f"topic{n:03d}" for n in range(340)]
    import_rows(site, [{"keyword": f"{t} basics"} for t in topics])
    assert run_to_end(site).outcome == "succeeded"
    assert Cluster.objects.filter(site=site).count() == 340
    before = len(requests(fake, "cluster_names"))
    import_rows(site, [{"keyword": f"{t} for beginners"} for t in (topics[0], topics[-1])])
    second = run_to_end(site)
    assert second.outcome == "succeeded"
    assert Cluster.objects.filter(site=site).count() == 340, "no duplicate clusters"
    for t in (topics[0], topics[-1]):
        joined = Keyword.objects.get(site=site, keyword=f"{t} for beginners").cluster
        assert joined.name == f"{t} basics" and joined.keyword_count == 2
    assert len(requests(fake, "cluster_names")) == before, "joining needs no chat model"


def test_rate_limits_are_waited_out(site, fake):
    stage_one_only(site)
    fake.fault("429", count=2, on="embeddings")
    assert run_to_end(site).outcome == "succeeded"
    statuses = [r for r in fake.requests if r["name"] == "embeddings"]
    assert len(statuses) >= 3  # two refused, then answered
    assert Keyword.objects.filter(site=site, cluster__isnull=True).count() == 0


def test_a_provider_without_embeddings_falls_back_to_chat_and_says_so_once(site, fake, settings):
    settings.CASCADE_BATCH_SIZES = {1: 10}
    stage_one_only(site)
    fake.embeddings_missing = True
    run = run_to_end(site)
    assert run.outcome == "succeeded"
    assert len(requests(fake, "clusters")) >= 4, "the chat model grouped every batch"
    assert len(requests(fake, "embeddings")) == 1, "asked once, then never again"
    notices = RunEvent.objects.filter(run=run, kind=EventKind.NOTICE)
    assert [n.message for n in notices] == [
        "The AI provider has no embeddings endpoint (404 from /v1/embeddings): keywords are "
        "grouped by the chat model instead."
    ]
    assert not Cluster.objects.filter(site=site).exclude(centroid_model="").exists()


def test_a_cluster_made_before_embeddings_gets_its_centroid_once(site, fake):
    stage_one_only(site)
    legacy = Cluster.objects.create(
        site=site,
        name="zebra stripes",
        normalized="zebra stripes",
        status="mapped",
        keyword_count=2,
        signature="zebra stripes\nzebra stripe patterns",
    )
    assert run_to_end(site).outcome == "succeeded"
    legacy.refresh_from_db()
    assert legacy.centroid and legacy.centroid_model == "openai:text-embedding-3-small"
    embedded = sum(len(r["body"]["input"]) for r in requests(fake, "embeddings"))
    import_rows(site, [{"keyword": "quokka habitat facts"}])
    assert run_to_end(site).outcome == "succeeded"
    again = sum(len(r["body"]["input"]) for r in requests(fake, "embeddings")) - embedded
    assert again == 1, "only the new keyword is embedded, not the old cluster's members again"
