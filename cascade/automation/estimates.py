"""Expectations before the work is done: how many items each stage will see, what they cost and
how long they take. The overview shows them before a run; the snapshot fills in the stages a run
has not reached with them. All stage facts come from the registry."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings

from cascade.accounts.models import Site
from cascade.automation import config as run_config
from cascade.automation.models import StageTiming
from cascade.automation.stages import registry


def default_seconds(number: int) -> float:
    """Expected wall seconds per item of a stage with nothing measured yet."""
    threads = max(1, settings.CASCADE_WORKER_THREADS)
    return registry()[number].base_seconds + settings.CASCADE_AI_LATENCY.get(number, 0.0) / threads


def expected_seconds(site_id: int) -> tuple[dict[str, float], bool]:
    """Seconds per item by stage for a new run: earlier runs of the site, else defaults."""
    measured = dict(
        StageTiming.objects.filter(site_id=site_id).values_list("stage", "seconds_per_item")
    )
    seconds = {
        str(n): round(max(1e-4, measured.get(n, default_seconds(n))), 5) for n in registry().numbers
    }
    return seconds, bool(measured)


def estimate_totals(
    known: dict[int, int | None],
    initial: dict[int, int],
    config: dict[str, Any],
    ratios: dict[int, float] | None = None,
) -> dict[int, int]:
    """Each stage's total: its real input once started (`known`), else what waits now plus what
    the stages before it are expected to pass on. `ratios` replaces a stage's default fan-out
    (items it receives per item of its source) where something better was measured."""
    enabled = config["stages_enabled"]
    cap = config.get("max_items_per_stage")
    totals: dict[int, int] = {}
    for stage in registry():
        n = stage.number
        if known.get(n) is not None:
            totals[n] = int(known[n])  # type: ignore[arg-type]
            continue
        if not enabled[n - 1]:
            totals[n] = 0
            continue
        inflow = 0
        if stage.inflow is not None:
            ratio = (ratios or {}).get(n, stage.inflow.per_item(config))
            inflow = math.ceil(round(totals[stage.inflow.source] * ratio, 6))
        total = initial.get(n, 0) + inflow
        totals[n] = min(total, cap) if cap else total
    return totals


def first_batch_cost(number: int, waiting: int, config: dict[str, Any]) -> int:
    """Credits the first batch of a stage will hold (the 402 check of run_now)."""
    stage = registry()[number]
    if not stage.uses_ai:
        return 0
    size = min(waiting, registry().batch_size(number, config)) if stage.together else 1
    return stage.credits(config, size, reserve=True)


def plan(site: Site, config: dict[str, Any], pending: dict[int, int]) -> dict[str, Any]:
    """The estimate the overview shows before a run: items, credits and seconds."""
    numbers = registry().numbers
    initial = {n: pending[n] if config["stages_enabled"][n - 1] else 0 for n in numbers}
    totals = estimate_totals({}, initial, config)
    seconds, _ = expected_seconds(site.pk)
    return {
        "items": sum(totals.values()),
        "credits": sum(registry()[n].credits(config, totals[n]) for n in numbers),
        "seconds": round(sum(totals[n] * seconds[str(n)] for n in numbers)),
        "stages": {str(n): totals[n] for n in numbers},
    }


def overview(site: Site) -> dict[str, Any]:
    """The pipeline overview: what waits in each stage's queue (asked of the registry), the
    estimate of a run over it, and what its first batch will hold."""
    cfg = run_config.load(site)
    pending = registry().pending_counts(site.pk)
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
        "estimate": plan(site, cfg, pending),
        "first_batch_credits": first_batch_cost(first, pending[first], cfg) if first else 0,
    }
