"""What the Automation page shows, assembled from the snapshot and the pipeline overview.

This module decides wording and which controls make sense (from the run status rules of
`automation.models`); it never counts. Every number comes from `progress.build_snapshot` or
the registry's overview and its estimate."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from cascade.accounts.models import Account, Site
from cascade.ai import get_provider
from cascade.ai.base import ProviderUnavailable
from cascade.automation import estimates, fragments, progress
from cascade.automation.models import ACTIVE, FINISHED, RunAction, RunEvent, RunStatus, Schedule
from cascade.automation.stages import registry
from cascade.automation.wording import human_duration

BADGES = {
    "pending": ("Pending", "○"),
    "active": ("Active", "▶"),
    "finishing": ("Finishing", "▶"),
    "pausing": ("Pausing", "❚❚"),
    "paused": ("Paused", "❚❚"),
    "completed": ("Completed", "✓"),
    "partial": ("Some failed", "!"),
    "skipped": ("Skipped", "↷"),
    "cancelled": ("Cancelled", "✕"),
    "failed": ("Failed", "!"),
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
PROVIDER_HELP = {
    True: "No AI service is connected: Cascade drafts clearly marked offline articles and "
    "pictures itself, so the whole pipeline can be tried. An operator connects a real model "
    "with CASCADE_AI_PROVIDER=openai.",
    False: "Articles are written by this AI service; every call is charged to the account.",
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


def controls(
    run: dict | None, overview: dict | None, available: int, can_operate: bool
) -> list[Control]:
    """The run controls, each enabled or disabled with its reason: the server decides, the
    browser only shows."""
    names = ["run-now", *[a.value for a in RunAction]]
    if not can_operate:
        reason = "Viewers can watch runs but not steer them"
        return [Control(n, LABELS[n], False, reason) for n in names]
    status = run["run"]["status"] if run else None
    failed = run["global_progress"]["failed_items"] if run else 0
    allowed = set(run["run"]["actions"]) if run else set()
    need = overview["first_batch_credits"] if overview else 0
    if status in ACTIVE or overview is None:
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
    overview["estimate_time"] = human_duration(seconds) if seconds else "< 1 min"
    return overview


def _display_status(stage: dict, run_status: str) -> str:
    """A stage's badge: the active stage says whether the run pauses, is paused or only
    finishes its last items (never "Active" with nothing left to start)."""
    if stage["status"] == "completed" and stage["failed_count"]:
        return "failed" if not stage["processed_count"] else "partial"
    if stage["status"] != "active":
        return stage["status"]
    if run_status in (RunStatus.PAUSING, RunStatus.PAUSED):
        return run_status
    nothing_queued = stage["remaining_count"] == stage["in_progress_count"]
    return "finishing" if stage["input_count"] and nothing_queued else "active"


def _label(stage: dict, shown: str, run_status: str) -> dict:
    badge, icon = BADGES[shown]
    spec = registry()[stage["number"]]
    return {
        "display_status": shown,
        "badge": badge,
        "icon": icon,
        "noun": spec.noun.many,
        "verb": spec.verb,
        "ticking": stage["status"] == "active"
        and run_status in (RunStatus.RUNNING, RunStatus.CANCELLING, RunStatus.PAUSING),
    }


def decorate(shared: dict) -> dict:
    """Labels for the template on a copy of the snapshot; the numbers stay the snapshot's."""
    snapshot = copy.deepcopy(shared)
    run = snapshot["run"]
    count = len(snapshot["stages"])
    for stage in snapshot["stages"]:
        stage.update(_label(stage, _display_status(stage, run["status"]), run["status"]))
    current = next((s for s in snapshot["stages"] if s["number"] == run["current_stage"]), None)
    snapshot["current"] = current if run["status"] in ACTIVE else None
    snapshot["stage_count"] = count
    g = snapshot["global_progress"]
    stage_part = f"stage {current['number']} of {count}" if current else "finished"
    left = g["estimated_remaining_time"]
    snapshot["aria_text"] = f"{g['percentage']} %, {stage_part}" + (
        f", about {left.lstrip('~')} left" if left else ""
    )
    if run["status"] in (RunStatus.PAUSED, RunStatus.PAUSING):
        snapshot["title"] = f"Paused · {g['percentage']} % · Cascade"
    elif run["status"] in ACTIVE:
        where = f" · Stage {current['number']}/{count}" if current else ""
        snapshot["title"] = f"{g['percentage']} %{where} · Cascade"
    else:
        snapshot["title"] = f"{run['status_text']} · Cascade"
    snapshot["is_active"] = run["status"] in ACTIVE
    snapshot["is_finished"] = run["status"] in FINISHED
    snapshot["review_ready"] = snapshot["stages"][-1]["output_count"]
    failed_by_stage = {s["number"]: s for s in snapshot["stages"]}
    for group in snapshot["metrics"]["error_groups"]:
        group["of"] = failed_by_stage[group["stage"]]
    return snapshot


def _provider(site: Site) -> tuple[str, bool]:
    try:
        provider = get_provider(site.account)
    except ProviderUnavailable as exc:  # e.g. no API key yet: say so, the page still works
        return f"AI provider unavailable: {exc}", False
    return getattr(provider, "label", "AI"), bool(getattr(provider, "is_offline", False))


def _planned_cards(overview: dict, starting: bool = False) -> list[dict[str, Any]]:
    """Stage cards of a run not started yet (or just starting): every stage pending with what
    it is expected to get; nothing counted yet."""
    plan = overview["estimate"]
    cards = []
    for o in overview["stages"]:
        n = str(o["number"])
        status = "active" if starting and o["number"] == _first(overview) else "pending"
        card = {
            "number": o["number"],
            "name": o["name"],
            "status": status,
            "input_count": 0,
            "processed_count": 0,
            "remaining_count": 0,
            "in_progress_count": 0,
            "failed_count": 0,
            "output_count": 0,
            "output_label": o["output_label"],
            "progress_percentage": 0,
            "expected_total": plan["stages"][n],
            "total_is_estimate": not plan["exact"][n],
            "share": plan["shares"][n],
            "fill": 0,
            "credits_used": 0,
            "duration_seconds": 0,
        }
        card.update(_label(card, status, RunStatus.QUEUED))
        card["ticking"] = False
        cards.append(card)
    return cards


def _first(overview: dict) -> int | None:
    return next((o["number"] for o in overview["stages"] if o["pending"] and o["enabled"]), None)


def starting(overview: dict) -> dict[str, Any]:
    """What Run Now shows before the server answers: the new run at 0 %, its first stage
    active, every total from the estimate."""
    plan, cards = overview["estimate"], _planned_cards(overview, starting=True)
    headline = registry().headline.number
    return {
        "version": 0,
        "run": {"run_id": "", "status": "queued", "status_text": "Starting…", "outcome": None},
        "global_progress": {
            "percentage": 0,
            "completed_items": 0,
            "failed_items": 0,
            "total_items": plan["items"],
            "total_is_estimate": True,
            "estimated_remaining_time": overview["estimate_time"],
            "unit": {
                "label": registry()[headline].output_label,
                "verb": registry()[headline].verb,
                "total": plan["stages"][str(headline)],
                "done": 0,
                "is_estimate": True,
            },
        },
        "metrics": {"credits_used": 0},
        "stages": cards,
        "current": next((c for c in cards if c["status"] == "active"), None),
        "stage_count": len(cards),
        "is_active": True,
        "is_finished": False,
        "aria_text": "0 %, starting",
    }


def _starting(overview: dict, snapshot: dict | None) -> dict[str, Any] | None:
    """The starting state Run Now shows, with only the stage cards it changes: between runs the
    page already shows the planned cards, and only the first stage's turns active."""
    if not overview["items"]:
        return None
    doc = starting(overview)
    doc["changed_cards"] = (
        doc["stages"] if snapshot else [c for c in doc["stages"] if c["status"] != "pending"]
    )
    return doc


def live_context(site: Site, can_operate: bool, dismissed: Sequence[str] = ()) -> dict[str, Any]:
    run = progress.latest_run(site.pk)
    snapshot = decorate(progress.build_snapshot(run)) if run else None
    if run and snapshot:
        enabled = run.config.get("stages_enabled") or []
        for stage in snapshot["stages"]:  # why a skipped stage was skipped
            n = stage["number"]
            stage["disabled"] = n <= len(enabled) and not enabled[n - 1]
    idle = not (snapshot and snapshot["is_active"])
    # What waits and the next run's estimate matter only between runs: every live update of a
    # running run is rendered without them.
    overview = overview_for(site) if idle else None
    account = Account.objects.filter(pk=site.account_id).values("credits", "reserved").get()
    available = account["credits"] - account["reserved"]
    events = list(RunEvent.objects.filter(run=run).order_by("-id")[:8]) if run else []
    provider_label, provider_offline = _provider(site)
    cards = snapshot["stages"] if snapshot else _planned_cards(overview or {})
    waiting = {o["number"]: o["pending"] for o in (overview or {}).get("stages", [])}
    for card in cards:
        card["waiting"] = waiting.get(card["number"], 0)
    return {
        "history": history(site),
        "stage_cards": cards,
        "stage_count": len(registry()),
        "site": site,
        "snapshot": snapshot,
        "starting": _starting(overview, snapshot) if can_operate and overview else None,
        "overview": overview,
        # Between runs only, like the overview: when the next run starts by itself.
        "schedule": Schedule.objects.filter(site=site, enabled=True).first() if idle else None,
        "balance": available,
        "reserved": account["reserved"],
        "controls": controls(snapshot, overview, available, can_operate),
        "events": events,
        "provider_label": provider_label,
        "provider_offline": provider_offline,
        "provider_help": PROVIDER_HELP[provider_offline],
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
        row["duration"] = human_duration(row["duration_seconds"])
        row["label"] = row["outcome_text"] or row["status"].replace("_", " ").capitalize()
        row["tone"] = row["outcome"] or row["status"]
    return rows


def live_region(site: Site, can_operate: bool) -> fragments.Region:
    """The live region as the event stream sends it: rendered with its fragments marked, and
    the run state it shows."""
    context = live_context(site, can_operate) | {"live_fragments": True}
    snapshot = context["snapshot"]
    shown = (snapshot["run"]["run_id"], snapshot["version"]) if snapshot else None
    return fragments.split(render_to_string("automation/live.html", context), shown)
