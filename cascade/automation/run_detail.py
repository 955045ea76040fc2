"""A run's detail page: its stages, a timeline of when each ran, how its estimate held, and its
items with their attempts and errors (filtered and paged)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cascade.accounts.access import page_site
from cascade.automation import progress
from cascade.automation.board import Board, board
from cascade.automation.models import AutomationRun, RunItem
from cascade.automation.snapshot import Snapshot
from cascade.automation.stages import registry
from cascade.automation.statuses import ItemState
from cascade.lib.limits import digits
from cascade.lib.paging import page_of

ITEMS_PER_PAGE = 50


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def timeline(shown: Board) -> dict[str, Any]:
    """An SVG-ready layout of when each stage ran and how fast (items per minute)."""
    start, end = _parse(shown.run.started_at), _parse(shown.run.finished_at)
    width, left, right, row_h = 900, 200, 110, 28
    if start is None:
        return {"rows": [], "width": width, "height": 40, "span": 0, "left": left}
    stages = [(s, _parse(s.started_at), _parse(s.finished_at)) for s in shown.cards]
    last = max([end or timezone.now()] + [f for _, _, f in stages if f] + [start])
    span = max(1.0, (last - start).total_seconds())
    scale = (width - left - right) / span
    rows = []
    for i, (s, began, finished) in enumerate(stages):
        x0 = left + scale * (began - start).total_seconds() if began else None
        x1 = left + scale * ((finished or last) - start).total_seconds() if began else None
        rows.append(
            {
                "y": 10 + i * row_h,
                "label": f"{s.number}. {s.name}",
                "status": s.display_status,
                "x": round(x0, 1) if x0 is not None else None,
                "w": round(max(2.0, x1 - x0), 1) if x0 is not None and x1 is not None else 0,
                "rate": s.rate_per_minute,
                "processed": s.processed_count,
            }
        )
    height = 20 + len(rows) * row_h
    return {"rows": rows, "width": width, "height": height, "span": span, "left": left}


def estimate_held(run: AutomationRun, snapshot: Snapshot) -> list[dict[str, Any]]:
    """The plan the run started with against what happened (for finished runs)."""
    plan = run.plan or {}
    if not plan or not snapshot.run.is_finished:
        return []
    actual = {
        "items": snapshot.global_progress.total_items,
        "credits": snapshot.metrics.credits_used,
        "seconds": snapshot.metrics.duration_seconds,
    }
    rows = []
    for key, label in (("items", "Items"), ("credits", "Credits"), ("seconds", "Seconds")):
        expected = plan.get(key)
        if expected:
            error = round(100 * (actual[key] - expected) / expected)
            rows.append(
                {"label": label, "expected": expected, "actual": actual[key], "error": error}
            )
    return rows


def items_page(request: HttpRequest, run: AutomationRun) -> dict[str, Any]:
    """The run's items, filtered by stage, state and title or id, newest problems first."""
    items = RunItem.objects.filter(run=run)
    stage, state, query = (request.GET.get(k, "").strip() for k in ("stage", "state", "q"))
    if digits(stage) and int(stage) in registry():
        items = items.filter(stage=int(stage))
    if state in ItemState.values:
        items = items.filter(state=state)
    if query:
        match = Q(title__icontains=query[:100])
        items = items.filter(match | Q(object_id=int(query)) if digits(query) else match)
    items = items.annotate(seconds=F("finished_at") - F("started_at")).order_by("stage", "position")
    paged = page_of(request, items, ITEMS_PER_PAGE)
    return {
        "items": paged,
        "filters": {"stage": stage, "state": state, "q": query},
        "states": ItemState.choices,
        "stages": [(s.number, s.name) for s in registry()],
    }


@login_required
@require_GET
def run_detail(request: HttpRequest, site_id: int, run_id: uuid.UUID) -> HttpResponse:
    site, _ = page_site(request, site_id)
    run = AutomationRun.objects.filter(site=site, pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    shown = board(progress.read(run), run.config.get("stages_enabled") or [])
    listed = items_page(request, run)
    for item in listed["items"]:  # a failed item of an ended run can be tried again alone
        item.can_retry = item.state == ItemState.FAILED and shown.is_finished
        # An error an item got over is not an error of the run: it is told, not listed red.
        item.recovered = item.state == ItemState.DONE and bool(item.last_error)
    context = {
        "site": site,
        "run": run,
        "snapshot": shown,
        "timeline": timeline(shown),
        "estimate": estimate_held(run, shown.snapshot),
        "events": run.events.order_by("-id")[:200],
        **listed,
    }
    return render(request, "automation/run_detail.html", context)
