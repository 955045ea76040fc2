"""The stage registry: the one place that says how many stages there are and, for each, what is
in its queue, what one item is called, what it produces, what it costs and how many items it
passes on to the stages after it (contract §1).

The pipeline overview, the engine, the snapshot, the page and the CLI all ask `registry()`;
nothing else filters source tables by status to decide what a stage will process, and nothing
else knows how many stages there are. The work of each stage lives in `automation.steps`, the
querysets of its queue in `automation.queues`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

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
from cascade.automation.steps import Applied, StageContext, planning, writing

# Credit costs, the one settings table (contract §1). With a provider that reports usage (real
# AI), credits follow it instead: per 1,000 tokens (CASCADE_CREDITS_PER_1K_TOKENS) plus
# "per_image" for each generated picture.
CREDIT_COSTS = {
    "keywords_per_credit": 10,  # stage 1: 1 credit per 10 keywords of a batch, rounded up
    "per_cluster": 2,  # stage 2
    "words_per_credit": 100,  # stage 4: 1 credit per 100 words written
    "per_content_prompts": 1,  # stage 5
    "per_image": 3,  # stage 6
}
# An article may come out up to 15 % longer than its target: stage 4 reserves that much.
ARTICLE_LENGTH_MARGIN = 1.15
# Keywords per new cluster before the site has measured its own (stage 1's default fan-out).
KEYWORDS_PER_CLUSTER = 8.0


@dataclass(frozen=True)
class Noun:
    one: str
    many: str

    def count(self, n: int) -> str:
        return f"{n:,} {self.one if n == 1 else self.many}"


@dataclass(frozen=True, kw_only=True)
class Inflow:
    """Where a stage's items come from: `per_item(config)` items for each item of stage
    `source` (e.g. stage 6 gets 1 + K image prompts per article of stage 5). `measured` says
    the ratio is learnt from the site's own runs once it has some."""

    source: int
    per_item: Callable[[dict[str, Any]], float]
    measured: bool = False
    # What the source has passed on so far: the rows it created ("output") or the items it
    # finished ("processed": the review gate takes the articles stage 5 gave prompts).
    counts: str = "output"
    # A better guess of `per_item` from what waits in the source's queue (site id, that queue,
    # the configuration, the source's batch size), when the stage can make one.
    estimate: Callable[[int, QuerySet, dict[str, Any], int], float | None] | None = None


@dataclass(frozen=True)
class Rows:
    """Which rows wait in a stage's queue and how its items are claimed."""

    # (site id, the run's configuration or None for the site's defaults) -> rows waiting, in
    # processing order
    queue: Callable[[int, dict[str, Any] | None], QuerySet]
    title: str = "title"  # the field an item's title comes from, for the item lists
    titles: Callable[[QuerySet], Iterable[tuple[int, str]]] | None = None  # or (id, title) pairs
    related: tuple[str, ...] = ()  # loaded with each item for the work
    # Items claimed at once (configurable per site and by CASCADE_BATCH_SIZES). Per-item stages
    # claim one: a claimed item is being worked on, so "processing now" is the truth.
    claim: int = 1
    together: bool = False  # the claimed batch is processed and committed as one unit


def _unused(ctx: StageContext, items: list[Any], result: Any) -> Applied:
    raise TypeError("a stage's work must say how it applies its result")


@dataclass(frozen=True)
class Work:
    """What processing an item does: `process` asks the AI (no database writes; None for stages
    without AI), `apply` writes inside the item's transaction."""

    process: Callable[[StageContext, list[Any]], Any] | None = None
    apply: Callable[[StageContext, list[Any], Any], Applied] = _unused
    # Expected seconds of work per item on this machine, before simulated latency (or a
    # function of the settings, for work whose size they set).
    seconds: float | Callable[[], float] = 0.01


@dataclass(frozen=True)
class Price:
    """Expected credits of one item (a function of the run's configuration); reservations add
    `margin` for work whose length varies. The one source of a stage's price for estimates,
    reservations and charges."""

    per_item: Callable[[dict[str, Any]], float]
    margin: float = 1.0


FREE = Price(lambda config: 0.0)


@dataclass(frozen=True, kw_only=True)
class Stage:
    name: str
    noun: Noun  # what one queued item is ("keyword", "keywords")
    verb: str  # what happens to an item ("0 of 8 keywords clustered")
    makes: str  # plural noun for output_count ("clusters")
    rows: Rows
    work: Work
    price: Price = FREE
    inflow: Inflow | None = None  # None: only what waits when the run starts
    headline: bool = False  # people count a run in this stage's items ("174 articles")
    number: int = 0  # its place in the registry, set by the registry

    @property
    def output_label(self) -> str:
        return self.makes

    @property
    def uses_ai(self) -> bool:
        return self.work.process is not None

    @property
    def batch_size(self) -> int:
        return self.rows.claim

    @property
    def together(self) -> bool:
        return self.rows.together

    @property
    def base_seconds(self) -> float:
        seconds = self.work.seconds
        return seconds() if callable(seconds) else seconds

    def queue(self, site_id: int, config: dict[str, Any] | None = None) -> QuerySet:
        """What waits in this stage's queue for a run with `config` (stages it disables change
        what a later stage waits for)."""
        return self.rows.queue(site_id, config)

    def titles(self, queue: QuerySet) -> Iterable[tuple[int, str]]:
        if self.rows.titles is not None:
            return self.rows.titles(queue)
        return queue.values_list("id", self.rows.title)

    def load(self, ids: list[int]) -> list[Any]:
        rows = self.rows.queue(0, None).model.objects.filter(id__in=ids).order_by("id")
        # (select_related() with no names would follow every foreign key)
        return list(rows.select_related(*self.rows.related) if self.rows.related else rows)

    def process(self, ctx: StageContext, items: list[Any]) -> Any:
        return self.work.process(ctx, items) if self.work.process else None

    def apply(self, ctx: StageContext, items: list[Any], result: Any) -> Applied:
        return self.work.apply(ctx, items, result)

    def credits(self, config: dict[str, Any], count: int, *, reserve: bool = False) -> int:
        """Credits for `count` items processed together; with `reserve`, the most they may cost."""
        margin = self.price.margin if reserve else 1.0
        return math.ceil(round(self.price.per_item(config) * count * margin, 6))


class Registry:
    """The stages of the pipeline, numbered 1..n in the order they run."""

    def __init__(self, stages: Iterable[Stage]) -> None:
        # A stage's number is its place in the list; the order is the order stages run in.
        self.stages = tuple(replace(s, number=i) for i, s in enumerate(stages, start=1))
        self.by_number = {s.number: s for s in self.stages}
        for s in self.stages:
            if s.inflow and not 1 <= s.inflow.source < s.number:
                raise ValueError(f"stage {s.number} is fed by a stage that does not run before it")

    def __iter__(self) -> Iterator[Stage]:
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def __getitem__(self, number: int) -> Stage:
        return self.by_number[number]

    def __contains__(self, number: object) -> bool:
        return number in self.by_number

    @property
    def headline(self) -> Stage:
        """The stage whose items people count a run in (the last one unless one says so)."""
        return next((s for s in self.stages if s.headline), self.stages[-1])

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(self.by_number)

    @property
    def last(self) -> int:
        return self.stages[-1].number

    def from_stage(self, first: int) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.number >= first)

    def pending_counts(self, site_id: int, config: dict[str, Any] | None = None) -> dict[int, int]:
        """What waits in each stage's queue now: the pipeline overview's numbers."""
        return {s.number: s.queue(site_id, config).count() for s in self.stages}

    def batch_size(self, number: int, config: dict[str, Any]) -> int:
        configured = (config.get("batch_sizes") or {}).get(str(number))
        if configured:
            return max(1, int(configured))
        if number in settings.CASCADE_BATCH_SIZES:
            return max(1, int(settings.CASCADE_BATCH_SIZES[number]))
        return self[number].batch_size


def credits_for_usage(used: Any) -> int:
    """Credits for measured AI usage: tokens at the configured rate, plus pictures."""
    tokens = used.prompt_tokens + used.completion_tokens
    return (
        math.ceil(tokens * settings.CASCADE_CREDITS_PER_1K_TOKENS / 1000)
        + used.images * CREDIT_COSTS["per_image"]
    )


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
    """Drawing a picture takes longer the larger the pictures are set to be."""
    return 0.008 + 0.03 * settings.CASCADE_IMAGE_SCALE**2


# --- the pipeline ---------------------------------------------------------------------------------

ARTICLE = Noun("article", "articles")

PIPELINE = Registry(
    [
        Stage(
            name="Keywords → Clusters",
            noun=Noun("keyword", "keywords"),
            verb="clustered",
            makes="clusters",
            rows=Rows(keyword_queue, title="keyword", claim=100, together=True),
            work=Work(planning.cluster_process, planning.cluster_apply, seconds=0.003),
            price=Price(lambda c: 1 / CREDIT_COSTS["keywords_per_credit"]),
        ),
        Stage(
            name="Clusters → Ideas",
            noun=Noun("cluster", "clusters"),
            verb="turned into ideas",
            makes="ideas",
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
            makes="tasks",
            rows=Rows(idea_queue, claim=100, together=True),
            work=Work(apply=planning.tasks_apply, seconds=0.001),
            inflow=Inflow(source=2, per_item=lambda c: int(c["ideas_per_cluster"])),
        ),
        Stage(
            name="Tasks → Content",
            noun=Noun("task", "tasks"),
            verb="written",
            makes="articles",
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
            makes="image prompts",
            rows=Rows(prompt_queue, related=("task__idea",)),
            work=Work(writing.prompts_process, writing.prompts_apply, seconds=0.009),
            price=Price(lambda c: CREDIT_COSTS["per_content_prompts"]),
            inflow=Inflow(source=4, per_item=lambda c: 1),
        ),
        Stage(
            name="Image Prompts → Images",
            noun=Noun("image prompt", "image prompts"),
            verb="drawn",
            makes="images",
            rows=Rows(image_queue, titles=image_titles),
            work=Work(writing.image_process, writing.image_apply, seconds=image_seconds),
            price=Price(lambda c: CREDIT_COSTS["per_image"]),
            inflow=Inflow(source=5, per_item=lambda c: 1 + int(c["images_per_content"])),
        ),
        Stage(
            name="Review gate",
            noun=ARTICLE,
            verb="sent to review",
            makes="articles ready for review",
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
