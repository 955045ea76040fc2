"""What a stage is made of: its nouns, what feeds it, its rows and work, its price, and the
`Registry` that numbers the stages in the order they run. The pipeline itself (which stages,
in which order) is `automation.stages`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from cascade.automation.steps import Applied, StageContext

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
# The lengths an article's target may have (settings, the API, a rewrite note's length).
TARGET_WORDS_MIN, TARGET_WORDS_MAX = 300, 5000
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
    makes: Noun  # what output_count counts ("cluster", "clusters")
    rows: Rows
    work: Work
    price: Price = FREE
    inflow: Inflow | None = None  # None: only what waits when the run starts
    headline: bool = False  # people count a run in this stage's items ("174 articles")
    # Why it can finish items and make nothing, said where a later stage is skipped for it.
    none_made: str = ""
    number: int = 0  # its place in the registry, set by the registry

    @property
    def output_label(self) -> str:
        return self.makes.many

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
