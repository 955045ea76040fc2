"""The snapshot (contract §4, §5): every number about a run, built in one place from stored
counters, in a fixed handful of queries whatever the size of the site."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from cascade.automation import timing
from cascade.automation.models import AutomationRun, RunItem, RunStage
from cascade.automation.snapshot import Snapshot
from cascade.automation.stages import registry
from cascade.automation.statuses import (
    FINISHED,
    ItemState,
    RunStatus,
    StageStatus,
    allowed_actions,
    run_flags,
)
from cascade.automation.totals import active_stage, progress_of
from cascade.automation.wording import human_duration, status_text

SHOWN_ITEMS = 5  # currently_processing and up_next
SHOWN_ERRORS = 50
SHOWN_ERROR_GROUPS = 10


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


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


def forget() -> None:
    """Drop the shared builds (the next read of every run builds afresh)."""
    _recent.clear()


def build_snapshot(run: AutomationRun | Any, version: int | None = None) -> dict[str, Any]:
    """The snapshot of a run. Many readers of one version (pages, API clients, streams) share
    one build for up to a second: a read then costs one query for the version. The document is
    shared: callers that change it work on a copy (`page.decorate` does)."""
    return _build(run, version).doc


def fresh_snapshot(run_id: Any) -> dict[str, Any]:
    """The snapshot read now, inside the caller's transaction (never a shared earlier build)."""
    return _build_snapshot(run_id)


def _build_snapshot(run: AutomationRun | Any) -> dict[str, Any]:
    """The one JSON document about a run's progress.

    The run and its stage rows come from one statement, so the counters and the run's status and
    version always belong together. Then the active stage's processing and next items (2
    queries) and the recent errors and the failures grouped by message (2): at most 5 queries
    whatever the size of the site, and never a write (what must not go back is kept by the
    engine as it commits: `keep_marks`)."""
    run_id = run.pk if isinstance(run, AutomationRun) else run
    stages = list(RunStage.objects.filter(run_id=run_id).select_related("run").order_by("number"))
    if not stages:
        raise AutomationRun.DoesNotExist(f"run {run_id} has no stages")
    run = stages[0].run
    active = active_stage(run, stages)
    processing: list[dict[str, Any]] = []
    up_next: list[dict[str, Any]] = []
    if active is not None and run.status not in FINISHED:
        processing = _first_items(run, active.number, ItemState.PROCESSING)
        busy = {item["id"] for item in processing}
        # Read a moment later than `processing`: an item may have moved meanwhile, so the two
        # lists are kept disjoint here rather than trusted to be.
        queued = _first_items(run, active.number, ItemState.QUEUED)
        up_next = [item for item in queued if item["id"] not in busy]
    failing = [s.number for s in stages if s.failed_count]
    snapshot = compose(
        run,
        stages,
        processing=processing,
        up_next=up_next,
        errors=_errors(run),
        error_groups=_error_groups(run, failing),
    )
    return snapshot.model_dump(mode="json")


def compose(
    run: AutomationRun,
    stages: list[RunStage],
    *,
    processing: Sequence[dict[str, Any]] = (),
    up_next: Sequence[dict[str, Any]] = (),
    errors: Sequence[dict[str, Any]] = (),
    error_groups: Sequence[dict[str, Any]] = (),
) -> Snapshot:
    """The snapshot of `run` with these stage rows and items, without a query: of a stored run,
    and of the run Run Now is about to store (the page's starting state, from unsaved rows)."""
    now = timezone.now()
    paused_now = run.status == RunStatus.PAUSED and run.paused_at is not None
    clock_end = run.finished_at or (run.paused_at if paused_now else now)
    active = active_stage(run, stages)
    per_item = timing.seconds_per_item(run, active)
    global_progress, shares, _ = progress_of(run, stages, per_item, now)
    failed = global_progress["failed_items"]
    doc = {
        "version": run.version,
        "run": {
            "run_id": run.run_id,
            "site_id": run.site_id,
            "status": run.status,
            "outcome": run.outcome,
            "pause_reason": run.pause_reason,
            "status_text": status_text(run, stages),
            "status_message": run.status_message,
            "trigger": run.trigger,
            "retry_of": str(run.retry_of_id) if run.retry_of_id else None,
            "current_stage": run.current_stage,
            "actions": allowed_actions(run.status, failed),
            **run_flags(run.status, failed),
            "created_at": iso(run.created_at),
            "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at),
        },
        "global_progress": global_progress,
        "stages": [
            _stage_doc(s, run, per_item, clock_end, shares[s.number])
            | {
                "currently_processing": list(processing) if s is active else [],
                "up_next": list(up_next) if s is active else [],
            }
            for s in stages
        ],
        "metrics": {
            "credits_used": run.credits_used,
            "duration_seconds": round(
                timing.elapsed(run.started_at, clock_end, run.paused_seconds)
            ),
            "errors": list(errors),
            "error_groups": list(error_groups),
        },
        "initial_snapshot": run.initial_snapshot,
    }
    return Snapshot.model_validate(doc)  # the one shape: a field it does not know is an error


def _stage_doc(
    s: RunStage,
    run: AutomationRun,
    per_item: dict[int, float],
    clock_end: datetime | None,
    share: dict[str, Any],
) -> dict[str, Any]:
    spec = registry()[s.number]
    finished = s.status in (StageStatus.COMPLETED, StageStatus.SKIPPED)
    settled = s.processed_count + s.failed_count
    end = s.finished_at or (clock_end if s.started_at else None)
    seconds = timing.elapsed(s.started_at, end, s.paused_seconds)
    left = timing.stage_time_left(s, per_item, run)
    return {
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
        **share,
        "credits_used": s.credits_used,
        "duration_seconds": round(seconds, 1) if s.started_at else 0.0,
        "rate_per_minute": timing.rate(s, seconds),
        "estimated_remaining_seconds": left,
        "estimated_remaining_time": human_duration(left),
        "started_at": iso(s.started_at),
        "finished_at": iso(s.finished_at),
    }


def _first_items(run: AutomationRun, stage: int, state: str) -> list[dict[str, Any]]:
    """The first items of a stage in a state, in processing order (one query)."""
    rows = RunItem.objects.filter(run_id=run.pk, stage=stage, state=state)
    rows = rows.order_by("attempts", "position")
    return [
        {"id": oid, "title": title}
        for oid, title in rows.values_list("object_id", "title")[:SHOWN_ITEMS]
    ]


def _errors(run: AutomationRun) -> list[dict[str, Any]]:
    """The latest errors of items not done (failed, or waiting for another attempt)."""
    rows = (
        RunItem.objects.filter(run_id=run.pk, last_error_at__isnull=False)
        .exclude(state=ItemState.DONE)
        .order_by("-last_error_at")
        .values_list("stage", "object_id", "title", "last_error", "last_error_at")
    )
    return [
        {"stage": stage, "item_id": oid, "title": title, "message": message, "at": iso(at)}
        for stage, oid, title, message, at in rows[:SHOWN_ERRORS]
    ]


def _error_groups(run: AutomationRun, failing: list[int]) -> list[dict[str, Any]]:
    """Items that failed for good, grouped by stage and message, the largest groups first. Only
    the stages whose counters have failures are read (by the claim index: run, stage, state),
    so a run without failures costs no query and a large run's queued items are not scanned."""
    if not failing:
        return []
    rows = (
        RunItem.objects.filter(run_id=run.pk, stage__in=failing, state=ItemState.FAILED)
        .values("stage", "last_error")
        .annotate(count=Count("id"), item_id=Min("object_id"))
        .order_by("-count", "stage")
    )
    return [
        {
            "stage": r["stage"],
            "message": r["last_error"],
            "count": r["count"],
            "item_id": r["item_id"],
        }
        for r in rows[:SHOWN_ERROR_GROUPS]
    ]


def _latest(site_id: int, run_id: Any) -> tuple[Any, int] | None:
    runs = AutomationRun.objects.filter(site_id=site_id)
    found = runs.filter(pk=run_id) if run_id else runs.order_by("-created_at")
    return found.values_list("pk", "version").first()


def latest_run(site_id: int) -> AutomationRun | None:
    return AutomationRun.objects.filter(site_id=site_id).order_by("-created_at").first()


def snapshot_for(site_id: int, run_id: Any = None) -> dict[str, Any] | None:
    row = _latest(site_id, run_id)
    return build_snapshot(row[0], version=row[1]) if row else None


def snapshot_json(run_id: Any, version: int) -> bytes:
    """The snapshot of a run at `version` as JSON bytes, encoded once for all API readers."""
    return _build(run_id, version=version).json
