"""A site's runs as the history lists show them, each with its totals from stored counters."""

from __future__ import annotations

from typing import Any

from cascade.automation import timing
from cascade.automation.models import AutomationRun, RunStage
from cascade.automation.stages import registry
from cascade.automation.statuses import FINISHED
from cascade.automation.wording import outcome_text


def run_summaries(
    site_id: int, limit: int = 20, finished_only: bool = False
) -> list[dict[str, Any]]:
    """The site's latest runs (or finished runs) with their totals from stored counters."""
    runs = (
        AutomationRun.objects.filter(site_id=site_id)
        .filter(**({"status__in": FINISHED} if finished_only else {}))
        .order_by("-created_at")
        .prefetch_related("stages")[:limit]
    )
    rows = []
    for run in runs:
        stages = list(run.stages.all())
        seconds = timing.elapsed(run.started_at, run.finished_at, run.paused_seconds)
        rows.append(
            {
                "run_id": run.run_id,
                "status": run.status,
                "outcome": run.outcome,
                "outcome_text": outcome_text(run, stages) if run.outcome else None,
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
                "duration_seconds": round(seconds) if run.finished_at else None,
            }
        )
    return rows


def runs_with_stages(run_ids: list[Any], **only: Any) -> dict[Any, tuple[AutomationRun, list]]:
    """Runs (those of `run_ids` matching `only`) with their stage rows in order: one query for
    all of them, whatever their number (the Sites overview's bars and outcomes)."""
    found: dict[Any, tuple[AutomationRun, list]] = {}
    rows = RunStage.objects.filter(run_id__in=run_ids, **{f"run__{k}": v for k, v in only.items()})
    for row in rows.select_related("run").order_by("run_id", "number"):
        found.setdefault(row.run_id, (row.run, []))[1].append(row)
    return found


def outcome_texts(run_ids: list[Any]) -> dict[str, str]:
    """How each finished run went, in the words of the Automation page ("Completed with 3
    failures"), from its stored counters: one query for all of them."""
    return {
        str(pk): outcome_text(run, stages)
        for pk, (run, stages) in runs_with_stages(run_ids).items()
    }
