"""Moving a run through its stages: beginning it, freezing each stage's queue when the stage
starts, and passing to the next stage (skipping empty or disabled ones) when one is done.
Exactly one caller advances a stage: the run row is locked and the change is conditional."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from cascade.automation import estimates
from cascade.automation.engine.records import announce, bump, event, locked, save_run
from cascade.automation.estimates import default_seconds, stage_seconds
from cascade.automation.models import AutomationRun, EventKind, RunItem, RunStage, StageTiming
from cascade.automation.stages import registry
from cascade.automation.statuses import RunStatus, StageStatus, outcome_of
from cascade.automation.wording import outcome_text, skip_reason


def begin_run(run_id: Any) -> bool:
    with transaction.atomic():
        run = locked(run_id)
        if run.status != RunStatus.QUEUED:
            return False
        run.status, run.started_at = RunStatus.RUNNING, timezone.now()
        # Expectations are frozen by the process that does the work (it knows its own latency).
        run.expected_seconds, run.has_history = estimates.expected_seconds(run.site_id)
        event(run.pk, EventKind.RUN_STARTED, "Run started.")
        activate_from(run, registry().numbers[0])
        bump(run)
        save_run(
            run,
            "status",
            "started_at",
            "expected_seconds",
            "has_history",
            "current_stage",
            "finished_at",
            "percentage_hwm",
            "outcome",
        )
        announce(run)
    return True


def activate_from(run: AutomationRun, first: int) -> None:
    """Make the next stage with work active, skipping empty or disabled ones; complete the run
    when none is left. Called inside the run's transaction."""
    now = timezone.now()
    rows = {s.number: s for s in RunStage.objects.filter(run=run)}
    for stage in registry().from_stage(first):
        n, row = stage.number, rows[stage.number]
        enabled = run.config["stages_enabled"][n - 1]
        added = freeze_queue(run, row) if enabled else 0
        if added == 0:
            row.status, row.started_at, row.finished_at = StageStatus.SKIPPED, now, now
            row.save(update_fields=["status", "started_at", "finished_at"])
            source = rows.get(stage.inflow.source) if stage.inflow else None
            why = skip_reason(n, not enabled, source)
            event(run.pk, EventKind.STAGE_SKIPPED, f"Stage {n} skipped: {why}.", stage=n)
            continue
        row.status, row.started_at, row.last_completion_at = StageStatus.ACTIVE, now, now
        row.save(update_fields=["status", "started_at", "last_completion_at", "input_count"])
        run.current_stage = n
        event(
            run.pk,
            EventKind.STAGE_STARTED,
            f"Stage {n} started with {stage.noun.count(row.input_count)}.",
            stage=n,
        )
        return
    run.status, run.finished_at, run.percentage_hwm = RunStatus.COMPLETED, now, 100
    counts = RunStage.objects.filter(run=run).aggregate(
        done=Sum("processed_count"), failed=Sum("failed_count")
    )
    run.outcome = outcome_of(run.status, counts["done"] or 0, counts["failed"] or 0)
    stages = list(RunStage.objects.filter(run=run).order_by("number"))
    event(run.pk, EventKind.COMPLETED, f"Run finished: {outcome_text(run, stages)}.")


def freeze_queue(run: AutomationRun, row: RunStage) -> int:
    """Add the stage's waiting rows that are not yet items of this run's stage; returns how many.
    The registry's queue is the only source of what enters a stage."""
    stage = registry()[row.number]
    queue = stage.queue(run.site_id, run.config)
    only = (run.only_ids or {}).get(str(row.number))
    if only is not None:
        queue = queue.filter(id__in=only)
    queue = queue.exclude(
        id__in=RunItem.objects.filter(run=run, stage=row.number).values("object_id")
    )
    cap = run.config.get("max_items_per_stage")
    if cap:
        room = cap - row.input_count
        if room <= 0:
            return 0
        queue = queue[:room]
    rows = list(stage.titles(queue))
    insert_items(run, row.number, row.input_count, rows)
    row.input_count += len(rows)
    return len(rows)


def insert_items(run: AutomationRun, number: int, first: int, rows: list[tuple[int, str]]) -> None:
    """New queued items of a stage, numbered from `first`, in one prepared statement run for
    every row: a stage of 200,000 keywords is frozen in seconds (model instances and bulk_create
    took 13 s). Every other column gets the value a new RunItem would have."""
    fields = [f for f in RunItem._meta.concrete_fields if not f.primary_key]
    blank = RunItem(run=run, stage=number, object_id=0, title="", position=0)
    values = [f.get_db_prep_save(getattr(blank, f.attname), connection) for f in fields]
    at = {f.attname: i for i, f in enumerate(fields)}
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {q(RunItem._meta.db_table)} ({', '.join(q(str(f.column)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )

    def values_of(position: int, object_id: int, title: str | None) -> list[Any]:
        row = values.copy()
        row[at["object_id"]], row[at["position"]] = object_id, position
        row[at["title"]] = (title or "")[:300]
        return row

    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(
                sql,
                [
                    values_of(first + start + i, object_id, title)
                    for i, (object_id, title) in enumerate(rows[start : start + 5000])
                ],
            )


def advance_if_stage_done(run_id: Any) -> bool:
    """Move a run from a finished stage to the next; True when something changed."""
    with transaction.atomic():
        run = locked(run_id)
        if run.status != RunStatus.RUNNING or not run.current_stage:
            return False
        row = RunStage.objects.get(run=run, number=run.current_stage)
        if row.status != StageStatus.ACTIVE or row.in_progress_count or row.queued_count > 0:
            return False
        if freeze_queue(run, row):  # rows that arrived in the queue while the stage ran
            row.save(update_fields=["input_count"])
            bump(run)
            save_run(run)
            announce(run)
            return True
        row.status, row.finished_at = StageStatus.COMPLETED, timezone.now()
        row.save(update_fields=["status", "finished_at"])
        event(
            run.pk,
            EventKind.STAGE_FINISHED,
            f"Stage {row.number} finished: {row.processed_count:,} done, "
            f"{row.failed_count:,} failed.",
            stage=row.number,
        )
        _record_timing(run, row)
        activate_from(run, row.number + 1)
        bump(run)
        save_run(run, "status", "current_stage", "finished_at", "percentage_hwm", "outcome")
        announce(run)
    return True


def _record_timing(run: AutomationRun, row: RunStage) -> None:
    """Learn from a finished stage: its seconds per item, and for a stage it feeds with an
    estimated fan-out, how far the plan's estimate was off."""
    settled = row.processed_count + row.failed_count
    if settled and row.started_at and row.finished_at:
        # Two measures of the same thing, each too high in its own way: the whole stage over its
        # items (inflated by warm-up and dispatch: a first task loading its libraries, workers
        # picking up the stage) and the last completions (inflated by the stage's tail, when one
        # thread works and the others are idle). The lower one is the nearer.
        wall = (row.finished_at - row.started_at).total_seconds() - row.paused_seconds
        per_item = max(1e-4, (wall - stage_seconds()) / settled)
        if len(row.recent_intervals) >= 3:
            per_item = min(per_item, sum(row.recent_intervals) / len(row.recent_intervals))
        learnt: dict[str, float] = {"seconds_per_item": max(1e-4, per_item)}
        expected = registry()[row.number].credits(run.config, row.processed_count)
        if expected and row.credits_used:
            learnt["credit_ratio"] = max(0.2, min(5.0, row.credits_used / expected))
        StageTiming.objects.update_or_create(site_id=run.site_id, stage=row.number, defaults=learnt)
    planned = (run.plan or {}).get("ratios", {})
    for fed in registry():
        inflow = fed.inflow
        if inflow is None or inflow.source != row.number or str(fed.number) not in planned:
            continue
        if row.processed_count < 20 or not planned[str(fed.number)]:
            continue
        measured = row.output_count / row.processed_count
        timing, _ = StageTiming.objects.get_or_create(
            site_id=run.site_id,
            stage=fed.number,
            defaults={"seconds_per_item": default_seconds(fed.number)},
        )
        # The plan already carried the last correction: keep what it still missed by.
        timing.correction = max(
            0.1, min(10.0, timing.correction * measured / planned[str(fed.number)])
        )
        timing.save(update_fields=["correction", "updated_at"])
