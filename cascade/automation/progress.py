"""The snapshot (contract §4, §5): every number about a run, built in one place from stored
counters, in a fixed handful of queries whatever the size of the site."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from cascade.automation.estimates import default_seconds, estimate_totals
from cascade.automation.models import (
    FINISHED,
    AutomationRun,
    ItemState,
    PauseReason,
    RunItem,
    RunStage,
    RunStatus,
    StageStatus,
    allowed_actions,
)
from cascade.automation.stages import registry

SHOWN_ITEMS = 5  # currently_processing and up_next
SHOWN_ERRORS = 50
NOT_STARTED = frozenset({StageStatus.PENDING})
# A stage's measured fan-out replaces the default once its source has done this many items.
MEASURE_AFTER = 20


# --- the snapshot -----------------------------------------------------------------------------------


def latest_run(site_id: int) -> AutomationRun | None:
    return AutomationRun.objects.filter(site_id=site_id).order_by("-created_at").first()


def iso(value: datetime | None) -> str | None:
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


def _items(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


def status_text(run: AutomationRun, stages: list[RunStage]) -> str:
    """What is really happening, in words (e.g. "Pausing: finishing 2 items")."""
    active = next((s for s in stages if s.number == run.current_stage), None)
    in_flight = active.in_progress_count if active else 0
    match run.status:
        case RunStatus.QUEUED:
            return "Starting…"
        case RunStatus.RUNNING:
            return f"Running stage {run.current_stage} of {len(stages)}"
        case RunStatus.PAUSING:
            return f"Pausing: finishing {_items(in_flight)}"
        case RunStatus.PAUSED:
            reason = PauseReason(run.pause_reason or PauseReason.USER)
            return "Paused by a user" if reason == PauseReason.USER else f"Paused: {reason.label}"
        case RunStatus.CANCELLING:
            return f"Cancelling: finishing {_items(in_flight)}"
        case RunStatus.CANCELLED:
            return "Cancelled"
        case RunStatus.COMPLETED:
            return "Completed"
        case _:
            return f"Failed: {run.status_message}" if run.status_message else "Failed"


@dataclass
class Built:
    version: int
    at: float  # time.monotonic() of the build
    doc: dict[str, Any]
    _json: bytes | None = None

    @property
    def json(self) -> bytes:
        """The document as JSON, encoded once per build and shared by every API reader."""
        if self._json is None:
            self._json = json.dumps(self.doc, separators=(",", ":")).encode()
        return self._json


_recent: dict[str, Built] = {}  # run id -> its latest build
REUSE_SECONDS = 1.0  # a document of the same version is reused this long (its clocks move on)


def _build(run: AutomationRun | Any, version: int | None = None) -> Built:
    run_id = str(run.pk if isinstance(run, AutomationRun) else run)
    if version is None:
        version = AutomationRun.objects.filter(pk=run_id).values_list("version", flat=True).first()
    hit = _recent.get(run_id)
    if hit is not None and hit.version == version and time.monotonic() - hit.at < REUSE_SECONDS:
        return hit
    doc = _build_snapshot(run_id)
    if len(_recent) > 1000:
        _recent.clear()
    built = _recent[run_id] = Built(doc["version"], time.monotonic(), doc)
    return built


def build_snapshot(run: AutomationRun | Any, version: int | None = None) -> dict[str, Any]:
    """The snapshot of a run. Many readers of one version (pages, API clients, streams) share
    one build for up to a second: a read then costs one query for the version. The document is
    shared: callers that change it work on a copy (`page.decorate` does)."""
    return _build(run, version).doc


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
        processing = _first_items(run, active.number, ItemState.PROCESSING)
        busy = {item["id"] for item in processing}
        # Read a moment later than `processing`: an item may have moved meanwhile, so the two
        # lists are kept disjoint here rather than trusted to be.
        queued = _first_items(run, active.number, ItemState.QUEUED)
        up_next = [item for item in queued if item["id"] not in busy]
    errors = [
        {"stage": stage, "item_id": oid, "title": title, "message": message, "at": iso(at)}
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
        spec = registry()[s.number]
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
                "started_at": iso(s.started_at),
                "finished_at": iso(s.finished_at),
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
            "actions": allowed_actions(run.status, global_progress["failed_items"]),
            "created_at": iso(run.created_at),
            "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at),
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


def _first_items(run: AutomationRun, stage: int, state: str) -> list[dict[str, Any]]:
    """The first items of a stage in a state, in processing order (one query)."""
    rows = RunItem.objects.filter(run_id=run.pk, stage=stage, state=state).order_by("position")
    return [
        {"id": oid, "title": title}
        for oid, title in rows.values_list("object_id", "title")[:SHOWN_ITEMS]
    ]


def _seconds_per_item(run: AutomationRun, active: RunStage | None) -> dict[int, float]:
    """Expected wall seconds per item by stage: the active stage's recent completions once there
    are three, else the run's expectations (earlier runs of the site, or defaults)."""
    per_item = {
        n: float(run.expected_seconds.get(str(n), default_seconds(n))) for n in registry().numbers
    }
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


def _measured_ratios(stages: list[RunStage]) -> dict[int, float]:
    """Fan-outs this run has measured: items a stage receives per item its source did."""
    by_number = {s.number: s for s in stages}
    ratios = {}
    for spec in registry():
        source = by_number.get(spec.inflow.source) if spec.inflow else None
        if spec.inflow and spec.inflow.measured and source and source.processed_count:
            if source.processed_count >= MEASURE_AFTER and source.output_count:
                ratios[spec.number] = source.output_count / source.processed_count
    return ratios


def _global(
    run: AutomationRun, stages: list[RunStage], per_item: dict[int, float]
) -> dict[str, Any]:
    numbers = registry().numbers
    initial = {n: int(run.initial_snapshot.get(f"stage_{n}_initial", 0)) for n in numbers}
    known = {
        s.number: (s.input_count if s.status not in NOT_STARTED or run.status in FINISHED else None)
        for s in stages
    }
    totals = estimate_totals(known, initial, run.config, _measured_ratios(stages))
    by_number = {s.number: s for s in stages}
    weights = {n: float(run.expected_seconds.get(str(n), default_seconds(n))) for n in numbers}
    completed = sum(s.processed_count for s in stages)
    failed = sum(s.failed_count for s in stages)
    settled = {
        n: (by_number[n].processed_count + by_number[n].failed_count) if n in by_number else 0
        for n in numbers
    }
    total_work = sum(totals[n] * weights[n] for n in numbers)
    done_work = sum(min(settled[n], totals[n]) * weights[n] for n in numbers)
    if run.status == RunStatus.COMPLETED:
        percentage = 100
    else:
        raw = int(100 * done_work // total_work) if total_work else 0
        percentage = max(min(99, raw), min(99, run.percentage_hwm))
    estimate = any(known[n] is None and totals[n] > 0 for n in numbers)

    remaining_seconds: float | None = None
    if run.status not in FINISHED and (completed + failed >= 3 or run.has_history):
        remaining_seconds = round(
            sum(max(0, totals[n] - settled[n]) * per_item[n] for n in numbers)
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


def _latest(site_id: int, run_id: Any) -> tuple[Any, int] | None:
    runs = AutomationRun.objects.filter(site_id=site_id)
    found = runs.filter(pk=run_id) if run_id else runs.order_by("-created_at")
    return found.values_list("pk", "version").first()


def snapshot_for(site_id: int, run_id: Any = None) -> dict[str, Any] | None:
    row = _latest(site_id, run_id)
    return build_snapshot(row[0], version=row[1]) if row else None


def snapshot_json_for(site_id: int, run_id: Any = None) -> bytes | None:
    """The snapshot as JSON bytes, encoded once per version for all API readers."""
    row = _latest(site_id, run_id)
    return _build(row[0], version=row[1]).json if row else None


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
                "ready_for_review": next(
                    (s.output_count for s in stages if s.number == registry().last), 0
                ),
                "credits_used": run.credits_used,
                "duration_seconds": round(
                    _elapsed(run.started_at, run.finished_at, run.paused_seconds)
                )
                if run.finished_at
                else None,
            }
        )
    return rows
