"""The items a snapshot names: the active stage's first items in flight and next in line, the
latest errors, and the failed items grouped by message. Each list is one query on the claim
index (run, stage, state), whatever the size of the run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Min

from cascade.automation.models import AutomationRun, RunItem
from cascade.automation.statuses import ItemState

SHOWN_ITEMS = 5  # currently_processing and up_next
SHOWN_ERRORS = 50
SHOWN_ERROR_GROUPS = 10


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def first_items(run: AutomationRun, stage: int, state: str) -> list[dict[str, Any]]:
    """The first items of a stage in a state, in processing order (one query)."""
    rows = RunItem.objects.filter(run_id=run.pk, stage=stage, state=state)
    rows = rows.order_by("attempts", "position")
    return [
        {"id": oid, "title": title}
        for oid, title in rows.values_list("object_id", "title")[:SHOWN_ITEMS]
    ]


def latest_errors(run: AutomationRun) -> list[dict[str, Any]]:
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


def error_groups(run: AutomationRun, failing: list[int]) -> list[dict[str, Any]]:
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
