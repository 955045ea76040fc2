"""A run's whole-run numbers: its expected totals, the percentage weighted by expected work,
each stage's share of the bar and the time left, all computed from stored rows without a
query; and the marks the engine keeps so that no reader ever sees them go back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from cascade.automation import timing
from cascade.automation.estimates import estimate_totals, expected
from cascade.automation.models import AutomationRun, RunStage
from cascade.automation.stages import registry
from cascade.automation.statuses import FINISHED, RunStatus, StageStatus
from cascade.automation.wording import human_duration

# A stage's measured fan-out replaces the planned one once its source has done this many items.
MEASURE_AFTER = 20


def _ratios(run: AutomationRun, stages: list[RunStage]) -> dict[int, float]:
    """Fan-outs: the run's plan, replaced by what the run itself measured once it can tell."""
    ratios = {int(n): float(r) for n, r in (run.plan or {}).get("ratios", {}).items()}
    by_number = {s.number: s for s in stages}
    for spec in registry():
        source = by_number.get(spec.inflow.source) if spec.inflow else None
        if spec.inflow and spec.inflow.measured and source is not None:
            if source.processed_count >= MEASURE_AFTER:
                ratios[spec.number] = source.output_count / source.processed_count
    return ratios


def active_stage(run: AutomationRun, stages: list[RunStage]) -> RunStage | None:
    return next(
        (s for s in stages if s.number == run.current_stage and s.status == StageStatus.ACTIVE),
        None,
    )


def keep_marks(run: AutomationRun, stages: list[RunStage] | None = None) -> None:
    """Keep with the run what its readers must never see go back: the percentage's high-water
    mark and the time left's countdown. The engine calls this as the last step of every change,
    inside its transaction, with the run's row as it locked and changed it, so each version's
    marks are those of its final state and every reader of that version (page, API, stream,
    CLI, the Sites overview) computes the same numbers without writing anything (the stage
    rows in 1 query, none when the caller passes them in order; 1 more when a mark moved)."""
    if stages is None:
        stages = list(RunStage.objects.filter(run_id=run.pk).order_by("number"))
    if not stages:
        return
    per_item = timing.seconds_per_item(run, active_stage(run, stages))
    doc, _, fields = progress_of(run, stages, per_item, timezone.now())
    if fields:
        if "percentage_hwm" in fields:
            run.percentage_hwm = max(run.percentage_hwm, doc["percentage"])
            fields["percentage_hwm"] = Greatest(F("percentage_hwm"), doc["percentage"])
        if "eta_seconds" in fields:
            run.eta_seconds, run.eta_at = fields["eta_seconds"], fields["eta_at"]
        AutomationRun.objects.filter(pk=run.pk).update(**fields)


def progress_of(
    run: AutomationRun, stages: list[RunStage], per_item: dict[int, float], now: datetime
) -> tuple[dict[str, Any], dict[int, dict[str, Any]], dict[str, Any]]:
    """The run's totals and percentage, each stage's share of the bar (its part of the expected
    work: items x expected seconds, the weights of the percentage), and the marks that rose
    (for `keep_marks`; readers ignore them). Reads nothing from the database."""
    numbers = registry().numbers
    initial = {n: int(run.initial_snapshot.get(f"stage_{n}_initial", 0)) for n in numbers}
    rows = {s.number: s for s in stages}
    totals, exact = estimate_totals(
        initial, run.config, _ratios(run, stages), rows, finished=run.status in FINISHED
    )
    weights = {n: expected(run, n) for n in numbers}
    settled = {n: rows[n].processed_count + rows[n].failed_count for n in numbers}
    completed = sum(s.processed_count for s in stages)
    failed = sum(s.failed_count for s in stages)
    total_work = sum(totals[n] * weights[n] for n in numbers)
    done_work = sum(min(settled[n], totals[n]) * weights[n] for n in numbers)
    if run.status == RunStatus.COMPLETED:
        percentage = 100
    else:
        raw = int(100 * done_work // total_work) if total_work else 0
        percentage = max(min(99, raw), min(99, run.percentage_hwm))
    remaining: float | None = None
    if run.status not in FINISHED and (completed + failed >= 3 or run.has_history):
        remaining = round(sum(max(0, totals[n] - settled[n]) * per_item[n] for n in numbers))
    shown, restart = timing.steady(run, remaining, now)
    fields = timing.remember(run, percentage, shown, restart)
    headline = registry().headline.number
    shares = {
        n: {
            "expected_total": totals[n],
            "total_is_estimate": not exact[n],
            "share": round(100 * totals[n] * weights[n] / total_work, 1) if total_work else 0.0,
            "fill": 100 * min(settled[n], totals[n]) // totals[n] if totals[n] else 0,
        }
        for n in numbers
    }
    return (
        {
            "total_items": sum(totals.values()),
            "completed_items": completed,
            "failed_items": failed,
            "percentage": percentage,
            "total_is_estimate": not all(exact.values()),
            "estimated_remaining_seconds": shown,
            "estimated_remaining_time": human_duration(shown),
            "unit": {
                "stage": headline,
                "label": registry()[headline].output_label,
                "verb": registry()[headline].verb,
                "total": totals[headline],
                "done": rows[headline].processed_count,
                "is_estimate": not exact[headline],
            },
        },
        shares,
        fields,
    )
