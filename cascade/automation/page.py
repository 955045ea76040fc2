"""What the Automation page shows, assembled from the snapshot and the pipeline overview.

This module decides wording and which controls make sense (from the run status rules of
`automation.models`); it never counts. Every number comes from `progress.build_snapshot` or
the registry's overview and its estimate."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from django.utils.text import capfirst

from cascade.accounts.models import Account, Site
from cascade.ai import get_provider
from cascade.ai.base import ProviderUnavailable
from cascade.automation import estimates, fragments, progress
from cascade.automation.controls import controls
from cascade.automation.engine import lifecycle
from cascade.automation.history import run_summaries
from cascade.automation.models import AutomationRun, RunEvent, RunStage, Schedule
from cascade.automation.stages import registry
from cascade.automation.statuses import (
    ACTIVE,
    STAGE_DONE,
    DisplayStatus,
    RunStatus,
    StageStatus,
    Trigger,
    display_status,
)
from cascade.automation.wording import (
    headline,
    human_duration,
    items_done,
    skip_reason,
    what_items_are,
)

ICONS = {
    DisplayStatus.PENDING: "○",
    DisplayStatus.ACTIVE: "▶",
    DisplayStatus.FINISHING: "▶",
    DisplayStatus.PAUSING: "❚❚",
    DisplayStatus.PAUSED: "❚❚",
    DisplayStatus.COMPLETED: "✓",
    DisplayStatus.PARTIAL: "!",
    DisplayStatus.SKIPPED: "↷",
    DisplayStatus.CANCELLED: "✕",
    DisplayStatus.FAILED: "!",
}
PROVIDER_HELP = {
    True: "No AI service is connected: Cascade drafts clearly marked offline articles and "
    "pictures itself, so the whole pipeline can be tried. An operator connects a real model "
    "with CASCADE_AI_PROVIDER=openai.",
    False: "Articles are written by this AI service; every call is charged to the account.",
}


def overview_for(site: Site) -> dict[str, Any]:
    """The pipeline overview with words for people."""
    overview = estimates.overview(site)
    seconds = overview["estimate"]["seconds"]
    overview["estimate_time"] = human_duration(seconds) if seconds else "< 1 min"
    return overview


def _label(stage: dict, shown: DisplayStatus, run_status: str) -> dict:
    spec = registry()[stage["number"]]
    entered, done = stage["input_count"], stage["processed_count"]
    # The stage bar's two parts: items done, and items failed (drawn red), together as wide as
    # the stage's progress percentage.
    done_fill = 100 * done // entered if entered else stage["progress_percentage"]
    return {
        "done_fill": done_fill,
        "failed_fill": stage["progress_percentage"] - done_fill,
        "display_status": shown.value,
        "badge": shown.label,
        "icon": ICONS[shown],
        "is_pending": stage["status"] == StageStatus.PENDING,
        "is_skipped": shown == DisplayStatus.SKIPPED,
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
        stage.update(_label(stage, display_status(stage, run["status"]), run["status"]))
    current = next((s for s in snapshot["stages"] if s["number"] == run["current_stage"]), None)
    if run["status"] not in ACTIVE:
        current = None
    snapshot["current"] = current
    snapshot["stage_count"] = count
    g = snapshot["global_progress"]
    snapshot["headline"] = headline(snapshot)
    snapshot["items_text"] = items_done(g)
    snapshot["items_explained"] = what_items_are()
    left = g["estimated_remaining_time"]
    if run["is_finished"]:
        snapshot["aria_text"] = f"{run['status_text']}: {snapshot['items_text']}"
    else:
        where = f"stage {current['number']} of {count}" if current else "starting"
        snapshot["aria_text"] = f"{g['percentage']} %, {where}" + (
            f", about {left.lstrip('~')} left" if left else ""
        )
    if run["status"] in (RunStatus.PAUSED, RunStatus.PAUSING):
        snapshot["title"] = f"Paused · {g['percentage']} % · Cascade"
    elif run["status"] in ACTIVE:
        where = f" · Stage {current['number']}/{count}" if current else ""
        snapshot["title"] = f"{g['percentage']} %{where} · Cascade"
    else:
        snapshot["title"] = f"{run['status_text']} · Cascade"
    snapshot["is_active"] = run["is_active"]
    snapshot["is_finished"] = run["is_finished"]
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


def plan_of(site: Site, overview: dict) -> tuple[AutomationRun, dict[int, int]]:
    """The run Run Now would store now (unsaved) and what it takes in each stage, from the
    pipeline overview (its configuration and plan): no query of its own."""
    waiting = {o["number"]: o["pending"] for o in overview["stages"]}
    initial = estimates.initial_counts(waiting, overview["config"])
    run = lifecycle.planned_run(site, overview["config"], initial, plan=overview["estimate"])
    run.expected_seconds = overview["estimate"]["seconds_per_item"]
    run.has_history = overview["estimate"]["has_history"]
    return run, initial


def planned(prepared: tuple[AutomationRun, dict[int, int]], starting: bool = False) -> dict:
    """The snapshot of the run Run Now would store, built by the snapshot's own code from
    unsaved rows: before it starts (every stage pending with what it is expected to get), or
    (`starting`, what the click shows before the server answers) as it begins: its first stage
    with work active, the empty ones before it skipped, 0 % done."""
    run, initial = copy.copy(prepared[0]), prepared[1]
    first = next((n for n in registry().numbers if initial[n]), None) if starting else None
    rows = [RunStage(run=run, number=n) for n in registry().numbers]
    if first is not None:
        run.current_stage = first
        for row in rows:
            if row.number < first:
                row.status = StageStatus.SKIPPED
            elif row.number == first:
                row.status, row.input_count = StageStatus.ACTIVE, initial[first]
    doc = decorate(progress.compose(run, rows).model_dump(mode="json"))
    doc["run"]["run_id"] = ""  # no run yet: the first update from the server replaces it all
    return doc


def _starting(
    prepared: tuple[AutomationRun, dict[int, int]], overview: dict, snapshot: dict | None
) -> dict[str, Any] | None:
    """The starting state Run Now shows, with only the stage cards it changes: between runs the
    page already shows the planned cards, and only the first stage's turns active."""
    if not overview["items"]:
        return None
    doc = planned(prepared, starting=True)
    doc["changed_cards"] = (
        doc["stages"] if snapshot else [c for c in doc["stages"] if c["status"] != "pending"]
    )
    return doc


def _skip_reason(stage: dict, by_number: dict[int, dict]) -> str:
    spec = registry()[stage["number"]]
    source = by_number.get(spec.inflow.source) if spec.inflow else None
    fed = (
        (source["number"], source["status"] in STAGE_DONE, source["output_count"])
        if source
        else None
    )
    return skip_reason(stage["number"], stage["disabled"], fed)


def live_context(site: Site, can_operate: bool, dismissed: Sequence[str] = ()) -> dict[str, Any]:
    run = progress.latest_run(site.pk)
    snapshot = decorate(progress.build_snapshot(run)) if run else None
    if run and snapshot:
        enabled = run.config.get("stages_enabled") or []
        by_number = {stage["number"]: stage for stage in snapshot["stages"]}
        for stage in snapshot["stages"]:  # why a skipped stage was skipped
            n = stage["number"]
            stage["disabled"] = n <= len(enabled) and not enabled[n - 1]
            stage["skip_reason"] = _skip_reason(stage, by_number)
    idle = not (snapshot and snapshot["is_active"])
    # What waits and the next run's estimate matter only between runs: every live update of a
    # running run is rendered without them.
    overview = overview_for(site) if idle else None
    account = Account.objects.filter(pk=site.account_id).values("credits", "reserved").get()
    available = account["credits"] - account["reserved"]
    events = list(RunEvent.objects.filter(run=run).order_by("-id")[:8]) if run else []
    provider_label, provider_offline = _provider(site)
    prepared = plan_of(site, overview) if overview else None
    if snapshot is not None:
        cards = snapshot["stages"]
    else:  # between runs an overview is always made
        cards = planned(prepared)["stages"] if prepared else []
    waiting = {o["number"]: o["pending"] for o in (overview or {}).get("stages", [])}
    starting = (
        _starting(prepared, overview, snapshot) if can_operate and prepared and overview else None
    )
    changes = {c["number"]: c for c in starting["changed_cards"]} if starting else {}
    for card in cards:
        card["waiting"] = waiting.get(card["number"], 0)
        card["starting"] = changes.get(card["number"])  # what Run Now turns it into
    return {
        "history": history(site),
        "stage_cards": cards,
        "stage_count": len(registry()),
        "site": site,
        "snapshot": snapshot,
        "starting": starting,
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
    }


def history(site: Site) -> list[dict]:
    """The site's finished runs (the active one is the page's live part, not history)."""
    rows = run_summaries(site.pk, finished_only=True)
    for row in rows:
        row["duration"] = human_duration(row["duration_seconds"])
        row["label"], row["tone"] = (
            row["outcome_text"],
            row["outcome"],
        )  # (every finished run has one)
        row["trigger_text"] = capfirst(Trigger(row["trigger"]).label)
    return rows


def live_fragments(site: Site, can_operate: bool) -> fragments.Fragments:
    """The live region as the event stream sends it: one rendering per fragment."""
    return fragments.render(live_context(site, can_operate))
