"""What waits in each stage's queue: the querysets the stage registry (`stages`) names. Nothing
else filters source tables by status to decide what a stage will process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from cascade.planner import models as planner
from cascade.writer import models as writer


def keyword_queue(site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
    return turned_off_keywords(site_id, disabled=False).order_by("id")


def turned_off_keywords(site_id: int, disabled: bool = True) -> QuerySet:
    """Keywords stage 1 would take if they were not turned off (with `disabled=False`: its
    queue)."""
    return planner.Keyword.objects.filter(
        site_id=site_id, status=planner.KeywordStatus.NEW, cluster__isnull=True, disabled=disabled
    )


def cluster_queue(site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
    return planner.Cluster.objects.filter(
        site_id=site_id, status=planner.ClusterStatus.NEW, disabled=False
    ).order_by("id")


def idea_queue(site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
    return planner.ContentIdea.objects.filter(
        site_id=site_id, status=planner.IdeaStatus.NEW
    ).order_by("id")


def task_queue(site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
    return writer.Task.objects.filter(site_id=site_id, status=writer.TaskStatus.QUEUED).order_by(
        "id"
    )


def prompt_queue(site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
    has_images = Exists(writer.Image.objects.filter(content_id=OuterRef("pk")))
    return (
        writer.Content.objects.filter(site_id=site_id, status=writer.ContentStatus.DRAFT)
        .filter(~has_images)
        .order_by("id")
    )


def image_queue(site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
    return writer.Image.objects.filter(site_id=site_id, status=writer.ImageStatus.PENDING).order_by(
        "id"
    )


def review_queue(site_id: int, pictures: bool = True) -> QuerySet:
    """Written articles whose pictures are all drawn; when the run makes no pictures, every
    written article (the gate does not wait for what a disabled stage will not do)."""
    articles = writer.Content.objects.filter(
        site_id=site_id, status=writer.ContentStatus.DRAFT
    ).exclude(task__status=writer.TaskStatus.QUEUED)  # sent back: written again first
    if pictures:
        images = writer.Image.objects.filter(content_id=OuterRef("pk"))
        articles = articles.filter(Exists(images)).exclude(
            Exists(images.exclude(status=writer.ImageStatus.GENERATED))
        )
    return articles.order_by("id")


def image_titles(qs: QuerySet) -> Iterable[tuple[int, str]]:
    kind = {"featured": "featured image", "in_article": "in-article image"}
    for pk, title, k in qs.values_list("id", "content__title", "kind"):
        yield pk, f"{title} · {kind.get(k, k)}"
