"""A site's latest run, looked up inside a query of sites (the page's watchers and the Sites
overview share it; `progress.visible_run` asks the same in SQL)."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery

from cascade.automation.models import AutomationRun


def latest_run_fields(run_id: Any = None) -> dict[str, Subquery]:
    """Annotations of a Site queryset with its latest run (or the run `run_id`): `run_pk`,
    `run_version`, `run_status`. Each is one correlated lookup on (site, created_at)."""
    runs = AutomationRun.objects.filter(site_id=OuterRef("pk"))
    if run_id:
        runs = runs.filter(pk=run_id)
    latest = runs.order_by("-created_at")
    return {f"run_{f}": Subquery(latest.values(f)[:1]) for f in ("pk", "version", "status")}
