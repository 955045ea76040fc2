"""What the Automation page shows, assembled from the snapshot and the pipeline overview.

This module gathers what the page shows (the run as `board.Board`, the next run's plan and
estimate, the controls, the activity); it never counts. Every number comes from the snapshot
(`progress.read`) or the registry's overview and its estimate."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from django.utils.text import capfirst

from cascade.accounts.models import Account, Site
from cascade.ai import get_provider
from cascade.ai.base import ProviderUnavailable
from cascade.automation import estimates, fragments, progress
from cascade.automation.board import Board, board
from cascade.automation.controls import controls
from cascade.automation.engine import lifecycle
from cascade.automation.history import run_summaries
from cascade.automation.models import AutomationRun, RunEvent, RunStage, Schedule
from cascade.automation.queues import turned_off_keywords
from cascade.automation.stages import registry
from cascade.automation.statuses import StageStatus, Trigger
from cascade.automation.wording import elapsed, human_duration

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


def planned(prepared: tuple[AutomationRun, dict[int, int]], starting: bool = False) -> Board:
    """The run Run Now would store, as the page shows it, built by the snapshot's own code from
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
    snapshot = progress.compose(run, rows)
    # No run yet: the first update from the server replaces it all.
    unsaved = snapshot.model_copy(update={"run": snapshot.run.model_copy(update={"run_id": ""})})
    return board(unsaved, run.config.get("stages_enabled") or [])


def live_context(site: Site, can_operate: bool, dismissed: Sequence[str] = ()) -> dict[str, Any]:
    run = progress.latest_run(site.pk)
    shown = board(progress.read(run), run.config.get("stages_enabled") or []) if run else None
    idle = not (shown and shown.is_active)
    # What waits and the next run's estimate matter only between runs: every live update of a
    # running run is rendered without them.
    overview = overview_for(site) if idle else None
    account = Account.objects.filter(pk=site.account_id).values("credits", "reserved").get()
    available = account["credits"] - account["reserved"]
    events = list(RunEvent.objects.filter(run=run).order_by("-id")[:8]) if run else []
    provider_label, provider_offline = _provider(site)
    prepared = plan_of(site, overview) if overview else None
    # Between runs an overview is always made, and the cards show the next run's plan.
    cards = shown.cards if shown else (planned(prepared).cards if prepared else [])
    waiting = {o["number"]: o["pending"] for o in (overview or {}).get("stages", [])}
    # What Run Now shows while the server starts the run, and the cards it changes (between
    # runs the page already shows the planned cards, and only the first stage's turns active).
    offered = can_operate and overview and overview["items"]
    starting = planned(prepared, starting=True) if offered and prepared else None
    changes = {
        c.number: c for c in (starting.cards if starting else []) if shown or not c.is_pending
    }
    cards = [
        c.model_copy(
            update={"waiting": waiting.get(c.number, 0), "starting": changes.get(c.number)}
        )
        for c in cards
    ]
    # With nothing waiting, whether keywords are there but turned off (one count, between runs).
    nothing = overview is not None and not overview["items"]
    turned_off = turned_off_keywords(site.pk).count() if nothing else 0
    return {
        "turned_off": turned_off,
        "history": history(site),
        "stage_cards": cards,
        "stage_count": len(registry()),
        "site": site,
        "snapshot": shown,
        "starting": starting,
        "overview": overview,
        # Between runs only, like the overview: when the next run starts by itself.
        "schedule": Schedule.objects.filter(site=site, enabled=True).first() if idle else None,
        "balance": available,
        "reserved": account["reserved"],
        "controls": controls(shown.snapshot if shown else None, overview, available, can_operate),
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
        row["duration"] = elapsed(row["duration_seconds"])
        row["label"], row["tone"] = (
            row["outcome_text"],
            row["outcome"],
        )  # (every finished run has one)
        row["trigger_text"] = capfirst(Trigger(row["trigger"]).label)
    return rows


def live_fragments(site: Site, can_operate: bool) -> fragments.Fragments:
    """The live region as the event stream sends it: one rendering per fragment."""
    return fragments.render(live_context(site, can_operate))
