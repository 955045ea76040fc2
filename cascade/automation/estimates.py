"""Expectations before the work is done: how many items each stage will see, what they cost and
how long they take. The overview shows them before a run, a run keeps them as its plan, and the
snapshot fills in the stages a run has not reached with them. Stage facts come from the registry;
fan-outs come from the site's configuration, from the stage's own estimate (clusters from the
waiting keywords) and from the site's earlier runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from cascade.accounts.models import Site
from cascade.automation import config as run_config
from cascade.automation.models import StageTiming
from cascade.automation.stage_types import Inflow, Stage
from cascade.automation.stages import registry
from cascade.automation.statuses import StageStatus

STARTED = frozenset(set(StageStatus) - {StageStatus.PENDING})


def stage_seconds() -> float:
    """Seconds a stage with work costs beyond its items: starting it, and passing to the next
    (Celery's workers pick a stage up through the broker; the embedded worker at once)."""
    return 0.3 if settings.CASCADE_EXECUTOR == "celery" else 0.1


FINISHED_STAGES = frozenset({StageStatus.COMPLETED, StageStatus.SKIPPED, StageStatus.CANCELLED})


def default_seconds(number: int) -> float:
    """Expected wall seconds per item of a stage with nothing measured yet: its own work plus
    simulated latency, spread over the worker's threads; a batch stage waits once per batch,
    one batch at a time."""
    threads = max(1, settings.CASCADE_WORKER_THREADS)
    stage = registry()[number]
    latency = settings.CASCADE_AI_LATENCY.get(number, 0.0)
    return stage.base_seconds + latency / (stage.batch_size if stage.together else threads)


def expected(run: Any, number: int) -> float:
    """A stage's expected seconds per item in a run: what the run started with, or the default
    (computed only when the run has none)."""
    found = run.expected_seconds.get(str(number))
    return float(found) if found is not None else default_seconds(number)


def timings(site_id: int) -> dict[int, StageTiming]:
    return {t.stage: t for t in StageTiming.objects.filter(site_id=site_id)}


def expected_seconds(site_id: int) -> tuple[dict[str, float], bool]:
    """Seconds per item by stage for a new run: earlier runs of the site, else defaults."""
    measured = {n: t.seconds_per_item for n, t in timings(site_id).items()}
    seconds = {
        str(n): round(max(1e-4, measured.get(n, default_seconds(n))), 5) for n in registry().numbers
    }
    return seconds, bool(measured)


@dataclass
class Counted:
    """What a stage of a run has counted so far (a RunStage, or nothing yet)."""

    status: str = StageStatus.PENDING
    input_count: int = 0
    processed_count: int = 0
    failed_count: int = 0
    output_count: int = 0


def _feed(stage: Stage, enabled: list[bool], config: dict[str, Any]) -> tuple[Inflow | None, float]:
    """Where a stage's items really come from in a run: a disabled stage that only passes its
    own items on (the review gate's articles through stage 5) is looked through to its source;
    with the fan-outs looked through."""
    feed, scale = stage.inflow, 1.0
    while feed is not None and feed.counts == "processed" and not enabled[feed.source - 1]:
        upstream = registry()[feed.source].inflow
        if upstream is None:
            break
        feed, scale = upstream, scale * upstream.per_item(config)
    return feed, scale


def estimate_totals(
    initial: dict[int, int],
    config: dict[str, Any],
    ratios: dict[int, float] | None = None,
    rows: dict[int, Any] | None = None,
    finished: bool = False,
) -> tuple[dict[int, int], dict[int, bool]]:
    """Each stage's total and whether it is exact. A started stage's total is its real input.
    One not started yet gets what waited at the run's start plus what its source passes on:
    all of it once the source has finished, what it passed so far plus the rest at the
    expected fan-out while it works, the fan-out of the source's expected total before."""
    enabled, cap = config["stages_enabled"], config.get("max_items_per_stage")
    totals: dict[int, int] = {}
    exact: dict[int, bool] = {}
    for stage in registry():
        n = stage.number
        row = (rows or {}).get(n) or Counted()
        if row.status in STARTED or finished:
            totals[n], exact[n] = row.input_count, True
            continue
        if not enabled[n - 1]:
            totals[n], exact[n] = 0, True
            continue
        inflow, known = 0, True
        feed, scale = _feed(stage, enabled, config)
        if stage.inflow is not None and feed is not None:
            source = feed.source
            src = (rows or {}).get(source) or Counted()
            passed = src.output_count if feed.counts == "output" else src.processed_count
            ratio = (ratios or {}).get(n, stage.inflow.per_item(config)) * scale
            if src.status in FINISHED_STAGES:
                inflow = passed
            else:
                left = max(0, totals[source] - src.processed_count - src.failed_count)
                inflow, known = passed + math.ceil(round(left * ratio, 6)), left == 0
            known = known and exact[source]
        total = initial.get(n, 0) + inflow
        totals[n], exact[n] = (min(total, cap) if cap else total), known
    return totals, exact


def expected_ratios(site_id: int, config: dict[str, Any]) -> dict[int, float]:
    """Fan-outs a stage estimates itself (clusters per waiting keyword), or that the site's runs
    measure (ideas per cluster: at most the configured number), scaled by how far the site's
    last run found such an estimate off."""
    ratios: dict[int, float] = {}
    corrections = {n: t.correction for n, t in timings(site_id).items()}
    for stage in registry():
        inflow = stage.inflow
        if inflow is None or not inflow.measured:
            continue
        if inflow.estimate is None:
            ratios[stage.number] = inflow.per_item(config) * corrections.get(stage.number, 1.0)
            continue
        source = registry()[inflow.source]
        batch = registry().batch_size(source.number, config)
        estimated = inflow.estimate(site_id, source.queue(site_id, config), config, batch)
        if estimated is not None:
            ratios[stage.number] = estimated * corrections.get(stage.number, 1.0)
    return ratios


def first_batch_cost(number: int, waiting: int, config: dict[str, Any]) -> int:
    """Credits the first batch of a stage will hold (the 402 check of run_now)."""
    stage = registry()[number]
    if not stage.uses_ai:
        return 0
    size = min(waiting, registry().batch_size(number, config)) if stage.together else 1
    return stage.credits(config, size, reserve=True)


def initial_counts(waiting: dict[int, int], cfg: dict[str, Any]) -> dict[int, int]:
    """What a run takes in each stage of what waits: enabled stages only, each at most
    `max_items_per_stage`."""
    cap = cfg["max_items_per_stage"]
    return {
        n: (min(c, cap) if cap else c) if cfg["stages_enabled"][n - 1] else 0
        for n, c in waiting.items()
    }


def plan(site: Site, config: dict[str, Any], pending: dict[int, int]) -> dict[str, Any]:
    """What a run over what waits now is expected to be: items, credits and seconds, in all
    and by stage, with the fan-outs it assumed."""
    numbers = registry().numbers
    initial = {n: pending[n] if config["stages_enabled"][n - 1] else 0 for n in numbers}
    ratios = expected_ratios(site.pk, config)
    totals, exact = estimate_totals(initial, config, ratios)
    seconds, history = expected_seconds(site.pk)
    paid = {n: t.credit_ratio for n, t in timings(site.pk).items()}
    work = {n: totals[n] * seconds[str(n)] for n in numbers}
    stages_with_work = sum(1 for n in numbers if totals[n])
    return {
        "items": sum(totals.values()),
        "credits": sum(
            math.ceil(registry()[n].credits(config, totals[n]) * paid.get(n, 1.0)) for n in numbers
        ),
        "seconds": round(sum(work.values()) + stage_seconds() * stages_with_work),
        "stages": {str(n): totals[n] for n in numbers},
        "exact": {str(n): exact[n] for n in numbers},
        # each stage's part of the expected work: the widths of the bar a run starts with
        "shares": {str(n): round(100 * work[n] / (sum(work.values()) or 1), 1) for n in numbers},
        # as computed: rounded, 300 keywords x 0.156667 would make 48 clusters, not 47
        "ratios": {str(n): float(r) for n, r in ratios.items()},
        # what a run started now expects of each item, as begin_run freezes it
        "seconds_per_item": seconds,
        "has_history": history,
    }


def overview(site: Site) -> dict[str, Any]:
    """The pipeline overview: what waits in each stage's queue (asked of the registry), the
    estimate of a run over it, and what its first batch will hold."""
    cfg = run_config.load(site)
    pending = registry().pending_counts(site.pk, cfg)
    enabled = cfg["stages_enabled"]
    first = next((n for n in registry().numbers if pending[n] and enabled[n - 1]), None)
    return {
        "site_id": site.pk,
        "stages": [
            {
                "number": stage.number,
                "name": stage.name,
                "pending": pending[stage.number],
                "status": "ready" if pending[stage.number] else "empty",
                "enabled": enabled[stage.number - 1],
                "noun": stage.noun.many,
                "output_label": stage.output_label,
            }
            for stage in registry()
        ],
        "items": sum(pending[n] for n in registry().numbers if enabled[n - 1]),
        # the run Run Now would store: what it takes (capped) and its plan
        "estimate": plan(site, cfg, initial_counts(pending, cfg)),
        "config": cfg,
        "first_batch_credits": first_batch_cost(first, pending[first], cfg) if first else 0,
    }
