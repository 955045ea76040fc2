"""The snapshot (contract §4, §5): every number about a run, built in one place from stored
counters, in a fixed handful of queries whatever the size of the site."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from cascade.automation import timing
from cascade.automation.models import AutomationRun, RunStage
from cascade.automation.snapshot import Snapshot
from cascade.automation.snapshot_items import error_groups, first_items, iso, latest_errors
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


@dataclass
class Built:
    version: int
    at: float  # time.monotonic() of the build
    snapshot: Snapshot
    _doc: dict[str, Any] | None = None
    _json: bytes | None = None

    @property
    def doc(self) -> dict[str, Any]:
        """The snapshot as the JSON document the API answers, dumped once per build."""
        if self._doc is None:
            self._doc = self.snapshot.model_dump(mode="json")
        return self._doc

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
    snapshot = _build_snapshot(run_id)
    if len(_recent) > 1000:
        _recent.clear()
    built = _recent[run_id] = Built(snapshot.version, time.monotonic(), snapshot)
    return built


def forget() -> None:
    """Drop the shared builds (the next read of every run builds afresh)."""
    _recent.clear()


def read(run: AutomationRun | Any, version: int | None = None) -> Snapshot:
    """The snapshot of a run. Many readers of one version (pages, API clients, streams, the
    CLI) share one build for up to a second: a read then costs one query for the version. It is
    frozen: readers put their words beside it (`board.Board`), never into it."""
    return _build(run, version).snapshot


def shared(run: AutomationRun | Any, version: int | None = None) -> Built:
    """The shared build of a run: its snapshot, its JSON document and that document encoded,
    each made once for every reader (the API stream's viewers send the same bytes)."""
    return _build(run, version)


def build_snapshot(run: AutomationRun | Any, version: int | None = None) -> dict[str, Any]:
    """The snapshot of a run as the API's JSON document (shared: never change it)."""
    return _build(run, version).doc


def fresh_snapshot(run_id: Any) -> Snapshot:
    """The snapshot read now, inside the caller's transaction (never a shared earlier build)."""
    return _build_snapshot(run_id)


def _build_snapshot(run: AutomationRun | Any) -> Snapshot:
    """The snapshot of a run's progress, read now.

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
        processing = first_items(run, active.number, ItemState.PROCESSING)
        busy = {item["id"] for item in processing}
        # Read a moment later than `processing`: an item may have moved meanwhile, so the two
        # lists are kept disjoint here rather than trusted to be.
        queued = first_items(run, active.number, ItemState.QUEUED)
        up_next = [item for item in queued if item["id"] not in busy]
    failing = [s.number for s in stages if s.failed_count]
    return compose(
        run,
        stages,
        processing=processing,
        up_next=up_next,
        errors=latest_errors(run),
        error_groups=error_groups(run, failing),
    )


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


def _latest(site_id: int, run_id: Any) -> tuple[Any, int] | None:
    runs = AutomationRun.objects.filter(site_id=site_id)
    found = runs.filter(pk=run_id) if run_id else runs.order_by("-created_at")
    return found.values_list("pk", "version").first()


def latest_run(site_id: int) -> AutomationRun | None:
    return AutomationRun.objects.filter(site_id=site_id).order_by("-created_at").first()


def latest(site_id: int, run_id: Any = None) -> Snapshot | None:
    """The snapshot of the site's latest run (or of `run_id`), None when there is none."""
    row = _latest(site_id, run_id)
    return read(row[0], version=row[1]) if row else None


def snapshot_for(site_id: int, run_id: Any = None) -> dict[str, Any] | None:
    """`latest` as the API's JSON document."""
    row = _latest(site_id, run_id)
    return build_snapshot(row[0], version=row[1]) if row else None


def snapshot_json(run_id: Any, version: int) -> bytes:
    """The snapshot of a run at `version` as JSON bytes, encoded once for all API readers."""
    return _build(run_id, version=version).json
