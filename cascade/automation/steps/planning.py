"""Stages 1-3: keywords into clusters, clusters into ideas, ideas into writing tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, QuerySet

from cascade.ai import clustering, meaning, vectors
from cascade.ai.base import ClusterAssignment, ClusterIn, ClusterRef, KeywordIn
from cascade.automation.models import EventKind, RunEvent
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
# Sites up to this many keywords are estimated by the method that will cluster them; larger
# ones by words, so that no page waits for the model to embed a large site's clusters.
ESTIMATE_BY_MEANING = 2_000


def estimate_method(site_id: int, config: dict[str, Any]) -> clustering.Method:
    """How the estimate groups the site's keywords: as the offline provider will (the run's
    method, or the one a run starting now would take), for a small site clustered offline; by
    words otherwise (another provider is not simulated anyway)."""
    if settings.CASCADE_AI_PROVIDER != "local":
        return clustering.BY_WORDS
    size = keyword_count(site_id)
    if size > ESTIMATE_BY_MEANING:
        return clustering.BY_WORDS
    return clustering.method_named(config.get("clustering", ""), size)


def keyword_count(site_id: int) -> int:
    """The site's keywords, whatever their state: what the clustering method is chosen by."""
    return Keyword.objects.filter(site_id=site_id).count()


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
    found = _cluster_estimates.get(key)
    if found is None:
        texts = list(keywords.values_list("keyword", flat=True)[:1000])
        existing = [ClusterRef(**c) for c in clusters.values("id", "name", "signature")]
        how = (texts, existing, batch, waiting["count"], settings.CASCADE_WORKER_THREADS)
        try:
            created = clustering.estimate_new_clusters(*how, estimate_method(site_id, config))
        except meaning.ModelMissing:  # the run will pause and say why; estimate by words
            created = clustering.estimate_new_clusters(*how)
        if len(_cluster_estimates) > 200:
            _cluster_estimates.clear()
        found = _cluster_estimates[key] = created / waiting["count"]
    return found


def run_method(ctx: StageContext) -> str:
    """The clustering method the run decided on when it started (its frozen configuration), so
    that every batch of the run, in any process, groups keywords the same way; a run started
    before runs recorded it decides by the site's size now."""
    return ctx.config.get("clustering") or clustering_method(ctx.site_id)


def clustering_method(site_id: int) -> str:
    """How the offline provider groups the site's keywords now, by their number: what a run
    starting now records ("meaning" or "words")."""
    return clustering.method_for(keyword_count(site_id)).name


@dataclass
class Clustered:
    assignments: list[ClusterAssignment]
    model: str  # the embedding model of the assignments' vectors ("" without)
    notice: str  # what the run's activity should say once (a fallback), or ""


def cluster_process(ctx: StageContext, keywords: list[Keyword]) -> Any:
    model = getattr(ctx.provider, "embedding_id", "")
    clusters = Cluster.objects.filter(site_id=ctx.site_id, disabled=False)
    if model:
        rows = clusters.values("id", "name", "signature", "centroid", "centroid_model")
        existing = [
            ClusterRef(
                id=c["id"],
                name=c["name"],
                signature=c["signature"],
                centroid=bytes(c["centroid"] or b"") if c["centroid_model"] == model else b"",
            )
            for c in rows
        ]
    else:
        existing = [ClusterRef(**c) for c in clusters.values("id", "name", "signature")]
    batch = [KeywordIn(k.id, k.keyword, k.intent, k.volume) for k in keywords]
    assignments = ctx.provider.cluster_keywords(
        batch, existing, profile=ctx.profile, method=run_method(ctx)
    )
    notice = getattr(ctx.provider, "fallback_notice", "")
    return Clustered(assignments, "" if notice else model, notice)


def _clusters_for(ctx: StageContext, assignments: Any, text_of: dict[int, str]) -> tuple:
    """The cluster each assignment goes to, in two queries whatever the batch: the existing
    clusters it names, then those of the new names (another batch of the same stage may have
    created one meanwhile: it is joined). Returns ({cluster id: (cluster, keyword ids)}, the
    number of clusters created)."""
    named = [a.cluster_id for a in assignments if a.cluster_id is not None]
    found = {c.pk: c for c in Cluster.objects.filter(site_id=ctx.site_id, id__in=named)}
    names = [
        (a.name or (text_of[a.keyword_ids[0]] if a.keyword_ids else ""))[:200] for a in assignments
    ]
    by_name = {
        c.normalized: c
        for c in Cluster.objects.filter(
            site_id=ctx.site_id,
            normalized__in={
                normalize(n)
                for a, n in zip(assignments, names, strict=True)
                if a.cluster_id not in found
            },
        )
    }
    targets: dict[int, tuple[Cluster, list[int]]] = {}
    created = 0
    for a, name in zip(assignments, names, strict=True):
        cluster = found.get(a.cluster_id)
        if cluster is None and not a.keyword_ids:
            continue  # only a centroid for a cluster that is gone meanwhile
        if cluster is None:
            key = normalize(name)
            if key not in by_name:
                by_name[key] = Cluster.objects.create(
                    site_id=ctx.site_id, name=name, normalized=key, status=ClusterStatus.NEW
                )
                created += 1
            cluster = by_name[key]
        targets.setdefault(cluster.pk, (cluster, []))[1].extend(a.keyword_ids)
    return targets, created


def cluster_apply(ctx: StageContext, keywords: list[Keyword], result: Any) -> Applied:
    assignments = result.assignments
    if result.notice and ctx.run_id:
        said = RunEvent.objects.filter(run_id=ctx.run_id, kind=EventKind.NOTICE)
        if not said.filter(message=result.notice).exists():
            RunEvent.objects.create(
                run_id=ctx.run_id, kind=EventKind.NOTICE, stage=1, message=result.notice
            )
    text_of = {k.id: k.keyword for k in keywords}
    assigned = [kid for a in assignments for kid in a.keyword_ids]
    if sorted(assigned) != sorted(text_of):
        raise StageError("clustering did not assign every keyword of the batch exactly once")
    targets, created = _clusters_for(ctx, assignments, text_of)
    # The keywords, then the clusters' counts and signatures, each as one prepared statement run
    # for every row (the ORM's CASE expressions cost more than the writes).
    q = connection.ops.quote_name
    keyword_table, cluster_table = q(Keyword._meta.db_table), q(Cluster._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {keyword_table} SET cluster_id = %s, status = %s "
            "WHERE id = %s AND status = %s AND cluster_id IS NULL",
            [
                (pk, KeywordStatus.MAPPED.value, kid, KeywordStatus.NEW.value)
                for pk, (_, ids) in targets.items()
                for kid in ids
            ],
        )
        expect(cursor.rowcount, len(assigned), "keywords")
        rows = []
        for pk, (cluster, ids) in targets.items():
            members = clustering.signature_members(cluster.signature)
            room = max(0, clustering.SIGNATURE_SIZE - len(members))
            signature = clustering.make_signature(members + [text_of[kid] for kid in ids][:room])
            rows.append((len(ids), signature, pk))
        cursor.executemany(
            f"UPDATE {cluster_table} SET keyword_count = keyword_count + %s, signature = %s "
            "WHERE id = %s",
            rows,
        )
    if result.model:
        _add_to_centroids(targets, assignments, result.model)
    return Applied(outputs=created)


def _add_to_centroids(targets: dict, assignments: list[ClusterAssignment], model: str) -> None:
    """Each cluster's centroid grows by the vectors that joined it (in the item's transaction,
    so a retried batch never adds twice)."""
    added: dict[int, Any] = {}
    for a in assignments:
        vector = vectors.unpack(a.vectors)
        if vector is None:
            continue
        pk = a.cluster_id
        if pk is None:
            pk = next(p for p, (_, ids) in targets.items() if a.keyword_ids[0] in ids)
        added[pk] = vector if pk not in added else added[pk] + vector
    rows = Cluster.objects.select_for_update().filter(pk__in=added)
    for cluster in rows.only("id", "centroid", "centroid_model"):
        old = vectors.unpack(cluster.centroid, added[cluster.pk].size)
        if cluster.centroid_model != model:
            old = None
        total = added[cluster.pk] if old is None else old + added[cluster.pk]
        Cluster.objects.filter(pk=cluster.pk).update(
            centroid=vectors.pack(total), centroid_model=model
        )


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
