"""The stage registry: the one place that says how many stages there are and, for each, what is
in its queue, what one item is called, what it produces, what it costs and how many items it
passes on to the stages after it (contract §1).

The pipeline overview, the engine, the snapshot, the page and the CLI all ask `registry()`;
nothing else filters source tables by status to decide what a stage will process, and nothing
else knows how many stages there are. The work of each stage lives in `automation.steps`, the
querysets of its queue in `automation.queues`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from cascade.ai.local_pictures import Pictures
from cascade.automation import queues
from cascade.automation.queues import (
    cluster_queue,
    idea_queue,
    image_queue,
    image_titles,
    keyword_queue,
    prompt_queue,
    task_queue,
)
from cascade.automation.stage_types import (
    ARTICLE_LENGTH_MARGIN,
    CREDIT_COSTS,
    KEYWORDS_PER_CLUSTER,
    Inflow,
    Noun,
    Price,
    Registry,
    Rows,
    Stage,
    Work,
)
from cascade.automation.steps import planning, writing
from cascade.writer.models import IMAGE_SIZES, ImageKind

# --- the queues (automation.queues) ----------------------------------------------------------


def draws_pictures(config: dict[str, Any] | None) -> bool:
    """Whether a run with `config` gives articles pictures: the stages that write image prompts
    and draw them are both enabled."""
    enabled = (config or {}).get("stages_enabled")
    picture_stages = [s.number for s in registry() if s.rows.queue in (prompt_queue, image_queue)]
    return not enabled or all(enabled[n - 1] for n in picture_stages)


def review_queue(site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
    return queues.review_queue(site_id, pictures=draws_pictures(config))


def image_seconds() -> float:
    """A picture's own work before anything is measured for the site: drawing it offline at the
    set scale, as long as it takes on this machine, and storing it."""
    return 0.004 + drawing_seconds(settings.CASCADE_IMAGE_SCALE)


_drawing_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def drawing_seconds(scale: float) -> float:
    """Seconds the offline provider takes to draw an article's average picture at `scale`
    (one featured and two in-article), measured once a process, one thread at a time (the
    quickest of three rounds; the first warms up): a constant would be right on one machine
    only. If drawing fails here, the constant of a 2-core server."""
    with _drawing_lock:
        try:
            return _measured(scale)
        except Exception:  # noqa: BLE001 (a broken Pillow is the run's to report, not a page's)
            return 0.004 + 0.03 * scale**2


def _measured(scale: float) -> float:
    kinds = (ImageKind.FEATURED, ImageKind.IN_ARTICLE, ImageKind.IN_ARTICLE)
    sizes = [
        (max(16, int(w * scale)), max(16, int(h * scale)))
        for w, h in map(IMAGE_SIZES.__getitem__, kinds)
    ]
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for width, height in sizes:
            Pictures().render_image("Raised garden beds: a calibration picture", width, height)
        rounds.append(time.perf_counter() - started)
    return min(rounds[1:]) / len(sizes)


# --- the pipeline ---------------------------------------------------------------------------------

ARTICLE = Noun("article", "articles")

PIPELINE = Registry(
    [
        Stage(
            name="Keywords → Clusters",
            noun=Noun("keyword", "keywords"),
            verb="clustered",
            makes=Noun("cluster", "clusters"),
            rows=Rows(keyword_queue, title="keyword", claim=100, together=True),
            work=Work(planning.cluster_process, planning.cluster_apply, seconds=0.003),
            price=Price(lambda c: 1 / CREDIT_COSTS["keywords_per_credit"]),
            none_made="each keyword joined a cluster the site already has",
        ),
        Stage(
            name="Clusters → Ideas",
            noun=Noun("cluster", "clusters"),
            verb="turned into ideas",
            makes=Noun("idea", "ideas"),
            rows=Rows(cluster_queue, title="name"),
            work=Work(planning.ideas_process, planning.ideas_apply, seconds=0.015),
            price=Price(lambda c: CREDIT_COSTS["per_cluster"]),
            inflow=Inflow(
                source=1,
                per_item=lambda c: 1 / KEYWORDS_PER_CLUSTER,
                measured=True,
                estimate=planning.clusters_per_keyword,
            ),
        ),
        Stage(
            name="Ideas → Tasks",
            noun=Noun("idea", "ideas"),
            verb="turned into tasks",
            makes=Noun("task", "tasks"),
            rows=Rows(idea_queue, claim=100, together=True),
            work=Work(apply=planning.tasks_apply, seconds=0.001),
            # at most ideas_per_cluster a cluster (fewer for a cluster of fewer searches): the
            # plan scales it by what the site's last run measured, a run by its own clusters
            inflow=Inflow(source=2, per_item=lambda c: int(c["ideas_per_cluster"]), measured=True),
        ),
        Stage(
            name="Tasks → Content",
            noun=Noun("task", "tasks"),
            verb="written",
            makes=ARTICLE,
            headline=True,
            rows=Rows(task_queue, related=("idea",)),
            work=Work(writing.article_process, writing.article_apply, seconds=0.012),
            price=Price(
                lambda c: int(c["target_words"]) / CREDIT_COSTS["words_per_credit"],
                margin=ARTICLE_LENGTH_MARGIN,
            ),
            inflow=Inflow(source=3, per_item=lambda c: 1),
        ),
        Stage(
            name="Content → Image Prompts",
            noun=ARTICLE,
            verb="given image prompts",
            makes=Noun("image prompt", "image prompts"),
            rows=Rows(prompt_queue, related=("task__idea",)),
            work=Work(writing.prompts_process, writing.prompts_apply, seconds=0.009),
            price=Price(lambda c: CREDIT_COSTS["per_content_prompts"]),
            inflow=Inflow(source=4, per_item=lambda c: 1),
        ),
        Stage(
            name="Image Prompts → Images",
            noun=Noun("image prompt", "image prompts"),
            verb="drawn",
            makes=Noun("image", "images"),
            rows=Rows(image_queue, titles=image_titles),
            work=Work(writing.image_process, writing.image_apply, seconds=image_seconds),
            price=Price(lambda c: CREDIT_COSTS["per_image"]),
            inflow=Inflow(source=5, per_item=lambda c: 1 + int(c["images_per_content"])),
        ),
        Stage(
            name="Review gate",
            noun=ARTICLE,
            verb="sent to review",
            makes=Noun("article ready for review", "articles ready for review"),
            rows=Rows(review_queue, claim=100, together=True),
            work=Work(apply=writing.review_apply, seconds=0.001),
            inflow=Inflow(source=5, per_item=lambda c: 1, counts="processed"),
        ),
    ]
)

_active = PIPELINE


def registry() -> Registry:
    """The registry in use: the pipeline, or the one a test put in its place."""
    return _active


@contextmanager
def using(replacement: Registry) -> Iterator[Registry]:
    """Run with another registry (tests of a pipeline of a different length)."""
    global _active
    previous, _active = _active, replacement
    try:
        yield replacement
    finally:
        _active = previous
