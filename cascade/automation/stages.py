"""The stage registry: the only place that says what is in a stage's queue, how one item is
processed, what it outputs and what it costs (contract §1).

Pipeline overview, engine, snapshot and CLI all ask `STAGES`; nothing else filters source tables
by status to decide what a stage will process.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Exists, F, OuterRef, QuerySet, Value
from django.db.models.functions import Concat

from cascade.ai import clustering
from cascade.ai.base import Brief, ClusterIn, ClusterRef, KeywordIn, SiteProfile
from cascade.planner.models import (
    Cluster,
    ClusterStatus,
    ContentIdea,
    IdeaStatus,
    Keyword,
    KeywordStatus,
    normalize,
)
from cascade.writer.models import (
    IMAGE_SIZES,
    Content,
    ContentStatus,
    Image,
    ImageKind,
    ImageStatus,
    Task,
    TaskStatus,
)

# Credit costs, the one settings table (contract §1).
CREDIT_COSTS = {
    # With a provider that reports usage (real AI), credits follow it instead: per 1,000 tokens
    # (CASCADE_CREDITS_PER_1K_TOKENS, default 5) plus "per_image" for each generated picture.
    "keywords_per_credit": 10,  # stage 1: 1 credit per 10 keywords of a batch, rounded up
    "per_cluster": 2,  # stage 2
    "words_per_credit": 100,  # stage 4: 1 credit per 100 words written
    "per_content_prompts": 1,  # stage 5
    "per_image": 3,  # stage 6
}


class StageError(Exception):
    """An item cannot be processed for a reason that retrying will not change."""


@dataclass
class StageContext:
    site_id: int
    config: dict[str, Any]
    provider: Any
    profile: SiteProfile = SiteProfile()


@dataclass
class Applied:
    outputs: int  # rows this stage created
    credits: int  # actual credits the work cost


@dataclass(frozen=True)
class Stage:
    number: int
    name: str
    output_label: str  # plural noun for output_count ("clusters")
    uses_ai: bool
    # Items claimed at once (configurable per site and by CASCADE_BATCH_SIZES). Per-item stages
    # claim one: a claimed item is being worked on, so "processing now" is the truth.
    batch_size: int
    together: bool  # the claimed batch is processed and committed as one unit
    base_seconds: float  # expected seconds of work per item, before simulated latency
    queue: Callable[[int], QuerySet]  # site id -> rows waiting, in processing order
    titles: Callable[[QuerySet], Iterable[tuple[int, str]]]  # (id, title) for the item list
    load: Callable[[list[int]], list[Any]]
    cost: Callable[[StageContext, list[Any]], int]  # credits to reserve before the work
    process: Callable[[StageContext, list[Any]], Any]  # the AI work; no database writes
    apply: Callable[[StageContext, list[Any], Any], Applied]  # writes, inside the item transaction


def _by_id(model) -> Callable[[list[int]], list[Any]]:
    return lambda ids: list(model.objects.filter(id__in=ids).order_by("id"))


def _values(field: str) -> Callable[[QuerySet], Iterable[tuple[int, str]]]:
    return lambda qs: qs.values_list("id", field)


class StaleItem(StageError):
    pass


def _expect(updated: int, wanted: int, what: str) -> None:
    # Source rows are changed with conditional updates; a mismatch means someone else changed
    # them, and the whole item transaction is rolled back rather than writing twice.
    if updated != wanted:
        raise StaleItem(f"{what}: expected {wanted} rows in their queue status, found {updated}")


# --- 1. Keywords → Clusters --------------------------------------------------------------------


def keyword_queue(site_id: int) -> QuerySet:
    return Keyword.objects.filter(
        site_id=site_id, status=KeywordStatus.NEW, cluster__isnull=True, disabled=False
    ).order_by("id")


def cluster_cost(ctx: StageContext, keywords: list[Keyword]) -> int:
    return math.ceil(len(keywords) / CREDIT_COSTS["keywords_per_credit"])


def cluster_process(ctx: StageContext, keywords: list[Keyword]):
    existing = [
        ClusterRef(id=c["id"], name=c["name"], signature=c["signature"])
        for c in Cluster.objects.filter(site_id=ctx.site_id, disabled=False).values(
            "id", "name", "signature"
        )
    ]
    batch = [KeywordIn(k.id, k.keyword, k.intent, k.volume) for k in keywords]
    return ctx.provider.cluster_keywords(batch, existing, profile=ctx.profile)


def cluster_apply(ctx: StageContext, keywords: list[Keyword], assignments) -> Applied:
    text_of = {k.id: k.keyword for k in keywords}
    assigned = [kid for a in assignments for kid in a.keyword_ids]
    if sorted(assigned) != sorted(text_of):
        raise StageError("clustering did not assign every keyword of the batch exactly once")
    created = 0
    for a in assignments:
        cluster = None
        if a.cluster_id is not None:
            cluster = Cluster.objects.filter(site_id=ctx.site_id, id=a.cluster_id).first()
        if cluster is None:
            name = (a.name or text_of[a.keyword_ids[0]])[:200]
            # Another batch of the same stage may have created this cluster meanwhile: join it.
            cluster = Cluster.objects.filter(
                site_id=ctx.site_id, normalized=normalize(name)
            ).first()
            if cluster is None:
                cluster = Cluster.objects.create(
                    site_id=ctx.site_id,
                    name=name,
                    normalized=normalize(name),
                    status=ClusterStatus.NEW,
                )
                created += 1
        members = clustering.signature_members(cluster.signature)
        extra = [text_of[kid] for kid in a.keyword_ids][
            : max(0, clustering.SIGNATURE_SIZE - len(members))
        ]
        updated = Keyword.objects.filter(
            id__in=a.keyword_ids, status=KeywordStatus.NEW, cluster__isnull=True
        ).update(cluster=cluster, status=KeywordStatus.MAPPED)
        _expect(updated, len(a.keyword_ids), "keywords")
        Cluster.objects.filter(pk=cluster.pk).update(
            keyword_count=F("keyword_count") + len(a.keyword_ids),
            signature=clustering.make_signature(members + extra),
        )
    return Applied(outputs=created, credits=cluster_cost(ctx, keywords))


# --- 2. Clusters → Ideas -----------------------------------------------------------------------


def cluster_row_queue(site_id: int) -> QuerySet:
    return Cluster.objects.filter(
        site_id=site_id, status=ClusterStatus.NEW, disabled=False
    ).order_by("id")


def ideas_process(ctx: StageContext, clusters: list[Cluster]):
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


def ideas_apply(ctx: StageContext, clusters: list[Cluster], ideas) -> Applied:
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
    _expect(updated, 1, "cluster")
    return Applied(outputs=len(ideas), credits=CREDIT_COSTS["per_cluster"])


# --- 3. Ideas → Tasks --------------------------------------------------------------------------


def idea_queue(site_id: int) -> QuerySet:
    return ContentIdea.objects.filter(site_id=site_id, status=IdeaStatus.NEW).order_by("id")


def tasks_apply(ctx: StageContext, ideas: list[ContentIdea], _result) -> Applied:
    target = int(ctx.config["target_words"])
    Task.objects.bulk_create(
        [
            Task(
                site_id=ctx.site_id,
                idea=i,
                title=i.title,
                target_words=target,
                status=TaskStatus.QUEUED,
            )
            for i in ideas
        ]
    )
    updated = ContentIdea.objects.filter(
        id__in=[i.id for i in ideas], status=IdeaStatus.NEW
    ).update(status=IdeaStatus.QUEUED)
    _expect(updated, len(ideas), "ideas")
    return Applied(outputs=len(ideas), credits=0)


# --- 4. Tasks → Content ------------------------------------------------------------------------


def task_queue(site_id: int) -> QuerySet:
    return Task.objects.filter(site_id=site_id, status=TaskStatus.QUEUED).order_by("id")


def _words_cost(words: int) -> int:
    return math.ceil(words / CREDIT_COSTS["words_per_credit"])


def article_cost(ctx: StageContext, tasks: list[Task]) -> int:
    # Reserve for the longest article the target allows (+15 %); settled to the words written.
    return sum(_words_cost(math.ceil(t.target_words * 1.15)) for t in tasks)


def article_process(ctx: StageContext, tasks: list[Task]):
    (task,) = tasks
    idea = task.idea
    brief = Brief(
        title=idea.title,
        outline=list(idea.outline),
        target_keywords=list(idea.target_keywords),
        structure=idea.structure,
        target_words=task.target_words,
        tone=ctx.profile.tone,
        audience=ctx.profile.audience,
        language=ctx.profile.language,
    )
    return ctx.provider.write_article(brief, profile=ctx.profile)


def article_apply(ctx: StageContext, tasks: list[Task], article) -> Applied:
    (task,) = tasks
    Content.objects.create(
        site_id=ctx.site_id,
        task=task,
        title=task.title,
        html=article.html,
        meta_title=article.meta_title[:60],
        meta_description=article.meta_description[:160],
        word_count=article.word_count,
        status=ContentStatus.DRAFT,
        is_offline_draft=bool(getattr(ctx.provider, "is_offline", False)),
        provider=getattr(ctx.provider, "name", ""),
    )
    _expect(
        Task.objects.filter(pk=task.pk, status=TaskStatus.QUEUED).update(
            status=TaskStatus.COMPLETED
        ),
        1,
        "task",
    )
    ContentIdea.objects.filter(pk=task.idea_id).update(status=IdeaStatus.COMPLETED)
    return Applied(outputs=1, credits=_words_cost(article.word_count))


# --- 5. Content → Image prompts ----------------------------------------------------------------


def prompt_queue(site_id: int) -> QuerySet:
    has_images = Exists(Image.objects.filter(content_id=OuterRef("pk")))
    return (
        Content.objects.filter(site_id=site_id, status=ContentStatus.DRAFT)
        .filter(~has_images)
        .order_by("id")
    )


def prompts_process(ctx: StageContext, contents: list[Content]):
    (content,) = contents
    outline = list(content.task.idea.outline) if content.task_id else []
    return ctx.provider.image_prompts(
        content.title, outline, int(ctx.config["images_per_content"]), profile=ctx.profile
    )


def prompts_apply(ctx: StageContext, contents: list[Content], prompts) -> Applied:
    (content,) = contents
    if Image.objects.filter(content=content).exists():
        raise StaleItem("content already has image prompts")
    Image.objects.bulk_create(
        [
            Image(site_id=ctx.site_id, content=content, kind=p.kind, position=i, prompt=p.prompt)
            for i, p in enumerate(prompts)
        ]
    )
    return Applied(outputs=len(prompts), credits=CREDIT_COSTS["per_content_prompts"])


# --- 6. Image prompts → Images -----------------------------------------------------------------


def image_queue(site_id: int) -> QuerySet:
    return Image.objects.filter(site_id=site_id, status=ImageStatus.PENDING).order_by("id")


def image_titles(qs: QuerySet):
    return qs.annotate(label=Concat(F("content__title"), Value(" · "), F("kind"))).values_list(
        "id", "label"
    )


def image_process(ctx: StageContext, images: list[Image]):
    (image,) = images
    width, height = IMAGE_SIZES[ImageKind(image.kind)]
    scale = settings.CASCADE_IMAGE_SCALE
    width, height = max(16, int(width * scale)), max(16, int(height * scale))
    png = ctx.provider.render_image(image.prompt, width, height, profile=ctx.profile)
    # The file name depends only on the image row, so a retry overwrites instead of adding.
    relative = f"sites/{ctx.site_id}/images/{image.content_id}-{image.position}-{image.kind}.png"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(png)
    os.replace(tmp, target)
    return relative, width, height


def image_apply(ctx: StageContext, images: list[Image], result) -> Applied:
    (image,) = images
    relative, width, height = result
    updated = Image.objects.filter(pk=image.pk, status=ImageStatus.PENDING).update(
        status=ImageStatus.GENERATED, file=relative, width=width, height=height
    )
    _expect(updated, 1, "image")
    return Applied(outputs=1, credits=CREDIT_COSTS["per_image"])


# --- 7. Review gate ----------------------------------------------------------------------------


def review_queue(site_id: int) -> QuerySet:
    images = Image.objects.filter(content_id=OuterRef("pk"))
    return (
        Content.objects.filter(site_id=site_id, status=ContentStatus.DRAFT)
        .filter(Exists(images))
        .exclude(Exists(images.exclude(status=ImageStatus.GENERATED)))
        .order_by("id")
    )


def review_apply(ctx: StageContext, contents: list[Content], _result) -> Applied:
    ids = [c.id for c in contents]
    updated = Content.objects.filter(id__in=ids, status=ContentStatus.DRAFT).update(
        status=ContentStatus.REVIEW
    )
    _expect(updated, len(ids), "content")
    return Applied(outputs=len(ids), credits=0)


def _free(ctx: StageContext, items: list[Any]) -> int:
    return 0


def _nothing(ctx: StageContext, items: list[Any]) -> None:
    return None


STAGES: dict[int, Stage] = {
    1: Stage(
        1,
        "Keywords → Clusters",
        "clusters",
        True,
        100,
        True,
        0.01,
        keyword_queue,
        _values("keyword"),
        _by_id(Keyword),
        cluster_cost,
        cluster_process,
        cluster_apply,
    ),
    2: Stage(
        2,
        "Clusters → Ideas",
        "ideas",
        True,
        1,
        False,
        0.02,
        cluster_row_queue,
        _values("name"),
        _by_id(Cluster),
        lambda ctx, items: CREDIT_COSTS["per_cluster"] * len(items),
        ideas_process,
        ideas_apply,
    ),
    3: Stage(
        3,
        "Ideas → Tasks",
        "tasks",
        False,
        100,
        True,
        0.003,
        idea_queue,
        _values("title"),
        _by_id(ContentIdea),
        _free,
        _nothing,
        tasks_apply,
    ),
    4: Stage(
        4,
        "Tasks → Content",
        "articles",
        True,
        1,
        False,
        0.05,
        task_queue,
        _values("title"),
        lambda ids: list(Task.objects.filter(id__in=ids).select_related("idea").order_by("id")),
        article_cost,
        article_process,
        article_apply,
    ),
    5: Stage(
        5,
        "Content → Image Prompts",
        "image prompts",
        True,
        1,
        False,
        0.01,
        prompt_queue,
        _values("title"),
        lambda ids: list(
            Content.objects.filter(id__in=ids).select_related("task__idea").order_by("id")
        ),
        lambda ctx, items: CREDIT_COSTS["per_content_prompts"] * len(items),
        prompts_process,
        prompts_apply,
    ),
    6: Stage(
        6,
        "Image Prompts → Images",
        "images",
        True,
        1,
        False,
        0.05,
        image_queue,
        image_titles,
        _by_id(Image),
        lambda ctx, items: CREDIT_COSTS["per_image"] * len(items),
        image_process,
        image_apply,
    ),
    7: Stage(
        7,
        "Review gate",
        "articles ready for review",
        False,
        100,
        True,
        0.003,
        review_queue,
        _values("title"),
        _by_id(Content),
        _free,
        _nothing,
        review_apply,
    ),
}
NUMBERS = tuple(STAGES)


def batch_size(number: int, config: dict[str, Any]) -> int:
    configured = (config.get("batch_sizes") or {}).get(str(number))
    if configured:
        return max(1, int(configured))
    if number in settings.CASCADE_BATCH_SIZES:
        return max(1, int(settings.CASCADE_BATCH_SIZES[number]))
    return STAGES[number].batch_size


def pending_counts(site_id: int) -> dict[int, int]:
    """What waits in each stage's queue now: the pipeline overview's numbers."""
    return {n: stage.queue(site_id).count() for n, stage in STAGES.items()}


def credits_for_usage(used) -> int:
    """Credits for measured AI usage: tokens at the configured rate, plus pictures."""
    tokens = used.prompt_tokens + used.completion_tokens
    return (
        math.ceil(tokens * settings.CASCADE_CREDITS_PER_1K_TOKENS / 1000)
        + used.images * CREDIT_COSTS["per_image"]
    )


def credits_per_item(number: int, config: dict[str, Any]) -> float:
    """Expected credits of one item of a stage, from the cost table (estimates and the run-now
    check; actual charges come from each stage's `apply` or the provider's usage)."""
    return {
        1: 1 / CREDIT_COSTS["keywords_per_credit"],
        2: CREDIT_COSTS["per_cluster"],
        3: 0,
        4: math.ceil(int(config["target_words"]) * 1.15 / CREDIT_COSTS["words_per_credit"]),
        5: CREDIT_COSTS["per_content_prompts"],
        6: CREDIT_COSTS["per_image"],
        7: 0,
    }[number]
