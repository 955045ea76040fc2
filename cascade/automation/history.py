"""A site's runs as the history lists show them, each with its totals from stored counters."""

from __future__ import annotations

from typing import Any

from cascade.automation import timing
from cascade.automation.models import AutomationRun
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
