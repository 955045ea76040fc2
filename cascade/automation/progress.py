"""The snapshot (contract §4, §5): every number about a run, built in one place from stored
counters, in a fixed handful of queries whatever the size of the site."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from cascade.accounts.models import Site
from cascade.automation.models import (
    FINISHED,
    AutomationRun,
    ItemState,
    RunItem,
    RunStage,
    RunStatus,
    StageStatus,
    StageTiming,
)
from cascade.automation.stages import NUMBERS, STAGES, batch_size, credits_per_item, pending_counts

SHOWN_ITEMS = 5  # currently_processing and up_next
SHOWN_ERRORS = 50
KEYWORDS_PER_CLUSTER = 8.0  # expected keywords per new cluster before stage 1 has measured it
NOT_STARTED = frozenset({StageStatus.PENDING})


# --- expectations ---------------------------------------------------------------------------------


def default_seconds(number: int) -> float:
    """Expected wall seconds per item of a stage with nothing measured yet."""
    threads = max(1, settings.CASCADE_WORKER_THREADS)
    return STAGES[number].base_seconds + settings.CASCADE_AI_LATENCY.get(number, 0.0) / threads


def expected_seconds(site_id: int) -> tuple[dict[str, float], bool]:
    """Seconds per item by stage for a new run: earlier runs of the site, else defaults."""
    measured = dict(
        StageTiming.objects.filter(site_id=site_id).values_list("stage", "seconds_per_item")
    )
    seconds = {str(n): round(max(1e-4, measured.get(n, default_seconds(n))), 5) for n in NUMBERS}
    return seconds, bool(measured)


def estimate_totals(
    known: dict[int, int | None],
    initial: dict[int, int],
    config: dict[str, Any],
    kw_per_cluster: float = KEYWORDS_PER_CLUSTER,
) -> dict[int, int]:
    """Each stage's total: its real input once started (`known`), else what waits now plus what
    the stage before it is expected to pass on."""
    enabled = config["stages_enabled"]
    k = int(config["images_per_content"])
    ideas = int(config["ideas_per_cluster"])
    cap = config.get("max_items_per_stage")
    totals: dict[int, int] = {}
    for n in NUMBERS:
        if known.get(n) is not None:
            totals[n] = int(known[n])  # type: ignore[arg-type]
            continue
        if not enabled[n - 1]:
            totals[n] = 0
            continue
        inflow = _inflow(n, totals, kw_per_cluster, ideas, k) if enabled[n - 2] or n == 1 else 0
        total = initial.get(n, 0) + inflow
        totals[n] = min(total, cap) if cap else total
    return totals


def _inflow(n: int, totals: dict[int, int], kw_per_cluster: float, ideas: int, images: int) -> int:
    """What the stage before n is expected to add to n's queue."""
    if n == 1:
        return 0
    if n == 2:
        return math.ceil(totals[1] / kw_per_cluster) if totals[1] else 0
    if n == 3:
        return totals[2] * ideas
    if n == 6:
        return totals[5] * (1 + images)
    if n == 7:
        return totals[5]
    return totals[n - 1]


def first_batch_cost(site: Site, number: int, waiting: int, config: dict[str, Any]) -> int:
    """Credits the first batch of a stage will reserve (the 402 check of run_now)."""
    stage = STAGES[number]
    if not stage.uses_ai:
        return 0
    size = min(waiting, batch_size(number, config))
    return math.ceil(credits_per_item(number, config) * (size if stage.together else 1))


def plan(site: Site, config: dict[str, Any], pending: dict[int, int]) -> dict[str, Any]:
    """The estimate the overview shows before a run: items, credits and seconds."""
    initial = {n: pending[n] if config["stages_enabled"][n - 1] else 0 for n in NUMBERS}
    totals = estimate_totals({}, initial, config)
    seconds, _ = expected_seconds(site.pk)
    return {
        "items": sum(totals.values()),
        "credits": math.ceil(sum(totals[n] * credits_per_item(n, config) for n in NUMBERS)),
        "seconds": round(sum(totals[n] * seconds[str(n)] for n in NUMBERS)),
        "stages": {str(n): totals[n] for n in NUMBERS},
    }


def overview(site: Site) -> dict[str, Any]:
    """The pipeline overview: what waits in each stage's queue (asked of the registry), the
    estimate of a run over it, and what its first batch will reserve."""
    from cascade.automation import config as run_config

    cfg = run_config.load(site)
    pending = pending_counts(site.pk)
    first = next((n for n in NUMBERS if pending[n] and cfg["stages_enabled"][n - 1]), None)
    return {
        "site_id": site.pk,
        "stages": [
            {
                "number": n,
                "name": stage.name,
                "pending": pending[n],
                "status": "ready" if pending[n] else "empty",
                "enabled": cfg["stages_enabled"][n - 1],
                "output_label": stage.output_label,
            }
            for n, stage in STAGES.items()
        ],
        "items": sum(pending[n] for n in NUMBERS if cfg["stages_enabled"][n - 1]),
        "estimate": plan(site, cfg, pending),
        "first_batch_credits": first_batch_cost(site, first, pending[first], cfg) if first else 0,
    }


# --- the snapshot -----------------------------------------------------------------------------------


def latest_run(site_id: int) -> AutomationRun | None:
    return AutomationRun.objects.filter(site_id=site_id).order_by("-created_at").first()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def human_duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return "< 1 min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"~{minutes} min"
    return f"~{minutes // 60} h {minutes % 60} min"


def _elapsed(start: datetime | None, end: datetime | None, paused: float) -> float:
    if start is None:
        return 0.0
    return max(0.0, ((end or timezone.now()) - start).total_seconds() - paused)


def status_text(run: AutomationRun, stages: list[RunStage]) -> str:
    """What is really happening, in words (e.g. "Pausing: finishing 2 items")."""
    active = next((s for s in stages if s.number == run.current_stage), None)
    in_flight = active.in_progress_count if active else 0
    reasons = {
        "user": "Paused by a user",
        "insufficient_credits": "Paused: not enough credits",
        "provider_unavailable": "Paused: the AI provider is unavailable",
    }
    match run.status:
        case RunStatus.QUEUED:
            return "Starting…"
        case RunStatus.RUNNING:
            return f"Running stage {run.current_stage} of 7"
        case RunStatus.PAUSING:
            return f"Pausing: finishing {in_flight} item{'s' if in_flight != 1 else ''}"
        case RunStatus.PAUSED:
            return reasons.get(run.pause_reason or "user", f"Paused: {run.pause_reason}")
        case RunStatus.CANCELLING:
            return f"Cancelling: finishing {in_flight} item{'s' if in_flight != 1 else ''}"
        case RunStatus.CANCELLED:
            return "Cancelled"
        case RunStatus.COMPLETED:
            return "Completed"
        case _:
            return f"Failed: {run.status_message}" if run.status_message else "Failed"


_recent: dict[str, tuple[int, float, dict[str, Any]]] = {}  # run id -> (version, built at, doc)
REUSE_SECONDS = 1.0  # a document of the same version is reused this long (its clocks move on)


def build_snapshot(run: AutomationRun | Any, version: int | None = None) -> dict[str, Any]:
    """The snapshot of a run. Many readers of one version (pages, API clients, streams) share
    one build for up to a second: a read then costs one query for the version. The document is
    shared: callers that change it work on a copy (`page.decorate` does)."""
    run_id = str(run.pk if isinstance(run, AutomationRun) else run)
    if version is None:
        version = AutomationRun.objects.filter(pk=run_id).values_list("version", flat=True).first()
    hit = _recent.get(run_id)
    if hit is not None and hit[0] == version and time.monotonic() - hit[1] < REUSE_SECONDS:
        return hit[2]
    doc = _build_snapshot(run_id)
    if len(_recent) > 1000:
        _recent.clear()
    _recent[run_id] = (doc["version"], time.monotonic(), doc)
    return doc


def _build_snapshot(run: AutomationRun | Any) -> dict[str, Any]:
    """The one JSON document about a run's progress.

    The run and its seven stage rows come from one statement, so the counters and the run's
    status and version always belong together. Then the active stage's processing and next
    items (2 queries), the errors (1) and, when the percentage rose, a conditional write of its
    high-water mark (1): at most 5 queries whatever the size of the site."""
    run_id = run.pk if isinstance(run, AutomationRun) else run
    stages = list(RunStage.objects.filter(run_id=run_id).select_related("run").order_by("number"))
    if not stages:
        raise AutomationRun.DoesNotExist(f"run {run_id} has no stages")
    run = stages[0].run
    now = timezone.now()
    paused_now = run.status == RunStatus.PAUSED and run.paused_at is not None
    clock_end = run.finished_at or (run.paused_at if paused_now else now)
    active = next(
        (s for s in stages if s.number == run.current_stage and s.status == StageStatus.ACTIVE),
        None,
    )

    processing: list[dict[str, Any]] = []
    up_next: list[dict[str, Any]] = []
    if active is not None and run.status not in FINISHED:
        processing = [
            {"id": oid, "title": title}
            for oid, title in RunItem.objects.filter(
                run_id=run.pk, stage=active.number, state=ItemState.PROCESSING
            )
            .order_by("position")
            .values_list("object_id", "title")[:SHOWN_ITEMS]
        ]
        busy = {item["id"] for item in processing}
        # Read a moment later than `processing`: an item may have moved meanwhile, so the two
        # lists are kept disjoint here rather than trusted to be.
        up_next = [
            {"id": oid, "title": title}
            for oid, title in RunItem.objects.filter(
                run_id=run.pk, stage=active.number, state=ItemState.QUEUED
            )
            .order_by("position")
            .values_list("object_id", "title")[:SHOWN_ITEMS]
            if oid not in busy
        ]
    errors = [
        {"stage": stage, "item_id": oid, "title": title, "message": message, "at": _iso(at)}
        for stage, oid, title, message, at in RunItem.objects.filter(
            run_id=run.pk, last_error_at__isnull=False
        )
        .exclude(state=ItemState.DONE)
        .order_by("-last_error_at")
        .values_list("stage", "object_id", "title", "last_error", "last_error_at")[:SHOWN_ERRORS]
    ]

    per_item = _seconds_per_item(run, active)
    stage_docs = []
    for s in stages:
        spec = STAGES[s.number]
        finished = s.status in (StageStatus.COMPLETED, StageStatus.SKIPPED)
        settled = s.processed_count + s.failed_count
        stage_end = s.finished_at or (clock_end if s.started_at else None)
        stage_paused = s.paused_seconds
        stage_docs.append(
            {
                "number": s.number,
                "name": spec.name,
                "status": s.status,
                "input_count": s.input_count,
                "processed_count": s.processed_count,
                "failed_count": s.failed_count,
                "in_progress_count": s.in_progress_count,
                "remaining_count": s.input_count - settled,
                "output_count": s.output_count,
                "output_label": spec.output_label,
                "progress_percentage": (100 * settled // s.input_count)
                if s.input_count
                else (100 if finished else 0),
                "credits_used": s.credits_used,
                "duration_seconds": round(_elapsed(s.started_at, stage_end, stage_paused), 1)
                if s.started_at
                else 0.0,
                "rate_per_minute": _rate(s, _elapsed(s.started_at, stage_end, stage_paused)),
                "estimated_remaining_seconds": _stage_eta(s, per_item, run),
                "estimated_remaining_time": human_duration(_stage_eta(s, per_item, run)),
                "started_at": _iso(s.started_at),
                "finished_at": _iso(s.finished_at),
                "currently_processing": processing if s is active else [],
                "up_next": up_next if s is active else [],
            }
        )

    global_progress = _global(run, stages, per_item)
    _keep_high_water_mark(run, global_progress)
    return {
        "version": run.version,
        "run": {
            "run_id": run.run_id,
            "site_id": run.site_id,
            "status": run.status,
            "pause_reason": run.pause_reason,
            "status_text": status_text(run, stages),
            "status_message": run.status_message,
            "trigger": run.trigger,
            "retry_of": str(run.retry_of_id) if run.retry_of_id else None,
            "current_stage": run.current_stage,
            "created_at": _iso(run.created_at),
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
        },
        "global_progress": global_progress,
        "stages": stage_docs,
        "metrics": {
            "credits_used": run.credits_used,
            "duration_seconds": round(_elapsed(run.started_at, clock_end, run.paused_seconds)),
            "errors": errors,
        },
        "initial_snapshot": run.initial_snapshot,
    }


def _seconds_per_item(run: AutomationRun, active: RunStage | None) -> dict[int, float]:
    """Expected wall seconds per item by stage: the active stage's recent completions once there
    are three, else the run's expectations (earlier runs of the site, or defaults)."""
    per_item = {n: float(run.expected_seconds.get(str(n), default_seconds(n))) for n in NUMBERS}
    if active is not None and len(active.recent_intervals) >= 3:
        per_item[active.number] = sum(active.recent_intervals) / len(active.recent_intervals)
    return per_item


def _rate(stage: RunStage, elapsed: float) -> float | None:
    """Items per minute: from recent completions while active, overall once finished."""
    if stage.status == StageStatus.ACTIVE and len(stage.recent_intervals) >= 3:
        mean = sum(stage.recent_intervals) / len(stage.recent_intervals)
        return round(60.0 / mean, 1) if mean > 0 else None
    settled = stage.processed_count + stage.failed_count
    if stage.status != StageStatus.ACTIVE and settled and elapsed > 0:
        return round(60.0 * settled / elapsed, 1)
    return None


def _stage_eta(stage: RunStage, per_item: dict[int, float], run: AutomationRun) -> float | None:
    if stage.status != StageStatus.ACTIVE or run.status in FINISHED:
        return None
    if len(stage.recent_intervals) < 3 and not run.has_history:
        return None
    return round(
        stage.queued_count * per_item[stage.number]
        + stage.in_progress_count * per_item[stage.number] / 2
    )


def _global(
    run: AutomationRun, stages: list[RunStage], per_item: dict[int, float]
) -> dict[str, Any]:
    initial = {n: int(run.initial_snapshot.get(f"stage_{n}_initial", 0)) for n in NUMBERS}
    known = {
        s.number: (s.input_count if s.status not in NOT_STARTED or run.status in FINISHED else None)
        for s in stages
    }
    first = next((s for s in stages if s.number == 1), None)
    ratio = KEYWORDS_PER_CLUSTER
    if first is not None and first.processed_count >= 20 and first.output_count:
        ratio = max(1.0, first.processed_count / first.output_count)
    totals = estimate_totals(known, initial, run.config, ratio)
    by_number = {s.number: s for s in stages}
    weights = {n: float(run.expected_seconds.get(str(n), default_seconds(n))) for n in NUMBERS}
    completed = sum(s.processed_count for s in stages)
    failed = sum(s.failed_count for s in stages)
    settled = {
        n: (by_number[n].processed_count + by_number[n].failed_count) if n in by_number else 0
        for n in NUMBERS
    }
    total_work = sum(totals[n] * weights[n] for n in NUMBERS)
    done_work = sum(min(settled[n], totals[n]) * weights[n] for n in NUMBERS)
    if run.status == RunStatus.COMPLETED:
        percentage = 100
    else:
        raw = int(100 * done_work // total_work) if total_work else 0
        percentage = max(min(99, raw), min(99, run.percentage_hwm))
    estimate = any(known[n] is None and totals[n] > 0 for n in NUMBERS)

    remaining_seconds: float | None = None
    if run.status not in FINISHED and (completed + failed >= 3 or run.has_history):
        remaining_seconds = round(
            sum(max(0, totals[n] - settled[n]) * per_item[n] for n in NUMBERS)
        )
    return {
        "total_items": sum(totals.values()),
        "completed_items": completed,
        "failed_items": failed,
        "percentage": percentage,
        "total_is_estimate": estimate,
        "estimated_remaining_seconds": remaining_seconds,
        "estimated_remaining_time": human_duration(remaining_seconds),
    }


def _keep_high_water_mark(run: AutomationRun, global_progress: dict[str, Any]) -> None:
    # The percentage any reader saw is kept with the run, so no later reader, reload or restart
    # sees a lower one even when a stage's real input replaces a larger estimate.
    shown = global_progress["percentage"]
    if shown > run.percentage_hwm and run.status != RunStatus.COMPLETED:
        AutomationRun.objects.filter(pk=run.pk, percentage_hwm__lt=shown).update(
            percentage_hwm=shown
        )
        run.percentage_hwm = shown


def snapshot_for(site_id: int, run_id: Any = None) -> dict[str, Any] | None:
    runs = AutomationRun.objects.filter(site_id=site_id)
    found = runs.filter(pk=run_id) if run_id else runs.order_by("-created_at")
    row = found.values_list("pk", "version").first()
    return build_snapshot(row[0], version=row[1]) if row else None


def run_summaries(site_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The site's latest runs with their totals from stored counters (history lists)."""
    runs = (
        AutomationRun.objects.filter(site_id=site_id)
        .order_by("-created_at")
        .prefetch_related("stages")[:limit]
    )
    rows = []
    for run in runs:
        stages = list(run.stages.all())
        rows.append(
            {
                "run_id": run.run_id,
                "status": run.status,
                "trigger": run.trigger,
                "created_at": run.created_at,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "items_processed": sum(s.processed_count for s in stages),
                "items_failed": sum(s.failed_count for s in stages),
                "ready_for_review": next((s.output_count for s in stages if s.number == 7), 0),
                "credits_used": run.credits_used,
                "duration_seconds": round(
                    _elapsed(run.started_at, run.finished_at, run.paused_seconds)
                )
                if run.finished_at
                else None,
            }
        )
    return rows
