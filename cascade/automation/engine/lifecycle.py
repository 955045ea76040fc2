"""Starting and steering runs: Run Now, pause, resume, cancel, retry failed, and the moment a
pausing or cancelling run has no work left in flight.

Every change holds the run's row lock, so a pause or cancel happens either before an item is
claimed (nothing new starts) or after (the item finishes). The allowed moves are the status sets
of `automation.models`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cascade.accounts.models import Account, Site
from cascade.automation import config as run_config
from cascade.automation import estimates
from cascade.automation.engine.errors import (
    InsufficientCredits,
    InvalidTransition,
    NothingToProcess,
    RunAlreadyActive,
)
from cascade.automation.engine.records import announce, bump, event, locked, save_run
from cascade.automation.models import AutomationRun, EventKind, RunItem, RunStage
from cascade.automation.queues import turned_off_keywords
from cascade.automation.signals import runnable
from cascade.automation.stages import registry
from cascade.automation.statuses import (
    ACTIVE,
    ALLOWED_IN,
    ItemState,
    PauseReason,
    RunAction,
    RunOutcome,
    RunStatus,
    StageStatus,
    Trigger,
)
from cascade.automation.wording import items

# Where each action leads: a run already there is left as it is.
ALREADY = {
    RunAction.PAUSE: frozenset({RunStatus.PAUSING, RunStatus.PAUSED}),
    RunAction.RESUME: frozenset({RunStatus.RUNNING}),
    RunAction.CANCEL: frozenset({RunStatus.CANCELLING}),
}


def _waiting(
    site_id: int, only_ids: dict[str, list[int]] | None, cfg: dict[str, Any]
) -> dict[int, int]:
    if not only_ids:
        return registry().pending_counts(site_id, cfg)
    counts = {}
    for stage in registry():
        ids = only_ids.get(str(stage.number))
        counts[stage.number] = stage.queue(site_id, cfg).filter(id__in=ids).count() if ids else 0
    return counts


def planned_run(
    site: Site,
    cfg: dict[str, Any],
    initial: dict[int, int],
    *,
    trigger: str = Trigger.MANUAL,
    retry_of: AutomationRun | None = None,
    only_ids: dict[str, list[int]] | None = None,
    plan: dict[str, Any] | None = None,
) -> AutomationRun:
    """The run Run Now stores (not saved here): queued, with what it takes in and its plan
    (`plan`, when the caller has made it already). The page builds its starting state from
    the same run."""
    snapshot = {f"stage_{n}_initial": initial[n] for n in registry().numbers}
    snapshot["total_initial_items"] = sum(initial.values())
    return AutomationRun(
        site=site,
        status=RunStatus.QUEUED,
        trigger=trigger,
        retry_of=retry_of,
        initial_snapshot=snapshot,
        plan=plan if plan is not None else estimates.plan(site, cfg, initial),
        config=cfg,
        only_ids=only_ids or {},
    )


def start_run(
    site: Site,
    *,
    trigger: str = Trigger.MANUAL,
    retry_of: AutomationRun | None = None,
    only_ids: dict[str, list[int]] | None = None,
) -> AutomationRun:
    """Create a queued run for the site: 409 if one is active, 422 if nothing waits, 402 if the
    account cannot pay for the first batch."""
    active = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
    if active is not None:
        raise RunAlreadyActive("A run is already active for this site.", run_id=active.run_id)
    cfg = run_config.for_run(site)
    initial = estimates.initial_counts(_waiting(site.pk, only_ids, cfg), cfg)
    first = next((n for n in registry().numbers if initial[n] > 0), None)
    if first is None:
        off = turned_off_keywords(site.pk).count()
        why = f" ({off:,} keyword{'s are' if off != 1 else ' is'} turned off)" if off else ""
        raise NothingToProcess(f"Nothing to process: every enabled stage's queue is empty{why}.")
    need = estimates.first_batch_cost(first, initial[first], cfg)
    account = Account.objects.filter(pk=site.account_id).values("credits", "reserved").get()
    available = account["credits"] - account["reserved"]
    if need > available:
        raise InsufficientCredits(
            f"Not enough credits: about {need:,} needed for the first batch, {available:,} left.",
            needed=need,
            balance=available,
        )
    run = planned_run(site, cfg, initial, trigger=trigger, retry_of=retry_of, only_ids=only_ids)
    try:
        with transaction.atomic():
            run.save(force_insert=True)
            RunStage.objects.bulk_create([RunStage(run=run, number=n) for n in registry().numbers])
            event(run.pk, EventKind.RUN_QUEUED, f"Run queued ({Trigger(trigger).label}).")
            announce(run)
            runnable(run.pk)
    except IntegrityError:
        # The partial unique index on active runs decided: another request won the race.
        active = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
        raise RunAlreadyActive(
            "A run is already active for this site.", run_id=active.run_id if active else None
        ) from None
    return run


def in_flight(run: AutomationRun) -> int:
    if not run.current_stage:
        return 0
    return (
        RunStage.objects.filter(run=run, number=run.current_stage)
        .values_list("in_progress_count", flat=True)
        .first()
        or 0
    )


def _accepts(run: AutomationRun, action: RunAction) -> None:
    if run.status not in ALLOWED_IN[action]:
        verb = action.label.lower()
        raise InvalidTransition(f"A {run.status} run cannot be {verb}.", run_id=run.run_id)


def _steered(
    run_id: Any, action: RunAction, change: Callable[[AutomationRun], None]
) -> AutomationRun:
    """Lock the run, check it accepts `action`, apply `change` and announce it on commit. A run
    already where the action leads is left as it is (a double click changes nothing)."""
    with transaction.atomic():
        run = locked(run_id)
        if run.status not in ALREADY[action]:
            _accepts(run, action)
            change(run)
            announce(run)
    run.refresh_from_db()
    return run


def pause_run(run_id: Any, reason: str = PauseReason.USER, message: str = "") -> AutomationRun:
    def pause(run: AutomationRun) -> None:
        busy = in_flight(run)
        label = PauseReason(reason).label
        run.pause_reason, run.status_message = reason, message[:500]
        if busy:
            run.status = RunStatus.PAUSING
            text = f"Pausing ({label}): finishing {items(busy)}. {message}"
            event(run.pk, EventKind.PAUSING, text.strip())
        else:
            run.status, run.paused_at = RunStatus.PAUSED, timezone.now()
            event(run.pk, EventKind.PAUSED, f"Paused ({label}). {message}".strip())
        bump(run)
        save_run(run, "status", "pause_reason", "status_message", "paused_at")

    return _steered(run_id, RunAction.PAUSE, pause)


def _resume(run: AutomationRun) -> None:
    now = timezone.now()
    if run.status == RunStatus.PAUSED and run.paused_at:
        gap = (now - run.paused_at).total_seconds()
        run.paused_seconds += gap
        if run.current_stage:
            # Shift the stage's clock so paused time counts neither in its duration nor in the
            # interval before its next completion.
            RunStage.objects.filter(
                run=run, number=run.current_stage, status=StageStatus.ACTIVE
            ).update(
                paused_seconds=F("paused_seconds") + gap,
                last_completion_at=F("last_completion_at") + timedelta(seconds=gap),
            )
    run.status = RunStatus.RUNNING if run.started_at else RunStatus.QUEUED
    run.pause_reason, run.status_message, run.paused_at = None, "", None
    run.consecutive_failures = 0
    event(run.pk, EventKind.RESUMED, "Resumed.")
    runnable(run.pk)
    bump(run)
    save_run(
        run,
        "status",
        "pause_reason",
        "status_message",
        "paused_at",
        "paused_seconds",
        "consecutive_failures",
    )


def resume_run(run_id: Any) -> AutomationRun:
    return _steered(run_id, RunAction.RESUME, _resume)


def _cancel(run: AutomationRun) -> None:
    busy = in_flight(run)
    if busy:
        run.status = RunStatus.CANCELLING
        event(run.pk, EventKind.CANCELLING, f"Cancelling: finishing {items(busy)}.")
        bump(run)
        save_run(run, "status")
    else:
        finish_cancelled(run)


def cancel_run(run_id: Any) -> AutomationRun:
    return _steered(run_id, RunAction.CANCEL, _cancel)


def retry_failed(run_id: Any, item: int | None = None) -> AutomationRun:
    """Put a finished run's failed items (or the one failed item `item`) back through their
    stages, as a new run."""
    run = AutomationRun.objects.select_related("site").get(pk=run_id)
    if run.status not in ALLOWED_IN[RunAction.RETRY_FAILED]:
        raise InvalidTransition(
            "Failed items can be retried once the run has finished.", run_id=run.run_id
        )
    items = RunItem.objects.filter(run=run, state=ItemState.FAILED)
    if item is not None:
        items = items.filter(pk=item)
    failed: dict[int, list[int]] = {}
    for stage, object_id in items.values_list("stage", "object_id"):
        failed.setdefault(stage, []).append(object_id)
    if not failed:
        raise NothingToProcess(
            "That item has not failed." if item else "This run has no failed items to retry."
        )
    first = min(failed)
    only: dict[str, list[int]] = {str(n): [] for n in registry().numbers if n < first}
    only[str(first)] = failed[first]
    return start_run(run.site, trigger=Trigger.RETRY, retry_of=run, only_ids=only)


def finish_cancelled(run: AutomationRun) -> None:
    now = timezone.now()
    if run.status == RunStatus.PAUSED and run.paused_at:
        run.paused_seconds += (now - run.paused_at).total_seconds()
    run.status, run.finished_at, run.paused_at = RunStatus.CANCELLED, now, None
    run.outcome = RunOutcome.CANCELLED
    RunStage.objects.filter(run=run, status__in=[StageStatus.ACTIVE, StageStatus.PENDING]).update(
        status=StageStatus.CANCELLED, finished_at=now
    )
    event(run.pk, EventKind.CANCELLED, "Cancelled; unprocessed items stay in their queues.")
    bump(run)
    save_run(run, "status", "finished_at", "paused_at", "paused_seconds", "outcome")


def settle(run: AutomationRun, in_progress: int) -> None:
    """After in-flight work ended: a pausing run becomes paused, a cancelling one cancelled."""
    if in_progress > 0:
        return
    if run.status == RunStatus.PAUSING:
        run.status, run.paused_at = RunStatus.PAUSED, timezone.now()
        label = PauseReason(run.pause_reason or PauseReason.USER).label
        event(run.pk, EventKind.PAUSED, f"Paused ({label}). {run.status_message}".strip())
        save_run(run, "status", "paused_at")
    elif run.status == RunStatus.CANCELLING:
        finish_cancelled(run)
