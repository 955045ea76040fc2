"""Stages 1-3: keywords into clusters, clusters into ideas, ideas into writing tasks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max, QuerySet

from cascade.ai import clustering
from cascade.ai.base import ClusterIn, ClusterRef, KeywordIn
from cascade.automation.steps import Applied, StageContext, StageError, expect
from cascade.planner.models import (
    Cluster,
    ClusterStatus,
    ContentIdea,
    IdeaStatus,
    Keyword,
    KeywordStatus,
    normalize,
)
from cascade.writer.models import Task, TaskStatus

# --- 1. Keywords → Clusters --------------------------------------------------------------------

_cluster_estimates: dict[tuple, float] = {}


def clusters_per_keyword(
    site_id: int, keywords: QuerySet, config: dict[str, Any], batch: int
) -> float | None:
    """Stage 1's fan-out for the keywords waiting now: the new clusters per keyword that
    grouping them (the offline provider's clustering, in memory) would make. Kept until the
    queue or the site's clusters change."""
    waiting = keywords.aggregate(count=Count("id"), last=Max("id"))
    if not waiting["count"]:
        return None
    clusters = Cluster.objects.filter(site_id=site_id, disabled=False)
    key = (site_id, waiting["count"], waiting["last"], clusters.count(), batch)
    if key not in _cluster_estimates:
        texts = list(keywords.values_list("keyword", flat=True)[:1000])
        existing = [ClusterRef(**c) for c in clusters.values("id", "name", "signature")]
        created = clustering.estimate_new_clusters(
            texts, existing, batch, waiting["count"], parallel=settings.CASCADE_WORKER_THREADS
        )
        if len(_cluster_estimates) > 200:
            _cluster_estimates.clear()
        _cluster_estimates[key] = created / waiting["count"]
    return _cluster_estimates[key]


def cluster_process(ctx: StageContext, keywords: list[Keyword]) -> Any:
    existing = [
        ClusterRef(id=c["id"], name=c["name"], signature=c["signature"])
        for c in Cluster.objects.filter(site_id=ctx.site_id, disabled=False).values(
            "id", "name", "signature"
        )
    ]
    batch = [KeywordIn(k.id, k.keyword, k.intent, k.volume) for k in keywords]
    return ctx.provider.cluster_keywords(batch, existing, profile=ctx.profile)


def _cluster_for(ctx: StageContext, cluster_id: int | None, name: str) -> tuple[Cluster, bool]:
    if cluster_id is not None:
        found = Cluster.objects.filter(site_id=ctx.site_id, id=cluster_id).first()
        if found is not None:
            return found, False
    # Another batch of the same stage may have created this cluster meanwhile: join it.
    found = Cluster.objects.filter(site_id=ctx.site_id, normalized=normalize(name)).first()
    if found is not None:
        return found, False
    created = Cluster.objects.create(
        site_id=ctx.site_id, name=name, normalized=normalize(name), status=ClusterStatus.NEW
    )
    return created, True


def cluster_apply(ctx: StageContext, keywords: list[Keyword], assignments: Any) -> Applied:
    text_of = {k.id: k.keyword for k in keywords}
    assigned = [kid for a in assignments for kid in a.keyword_ids]
    if sorted(assigned) != sorted(text_of):
        raise StageError("clustering did not assign every keyword of the batch exactly once")
    created = 0
    for a in assignments:
        name = (a.name or text_of[a.keyword_ids[0]])[:200]
        cluster, new = _cluster_for(ctx, a.cluster_id, name)
        created += new
        members = clustering.signature_members(cluster.signature)
        extra = [text_of[kid] for kid in a.keyword_ids][
            : max(0, clustering.SIGNATURE_SIZE - len(members))
        ]
        updated = Keyword.objects.filter(
            id__in=a.keyword_ids, status=KeywordStatus.NEW, cluster__isnull=True
        ).update(cluster=cluster, status=KeywordStatus.MAPPED)
        expect(updated, len(a.keyword_ids), "keywords")
        Cluster.objects.filter(pk=cluster.pk).update(
            keyword_count=F("keyword_count") + len(a.keyword_ids),
            signature=clustering.make_signature(members + extra),
        )
    return Applied(outputs=created)


# --- 2. Clusters → Ideas -----------------------------------------------------------------------


def ideas_process(ctx: StageContext, clusters: list[Cluster]) -> Any:
    (cluster,) = clusters
    keywords = [
        KeywordIn(k["id"], k["keyword"], k["intent"], k["volume"])
        for k in cluster.keywords.order_by("-volume", "id").values(
            "id", "keyword", "intent", "volume"
        )[:40]
    ]
    stem = normalize(cluster.name)[:40]
    taken = set(
        ContentIdea.objects.filter(
            site_id=ctx.site_id, normalized_title__contains=stem
        ).values_list("normalized_title", flat=True)
    )
    return ctx.provider.generate_ideas(
        ClusterIn(cluster.id, cluster.name, keywords),
        int(ctx.config["ideas_per_cluster"]),
        taken,
        profile=ctx.profile,
    )


def _unique_title(site_id: int, title: str) -> str:
    candidate, n = title[:290], 2
    while ContentIdea.objects.filter(
        site_id=site_id, normalized_title=normalize(candidate)
    ).exists():
        candidate = f"{title[:280]} ({n})"
        n += 1
    return candidate


def ideas_apply(ctx: StageContext, clusters: list[Cluster], ideas: Any) -> Applied:
    (cluster,) = clusters
    for idea in ideas:
        title = _unique_title(ctx.site_id, idea.title)
        ContentIdea.objects.create(
            site_id=ctx.site_id,
            cluster=cluster,
            title=title,
            normalized_title=normalize(title),
            outline=list(idea.outline),
            target_keywords=list(idea.target_keywords),
            structure=idea.structure,
        )
    updated = Cluster.objects.filter(pk=cluster.pk, status=ClusterStatus.NEW).update(
        status=ClusterStatus.MAPPED
    )
    expect(updated, 1, "cluster")
    return Applied(outputs=len(ideas))


# --- 3. Ideas → Tasks --------------------------------------------------------------------------


def tasks_apply(ctx: StageContext, ideas: list[ContentIdea], _result: Any) -> Applied:
    queued = {
        "site_id": ctx.site_id,
        "target_words": int(ctx.config["target_words"]),
        "status": TaskStatus.QUEUED,
    }
    Task.objects.bulk_create([Task(idea=i, title=i.title, **queued) for i in ideas])
    updated = ContentIdea.objects.filter(
        id__in=[i.id for i in ideas], status=IdeaStatus.NEW
    ).update(status=IdeaStatus.QUEUED)
    expect(updated, len(ideas), "ideas")
    return Applied(outputs=len(ideas))
