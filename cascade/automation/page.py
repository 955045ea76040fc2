"""What the Automation page shows, assembled from the snapshot and the pipeline overview.

This module decides wording and which controls make sense; it never counts. Every number comes
from `progress.build_snapshot` or the registry's overview."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from cascade.accounts.models import Account, Site
from cascade.ai import get_provider
from cascade.ai.base import ProviderUnavailable
from cascade.automation import progress
from cascade.automation.models import ACTIVE, FINISHED, RunEvent, RunStatus

BADGES = {
    "pending": "Pending",
    "active": "Active",
    "completed": "Completed",
    "skipped": "Skipped",
    "paused": "Paused",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
ICONS = {
    "pending": "○",
    "active": "▶",
    "completed": "✓",
    "skipped": "↷",
    "paused": "❚❚",
    "cancelled": "✕",
    "failed": "!",
}
QUEUE_NOUNS = {
    1: "keywords",
    2: "clusters",
    3: "ideas",
    4: "tasks",
    5: "articles",
    6: "image prompts",
    7: "articles",
}


@dataclass
class Control:
    name: str
    label: str
    enabled: bool
    reason: str = ""


def _controls(
    site: Site, run: dict | None, overview: dict, balance: int, can_operate: bool
) -> list[Control]:
    status = run["run"]["status"] if run else None
    active = status in ACTIVE
    failed = run["global_progress"]["failed_items"] if run else 0
    need = overview["first_batch_credits"]
    if not can_operate:
        reason = "Viewers can watch runs but not steer them"
        return [
            Control(n, label, False, reason)
            for n, label in (
                ("run-now", "Run Now"),
                ("pause", "Pause"),
                ("resume", "Resume"),
                ("cancel", "Cancel"),
                ("retry-failed", "Retry failed"),
            )
        ]
    if active:
        run_now = Control("run-now", "Run Now", False, "A run is already active")
    elif not overview["items"]:
        run_now = Control("run-now", "Run Now", False, "Nothing to process")
    elif balance < need:
        run_now = Control(
            "run-now", "Run Now", False, f"Not enough credits: about {need} needed, {balance} left"
        )
    else:
        run_now = Control("run-now", "Run Now", True)
    return [
        run_now,
        Control(
            "pause",
            "Pause",
            status in (RunStatus.RUNNING, RunStatus.QUEUED),
            ""
            if status in (RunStatus.RUNNING, RunStatus.QUEUED)
            else ("Already pausing" if status == RunStatus.PAUSING else "No run is running"),
        ),
        Control(
            "resume",
            "Resume",
            status in (RunStatus.PAUSED, RunStatus.PAUSING),
            "" if status in (RunStatus.PAUSED, RunStatus.PAUSING) else "No run is paused",
        ),
        Control(
            "cancel",
            "Cancel",
            active and status != RunStatus.CANCELLING,
            ""
            if active and status != RunStatus.CANCELLING
            else ("Already cancelling" if status == RunStatus.CANCELLING else "No run is active"),
        ),
        Control(
            "retry-failed",
            "Retry failed",
            bool(status in FINISHED and failed),
            ""
            if status in FINISHED and failed
            else ("Wait until the run has finished" if active and failed else "No failed items"),
        ),
    ]


def overview_for(site: Site) -> dict[str, Any]:
    """The pipeline overview with words for people."""
    overview = progress.overview(site)
    for stage in overview["stages"]:
        stage["noun"] = QUEUE_NOUNS[stage["number"]]
    seconds = overview["estimate"]["seconds"]
    overview["estimate_time"] = progress.human_duration(seconds) if seconds else "< 1 min"
    return overview


def _display_status(stage: dict, run_status: str) -> str:
    if stage["status"] == "active" and run_status in (RunStatus.PAUSED, RunStatus.PAUSING):
        return "paused"
    return stage["status"]


def decorate(shared: dict) -> dict:
    """Labels for the template on a copy of the snapshot; the numbers stay the snapshot's."""
    snapshot = copy.deepcopy(shared)
    status = snapshot["run"]["status"]
    for stage in snapshot["stages"]:
        shown = _display_status(stage, status)
        stage["display_status"] = shown
        stage["badge"] = BADGES[shown]
        stage["icon"] = ICONS[shown]
        stage["ticking"] = stage["status"] == "active" and status in (
            RunStatus.RUNNING,
            RunStatus.CANCELLING,
            RunStatus.PAUSING,
        )
    current = next(
        (s for s in snapshot["stages"] if s["number"] == snapshot["run"]["current_stage"]), None
    )
    snapshot["current"] = current if status in ACTIVE else None
    g = snapshot["global_progress"]
    stage_part = f"stage {current['number']} of 7" if current else "finished"
    left = (
        f", about {g['estimated_remaining_time'].lstrip('~')} left"
        if g["estimated_remaining_time"]
        else ""
    )
    snapshot["aria_text"] = f"{g['percentage']} %, {stage_part}{left}"
    title_stage = f" · Stage {current['number']}/7" if current and status in ACTIVE else ""
    snapshot["title"] = (
        f"{g['percentage']} %{title_stage} · Cascade"
        if status in ACTIVE
        else (f"{snapshot['run']['status_text']} · Cascade")
    )
    snapshot["is_active"] = status in ACTIVE
    snapshot["is_finished"] = status in FINISHED
    snapshot["review_ready"] = snapshot["stages"][6]["output_count"]
    return snapshot


def live_context(site: Site, can_operate: bool) -> dict[str, Any]:
    run = progress.latest_run(site.pk)
    snapshot = decorate(progress.build_snapshot(run)) if run else None
    overview = overview_for(site)
    balance = Account.objects.filter(pk=site.account_id).values_list("credits", flat=True).get()
    events = list(RunEvent.objects.filter(run=run).order_by("-id")[:8]) if run else []
    try:
        provider = get_provider(site.account)
    except ProviderUnavailable as exc:  # e.g. no API key yet: say so, the page still works
        provider = type(
            "Missing", (), {"label": f"AI provider unavailable: {exc}", "is_offline": False}
        )()
    waiting = {o["number"]: o for o in overview["stages"]}
    if snapshot:
        cards = snapshot["stages"]
    else:
        cards = [
            {
                "number": n,
                "name": o["name"],
                "display_status": "pending",
                "badge": BADGES["pending"],
                "icon": ICONS["pending"],
                "input_count": 0,
                "processed_count": 0,
                "remaining_count": 0,
                "failed_count": 0,
                "output_count": 0,
                "output_label": o["output_label"],
                "progress_percentage": 0,
                "credits_used": 0,
                "duration_seconds": 0,
                "ticking": False,
            }
            for n, o in waiting.items()
        ]
    for card in cards:
        card["waiting"] = (
            waiting[card["number"]]["pending"] if not (snapshot and snapshot["is_active"]) else 0
        )
        card["noun"] = waiting[card["number"]]["noun"]
    return {
        "history": history(site),
        "stage_cards": cards,
        "site": site,
        "snapshot": snapshot,
        "overview": overview,
        "balance": balance,
        "controls": _controls(site, snapshot, overview, balance, can_operate),
        "events": events,
        "provider_label": getattr(provider, "label", "AI"),
        "provider_offline": getattr(provider, "is_offline", False),
        "can_operate": can_operate,
        "state_key": f"{snapshot['run']['run_id']}:{snapshot['version']}" if snapshot else "none:0",
    }


def history(site: Site) -> list[dict]:
    rows = progress.run_summaries(site.pk)
    for row in rows:
        row["status_label"] = row["status"].replace("_", " ").capitalize()
        row["duration"] = progress.human_duration(row["duration_seconds"])
    return rows


def render_live(site: Site, can_operate: bool) -> str:
    return render_to_string("automation/live.html", live_context(site, can_operate))


def timeline(snapshot: dict) -> dict[str, Any]:
    """An SVG-ready layout of when each stage ran and how fast (items per minute)."""
    from datetime import datetime

    def parse(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    start = parse(snapshot["run"]["started_at"])
    end = parse(snapshot["run"]["finished_at"])
    rows = []
    if start is None:
        return {"rows": rows, "width": 900, "height": 40, "span": 0, "left": 200}
    stages = [(s, parse(s["started_at"]), parse(s["finished_at"])) for s in snapshot["stages"]]
    from django.utils import timezone

    last = max([end or timezone.now()] + [f for _, _, f in stages if f] + [start])
    span = max(1.0, (last - start).total_seconds())
    width, left, right, row_h = 900, 200, 110, 28
    for i, (s, began, finished) in enumerate(stages):
        scale = (width - left - right) / span
        x0 = left + scale * (began - start).total_seconds() if began else None
        x1 = left + scale * ((finished or last) - start).total_seconds() if began else None
        rows.append(
            {
                "y": 10 + i * row_h,
                "label": f"{s['number']}. {s['name']}",
                "status": s["display_status"],
                "x": round(x0, 1) if x0 is not None else None,
                "w": round(max(2.0, x1 - x0), 1) if x0 is not None and x1 is not None else 0,
                "rate": s["rate_per_minute"],
                "processed": s["processed_count"],
            }
        )
    return {
        "rows": rows,
        "width": width,
        "height": 20 + len(rows) * row_h,
        "span": span,
        "left": left,
    }
