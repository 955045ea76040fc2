"""What the Automation page shows, assembled from the snapshot and the pipeline overview.

This module decides wording and which controls make sense (from the run status rules of
`automation.models`); it never counts. Every number comes from `progress.build_snapshot` or
the registry's overview."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from cascade.accounts.models import Account, Site
from cascade.ai import get_provider
from cascade.ai.base import ProviderUnavailable
from cascade.automation import estimates, progress
from cascade.automation.models import ACTIVE, FINISHED, RunAction, RunEvent, RunStatus
from cascade.automation.stages import registry

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
LABELS = {
    "run-now": "Run Now",
    RunAction.PAUSE: "Pause",
    RunAction.RESUME: "Resume",
    RunAction.CANCEL: "Cancel",
    RunAction.RETRY_FAILED: "Retry failed",
}
# Why an action the run's status does not allow is disabled, by action.
NOT_NOW = {
    RunAction.PAUSE: "No run is running",
    RunAction.RESUME: "No run is paused",
    RunAction.CANCEL: "No run is active",
    RunAction.RETRY_FAILED: "No failed items",
}


@dataclass
class Control:
    name: str  # the action, as the action view's URL names it ("run-now", "pause", ...)
    label: str
    enabled: bool
    reason: str = ""

    @property
    def testid(self) -> str:
        return self.name.replace("_", "-")


def _disabled_reason(action: str, status: str | None, failed: int) -> str:
    if action == RunAction.PAUSE and status == RunStatus.PAUSING:
        return "Already pausing"
    if action == RunAction.CANCEL and status == RunStatus.CANCELLING:
        return "Already cancelling"
    if action == RunAction.RETRY_FAILED and failed and status in ACTIVE:
        return "Wait until the run has finished"
    return NOT_NOW[RunAction(action)]


def controls(run: dict | None, overview: dict, available: int, can_operate: bool) -> list[Control]:
    """The run controls, each enabled or disabled with its reason: the server decides, the
    browser only shows."""
    names = ["run-now", *[a.value for a in RunAction]]
    if not can_operate:
        reason = "Viewers can watch runs but not steer them"
        return [Control(n, LABELS[n], False, reason) for n in names]
    status = run["run"]["status"] if run else None
    failed = run["global_progress"]["failed_items"] if run else 0
    allowed = set(run["run"]["actions"]) if run else set()
    need = overview["first_batch_credits"]
    if status in ACTIVE:
        run_now = Control("run-now", LABELS["run-now"], False, "A run is already active")
    elif not overview["items"]:
        run_now = Control("run-now", LABELS["run-now"], False, "Nothing to process")
    elif available < need:
        reason = f"Not enough credits: about {need:,} needed, {available:,} left"
        run_now = Control("run-now", LABELS["run-now"], False, reason)
    else:
        run_now = Control("run-now", LABELS["run-now"], True)
    return [run_now] + [
        Control(a.value, LABELS[a], True)
        if a.value in allowed
        else Control(a.value, LABELS[a], False, _disabled_reason(a, status, failed))
        for a in RunAction
    ]


def overview_for(site: Site) -> dict[str, Any]:
    """The pipeline overview with words for people."""
    overview = estimates.overview(site)
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
    count = len(snapshot["stages"])
    for stage in snapshot["stages"]:
        shown = _display_status(stage, status)
        stage["display_status"] = shown
        stage["badge"] = BADGES[shown]
        stage["icon"] = ICONS[shown]
        stage["noun"] = registry()[stage["number"]].noun.many
        stage["ticking"] = stage["status"] == "active" and status in (
            RunStatus.RUNNING,
            RunStatus.CANCELLING,
            RunStatus.PAUSING,
        )
    current = next(
        (s for s in snapshot["stages"] if s["number"] == snapshot["run"]["current_stage"]), None
    )
    snapshot["current"] = current if status in ACTIVE else None
    snapshot["stage_count"] = count
    g = snapshot["global_progress"]
    stage_part = f"stage {current['number']} of {count}" if current else "finished"
    left = (
        f", about {g['estimated_remaining_time'].lstrip('~')} left"
        if g["estimated_remaining_time"]
        else ""
    )
    snapshot["aria_text"] = f"{g['percentage']} %, {stage_part}{left}"
    title_stage = f" · Stage {current['number']}/{count}" if current and status in ACTIVE else ""
    snapshot["title"] = (
        f"{g['percentage']} %{title_stage} · Cascade"
        if status in ACTIVE
        else (f"{snapshot['run']['status_text']} · Cascade")
    )
    snapshot["is_active"] = status in ACTIVE
    snapshot["is_finished"] = status in FINISHED
    snapshot["review_ready"] = snapshot["stages"][-1]["output_count"]
    return snapshot


def _provider(site: Site) -> tuple[str, bool]:
    try:
        provider = get_provider(site.account)
    except ProviderUnavailable as exc:  # e.g. no API key yet: say so, the page still works
        return f"AI provider unavailable: {exc}", False
    return getattr(provider, "label", "AI"), bool(getattr(provider, "is_offline", False))


def _idle_cards(overview: dict) -> list[dict[str, Any]]:
    """Stage cards before any run: every stage pending, nothing counted yet."""
    return [
        {
            "number": o["number"],
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
        for o in overview["stages"]
    ]


def live_context(site: Site, can_operate: bool, dismissed: Sequence[str] = ()) -> dict[str, Any]:
    run = progress.latest_run(site.pk)
    snapshot = decorate(progress.build_snapshot(run)) if run else None
    overview = overview_for(site)
    account = Account.objects.filter(pk=site.account_id).values("credits", "reserved").get()
    available = account["credits"] - account["reserved"]
    events = list(RunEvent.objects.filter(run=run).order_by("-id")[:8]) if run else []
    provider_label, provider_offline = _provider(site)
    waiting = {o["number"]: o for o in overview["stages"]}
    cards = snapshot["stages"] if snapshot else _idle_cards(overview)
    for card in cards:
        idle = not (snapshot and snapshot["is_active"])
        card["waiting"] = waiting[card["number"]]["pending"] if idle else 0
        card["noun"] = waiting[card["number"]]["noun"]
    return {
        "history": history(site),
        "stage_cards": cards,
        "stage_count": len(registry()),
        "site": site,
        "snapshot": snapshot,
        "overview": overview,
        "balance": available,
        "reserved": account["reserved"],
        "controls": controls(snapshot, overview, available, can_operate),
        "events": events,
        "provider_label": provider_label,
        "provider_offline": provider_offline,
        "can_operate": can_operate,
        "dismissed": list(dismissed),
        "state_key": state_key(snapshot),
    }


def state_key(snapshot: dict | None) -> str:
    """ "run id:version", what the browser compares to drop an update older than its own."""
    return f"{snapshot['run']['run_id']}:{snapshot['version']}" if snapshot else "none:0"


def history(site: Site) -> list[dict]:
    rows = progress.run_summaries(site.pk)
    for row in rows:
        row["status_label"] = row["status"].replace("_", " ").capitalize()
        row["duration"] = progress.human_duration(row["duration_seconds"])
    return rows


def render_live(site: Site, can_operate: bool, dismissed: Sequence[str] = ()) -> str:
    return render_to_string("automation/live.html", live_context(site, can_operate, dismissed))


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def timeline(snapshot: dict) -> dict[str, Any]:
    """An SVG-ready layout of when each stage ran and how fast (items per minute)."""
    start, end = _parse(snapshot["run"]["started_at"]), _parse(snapshot["run"]["finished_at"])
    width, left, right, row_h = 900, 200, 110, 28
    if start is None:
        return {"rows": [], "width": width, "height": 40, "span": 0, "left": left}
    stages = [(s, _parse(s["started_at"]), _parse(s["finished_at"])) for s in snapshot["stages"]]
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
                "label": f"{s['number']}. {s['name']}",
                "status": s["display_status"],
                "x": round(x0, 1) if x0 is not None else None,
                "w": round(max(2.0, x1 - x0), 1) if x0 is not None and x1 is not None else 0,
                "rate": s["rate_per_minute"],
                "processed": s["processed_count"],
            }
        )
    height = 20 + len(rows) * row_h
    return {"rows": rows, "width": width, "height": height, "span": span, "left": left}
