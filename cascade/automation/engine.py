"""The run engine: start, claim, process, commit, and the state changes around them.

Every function here is safe to call from any number of threads or processes at once; the
engine does not know whether it runs in the embedded pool or on a Celery worker. Who may do what
is decided by conditional updates and row locks, never by in-memory state.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from cascade.accounts import credits
from cascade.accounts.models import Account, LedgerEntry, Site
from cascade.ai import get_provider, usage
from cascade.ai.base import ProviderRefused, ProviderUnavailable, SiteProfile
from cascade.automation import config as run_config
from cascade.automation import progress
from cascade.automation.models import (
    ACTIVE,
    FINISHED,
    WORKING,
    AutomationRun,
    EventKind,
    ItemState,
    PauseReason,
    RunEvent,
    RunItem,
    RunStage,
    RunStatus,
    StageStatus,
    StageTiming,
    Trigger,
)
from cascade.automation.stages import (
    NUMBERS,
    STAGES,
    Stage,
    StageContext,
    StageError,
    batch_size,
    credits_for_usage,
    pending_counts,
)

log = logging.getLogger("cascade.engine")
INTERVAL_WINDOW = 20  # item completions the ETA looks back over


# --- errors the API maps to status codes ------------------------------------------------------


class EngineRefusal(Exception):
    status = 409

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class RunAlreadyActive(EngineRefusal):
    status = 409


class NothingToProcess(EngineRefusal):
    status = 422


class InsufficientCredits(EngineRefusal):
    status = 402


class InvalidTransition(EngineRefusal):
    status = 409


class LostClaim(Exception):
    """The item's claim expired and was taken back; this worker's result is discarded."""


# --- announcing progress ----------------------------------------------------------------------

_listeners: list[Callable[[str], None]] = []


def on_progress(listener: Callable[[str], None]) -> Callable[[], None]:
    """Register a callable told the run id after every committed progress change (in this
    process); returns the function that unregisters it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


_runnable_listeners: list[Callable[[str], None]] = []


def on_runnable(listener: Callable[[str], None]) -> Callable[[], None]:
    """Register a callable told the run id when a run has new work to start (it was created or
    resumed); the Celery executor queues tasks from it."""
    _runnable_listeners.append(listener)
    return lambda: _runnable_listeners.remove(listener) if listener in _runnable_listeners else None


def _runnable(run_id: Any) -> None:
    def send() -> None:
        for listener in list(_runnable_listeners):
            try:
                listener(str(run_id))
            except Exception:
                log.exception("runnable listener failed")

    transaction.on_commit(send)


def _announce(run_id: Any) -> None:
    def send() -> None:
        for listener in list(_listeners):
            try:
                listener(str(run_id))
            except Exception:  # a broken listener must not break the engine
                log.exception("progress listener failed")

    transaction.on_commit(send)


def _bump(run: AutomationRun) -> None:
    run.version = F("version") + 1


def _event(
    run_id: Any, kind: str, message: str = "", stage: int | None = None, item_id: int | None = None
) -> None:
    RunEvent.objects.create(
        run_id=run_id, kind=kind, message=message[:2000], stage=stage, item_id=item_id
    )


def _locked(run_id: Any) -> AutomationRun:
    return AutomationRun.objects.select_for_update().get(pk=run_id)


def _save_run(run: AutomationRun, *fields: str) -> None:
    run.save(update_fields=["version", *fields])


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# --- starting and steering runs -----------------------------------------------------------------


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
    cfg = run_config.load(site)
    pending = pending_counts(site.pk) if not only_ids else _restricted_counts(site.pk, only_ids)
    cap = cfg["max_items_per_stage"]
    initial = {
        n: (min(c, cap) if cap else c) if cfg["stages_enabled"][n - 1] else 0
        for n, c in pending.items()
    }
    first = next((n for n in NUMBERS if initial[n] > 0), None)
    if first is None:
        raise NothingToProcess("Nothing to process: every enabled stage's queue is empty.")
    need = progress.first_batch_cost(site, first, initial[first], cfg)
    balance = Account.objects.filter(pk=site.account_id).values_list("credits", flat=True).get()
    if need > balance:
        raise InsufficientCredits(
            f"Not enough credits: about {need} needed for the first batch, {balance} left.",
            needed=need,
            balance=balance,
        )
    snapshot = {f"stage_{n}_initial": initial[n] for n in NUMBERS}
    snapshot["total_initial_items"] = sum(initial.values())
    try:
        with transaction.atomic():
            run = AutomationRun.objects.create(
                site=site,
                status=RunStatus.QUEUED,
                trigger=trigger,
                retry_of=retry_of,
                initial_snapshot=snapshot,
                config=cfg,
                only_ids=only_ids or {},
            )
            RunStage.objects.bulk_create([RunStage(run=run, number=n) for n in NUMBERS])
            _event(run.pk, EventKind.RUN_QUEUED, f"Run queued ({trigger}).")
            _announce(run.pk)
            _runnable(run.pk)
    except IntegrityError:
        # The partial unique index on active runs decided: another request won the race.
        active = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
        raise RunAlreadyActive(
            "A run is already active for this site.", run_id=active.run_id if active else None
        ) from None
    return run


def _restricted_counts(site_id: int, only_ids: dict[str, list[int]]) -> dict[int, int]:
    counts = {}
    for n, stage in STAGES.items():
        ids = only_ids.get(str(n))
        counts[n] = stage.queue(site_id).filter(id__in=ids).count() if ids is not None else 0
    return counts


def pause_run(run_id: Any, reason: str = PauseReason.USER, message: str = "") -> AutomationRun:
    with transaction.atomic():
        run = _locked(run_id)
        if run.status in (RunStatus.PAUSED, RunStatus.PAUSING):
            return run
        if run.status not in (RunStatus.RUNNING, RunStatus.QUEUED):
            raise InvalidTransition(f"A {run.status} run cannot be paused.", run_id=run.run_id)
        in_flight = _in_flight(run)
        run.pause_reason, run.status_message = reason, message[:500]
        if in_flight:
            run.status = RunStatus.PAUSING
            _event(
                run.pk,
                EventKind.PAUSING,
                f"Pausing ({reason}): finishing {in_flight} items. {message}".strip(),
            )
        else:
            run.status, run.paused_at = RunStatus.PAUSED, timezone.now()
            _event(run.pk, EventKind.PAUSED, f"Paused ({reason}). {message}".strip())
        _bump(run)
        _save_run(run, "status", "pause_reason", "status_message", "paused_at")
        _announce(run.pk)
    run.refresh_from_db()
    return run


def resume_run(run_id: Any) -> AutomationRun:
    with transaction.atomic():
        run = _locked(run_id)
        if run.status == RunStatus.RUNNING:
            return run
        if run.status not in (RunStatus.PAUSED, RunStatus.PAUSING):
            raise InvalidTransition(f"A {run.status} run cannot be resumed.", run_id=run.run_id)
        now = timezone.now()
        if run.status == RunStatus.PAUSED and run.paused_at:
            gap = (now - run.paused_at).total_seconds()
            run.paused_seconds += gap
            if run.current_stage:
                # Shift the stage's clock so paused time counts neither in its duration nor in
                # the interval before its next completion.
                RunStage.objects.filter(
                    run=run, number=run.current_stage, status=StageStatus.ACTIVE
                ).update(
                    paused_seconds=F("paused_seconds") + gap,
                    last_completion_at=F("last_completion_at") + timedelta(seconds=gap),
                )
        run.status = RunStatus.RUNNING if run.started_at else RunStatus.QUEUED
        run.pause_reason, run.status_message, run.paused_at = None, "", None
        run.consecutive_failures = 0
        _event(run.pk, EventKind.RESUMED, "Resumed.")
        _runnable(run.pk)
        _bump(run)
        _save_run(
            run,
            "status",
            "pause_reason",
            "status_message",
            "paused_at",
            "paused_seconds",
            "consecutive_failures",
        )
        _announce(run.pk)
    run.refresh_from_db()
    return run


def cancel_run(run_id: Any) -> AutomationRun:
    with transaction.atomic():
        run = _locked(run_id)
        if run.status == RunStatus.CANCELLING:
            return run
        if run.status in FINISHED:
            raise InvalidTransition(f"A {run.status} run cannot be cancelled.", run_id=run.run_id)
        in_flight = _in_flight(run)
        if in_flight:
            run.status = RunStatus.CANCELLING
            _event(run.pk, EventKind.CANCELLING, f"Cancelling: finishing {in_flight} items.")
            _bump(run)
            _save_run(run, "status")
        else:
            _finish_cancelled(run)
        _announce(run.pk)
    run.refresh_from_db()
    return run


def retry_failed(run_id: Any) -> AutomationRun:
    """Put a finished run's failed items back through their stages, as a new run."""
    run = AutomationRun.objects.select_related("site").get(pk=run_id)
    if not run.is_finished:
        raise InvalidTransition(
            "Failed items can be retried once the run has finished.", run_id=run.run_id
        )
    failed: dict[int, list[int]] = {}
    for stage, object_id in RunItem.objects.filter(run=run, state=ItemState.FAILED).values_list(
        "stage", "object_id"
    ):
        failed.setdefault(stage, []).append(object_id)
    if not failed:
        raise NothingToProcess("This run has no failed items to retry.")
    first = min(failed)
    only = {str(n): [] for n in NUMBERS if n < first}
    only[str(first)] = failed[first]
    return start_run(run.site, trigger=Trigger.RETRY, retry_of=run, only_ids=only)


def resume_runs_waiting_for_credits(account_id: int) -> None:
    waiting = AutomationRun.objects.filter(
        site__account_id=account_id,
        status=RunStatus.PAUSED,
        pause_reason=PauseReason.INSUFFICIENT_CREDITS,
    ).values_list("pk", flat=True)
    for run_id in list(waiting):
        try:
            resume_run(run_id)
        except InvalidTransition:
            pass


def _in_flight(run: AutomationRun) -> int:
    if not run.current_stage:
        return 0
    return (
        RunStage.objects.filter(run=run, number=run.current_stage)
        .values_list("in_progress_count", flat=True)
        .first()
        or 0
    )


def _finish_cancelled(run: AutomationRun) -> None:
    now = timezone.now()
    if run.status == RunStatus.PAUSED and run.paused_at:
        run.paused_seconds += (now - run.paused_at).total_seconds()
    run.status, run.finished_at, run.paused_at = RunStatus.CANCELLED, now, None
    RunStage.objects.filter(run=run, status__in=[StageStatus.ACTIVE, StageStatus.PENDING]).update(
        status=StageStatus.CANCELLED, finished_at=now
    )
    _event(run.pk, EventKind.CANCELLED, "Cancelled; unprocessed items stay in their queues.")
    _bump(run)
    _save_run(run, "status", "finished_at", "paused_at", "paused_seconds")


def _settle(run: AutomationRun, in_progress: int) -> None:
    """After in-flight work ended: a pausing run becomes paused, a cancelling one cancelled."""
    if in_progress > 0:
        return
    if run.status == RunStatus.PAUSING:
        run.status, run.paused_at = RunStatus.PAUSED, timezone.now()
        _event(
            run.pk, EventKind.PAUSED, f"Paused ({run.pause_reason}). {run.status_message}".strip()
        )
        _save_run(run, "status", "paused_at")
    elif run.status == RunStatus.CANCELLING:
        _finish_cancelled(run)


# --- the worker's unit of work ---------------------------------------------------------------


def work_once(worker: str | None = None) -> bool:
    """Do one piece of work on any run that needs it; False when there was nothing to do."""
    worker = worker or worker_name()
    reclaim_expired()
    runs = list(AutomationRun.objects.filter(status__in=WORKING).values_list("pk", "status"))
    random.shuffle(runs)  # fairness between sites that share workers
    for run_id, status in runs:
        if status == RunStatus.QUEUED:
            if begin_run(run_id):
                return True
        elif status == RunStatus.RUNNING:
            claim = claim_items(run_id, worker)
            if claim is not None:
                process_claim(claim)
                return True
            if advance_if_stage_done(run_id):
                return True
    return False


def begin_run(run_id: Any) -> bool:
    with transaction.atomic():
        run = _locked(run_id)
        if run.status != RunStatus.QUEUED:
            return False
        run.status, run.started_at = RunStatus.RUNNING, timezone.now()
        # Expectations are frozen by the process that does the work (it knows its own latency).
        run.expected_seconds, run.has_history = progress.expected_seconds(run.site_id)
        _event(run.pk, EventKind.RUN_STARTED, "Run started.")
        _activate_from(run, 1)
        _bump(run)
        _save_run(
            run,
            "status",
            "started_at",
            "expected_seconds",
            "has_history",
            "current_stage",
            "finished_at",
            "percentage_hwm",
        )
        _announce(run.pk)
    return True


def _activate_from(run: AutomationRun, first: int) -> None:
    """Make the next stage with work active, skipping empty or disabled ones; complete the run
    when none is left. Called inside the run's transaction."""
    now = timezone.now()
    stages = {s.number: s for s in RunStage.objects.filter(run=run, number__gte=first)}
    for n in range(first, 8):
        row = stages[n]
        enabled = run.config["stages_enabled"][n - 1]
        added = _freeze_queue(run, row) if enabled else 0
        if added == 0:
            row.status, row.started_at, row.finished_at = StageStatus.SKIPPED, now, now
            row.save(update_fields=["status", "started_at", "finished_at"])
            why = "disabled in this run's configuration" if not enabled else "nothing to do"
            _event(run.pk, EventKind.STAGE_SKIPPED, f"Stage {n} skipped: {why}.", stage=n)
            continue
        row.status, row.started_at, row.last_completion_at = StageStatus.ACTIVE, now, now
        row.save(update_fields=["status", "started_at", "last_completion_at", "input_count"])
        run.current_stage = n
        _event(
            run.pk,
            EventKind.STAGE_STARTED,
            f"Stage {n} started with {row.input_count} items.",
            stage=n,
        )
        return
    run.status, run.finished_at, run.percentage_hwm = RunStatus.COMPLETED, now, 100
    _event(run.pk, EventKind.COMPLETED, "Run completed.")


def _freeze_queue(run: AutomationRun, row: RunStage) -> int:
    """Add the stage's waiting rows that are not yet items of this run's stage; returns how many.
    The registry's queue is the only source of what enters a stage."""
    stage = STAGES[row.number]
    queue = stage.queue(run.site_id)
    only = (run.only_ids or {}).get(str(row.number))
    if only is not None:
        queue = queue.filter(id__in=only)
    queue = queue.exclude(
        id__in=RunItem.objects.filter(run=run, stage=row.number).values("object_id")
    )
    cap = run.config.get("max_items_per_stage")
    if cap:
        room = cap - row.input_count
        if room <= 0:
            return 0
        queue = queue[:room]
    rows = list(stage.titles(queue))
    RunItem.objects.bulk_create(
        [
            RunItem(
                run=run,
                stage=row.number,
                object_id=object_id,
                title=(title or "")[:300],
                position=row.input_count + i,
            )
            for i, (object_id, title) in enumerate(rows)
        ],
        batch_size=2000,
    )
    row.input_count += len(rows)
    return len(rows)


def advance_if_stage_done(run_id: Any) -> bool:
    """Exactly one caller moves a run from a finished stage to the next (the run row is locked
    and the stage's status change is conditional)."""
    with transaction.atomic():
        run = _locked(run_id)
        if run.status != RunStatus.RUNNING or not run.current_stage:
            return False
        row = RunStage.objects.get(run=run, number=run.current_stage)
        if row.status != StageStatus.ACTIVE or row.in_progress_count or row.queued_count > 0:
            return False
        if _freeze_queue(run, row):  # rows that arrived in the queue while the stage ran
            row.save(update_fields=["input_count"])
            _bump(run)
            _save_run(run)
            _announce(run.pk)
            return True
        now = timezone.now()
        row.status, row.finished_at = StageStatus.COMPLETED, now
        row.save(update_fields=["status", "finished_at"])
        _event(
            run.pk,
            EventKind.STAGE_FINISHED,
            f"Stage {row.number} finished: {row.processed_count} done, {row.failed_count} failed.",
            stage=row.number,
        )
        _record_timing(run, row)
        _activate_from(run, row.number + 1)
        _bump(run)
        _save_run(run, "status", "current_stage", "finished_at", "percentage_hwm")
        _announce(run.pk)
    return True


def _record_timing(run: AutomationRun, row: RunStage) -> None:
    if row.recent_intervals:
        seconds = sum(row.recent_intervals) / len(row.recent_intervals)
        StageTiming.objects.update_or_create(
            site_id=run.site_id, stage=row.number, defaults={"seconds_per_item": seconds}
        )


# --- claiming -----------------------------------------------------------------------------------


class Claim:
    def __init__(self, run_id: Any, stage: int, token: str, items: list[RunItem]) -> None:
        self.run_id, self.stage, self.token, self.items = run_id, stage, token, items


def claim_items(run_id: Any, worker: str) -> Claim | None:
    """Claim the next batch of the active stage. The run row is locked, so a pause or cancel
    either happens before (nothing is claimed) or after (the claim is in flight and finishes)."""
    now = timezone.now()
    with transaction.atomic():
        run = _locked(run_id)
        if run.status != RunStatus.RUNNING or not run.current_stage:
            return None
        stage = run.current_stage
        candidates = (
            RunItem.objects.filter(run=run, stage=stage, state=ItemState.QUEUED)
            .exclude(not_before__gt=now)
            .order_by("position")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[: batch_size(stage, run.config)]
        )
        ids = list(candidates)
        if not ids:
            return None
        token = uuid.uuid4().hex
        claimed = RunItem.objects.filter(pk__in=ids, state=ItemState.QUEUED).update(
            state=ItemState.PROCESSING,
            worker=worker[:120],
            claim_token=token,
            started_at=now,
            claim_expires_at=now + timedelta(seconds=settings.CASCADE_CLAIM_TIMEOUT),
            attempts=F("attempts") + 1,
        )
        if not claimed:
            return None
        RunStage.objects.filter(run=run, number=stage).update(
            in_progress_count=F("in_progress_count") + claimed
        )
        _bump(run)
        _save_run(run)
        _announce(run.pk)
    items = list(RunItem.objects.filter(claim_token=token).order_by("position"))
    return Claim(run_id, stage, token, items)


def claimable_batches(run_id: Any) -> int:
    """How many batches of the run's current stage could be claimed right now."""
    run = (
        AutomationRun.objects.filter(pk=run_id).values("status", "current_stage", "config").first()
    )
    if not run or run["status"] != RunStatus.RUNNING or not run["current_stage"]:
        return 0
    stage = run["current_stage"]
    waiting = (
        RunItem.objects.filter(run_id=run_id, stage=stage, state=ItemState.QUEUED)
        .exclude(not_before__gt=timezone.now())
        .count()
    )
    return math.ceil(waiting / batch_size(stage, run["config"]))


@contextmanager
def keep_claims_fresh(token: str) -> Iterator[None]:
    """A live worker keeps extending its claim while an item takes longer than the timeout."""
    stop = threading.Event()
    period = max(0.2, settings.CASCADE_CLAIM_TIMEOUT / 3)

    def beat() -> None:
        try:
            while not stop.wait(period):
                RunItem.objects.filter(claim_token=token, state=ItemState.PROCESSING).update(
                    claim_expires_at=timezone.now()
                    + timedelta(seconds=settings.CASCADE_CLAIM_TIMEOUT)
                )
        except Exception:
            log.exception("claim heartbeat failed")
        finally:
            close_old_connections()

    thread = threading.Thread(target=beat, name=f"claim-heartbeat-{token[:6]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# --- processing ---------------------------------------------------------------------------------


def _context(run: AutomationRun) -> StageContext:
    site = run.site
    return StageContext(
        site_id=site.pk,
        config=run.config,
        provider=get_provider(site.account),
        profile=SiteProfile(
            name=site.name, tone=site.tone, audience=site.audience, language=site.language
        ),
    )


def process_claim(claim: Claim) -> None:
    run = AutomationRun.objects.select_related("site__account").get(pk=claim.run_id)
    stage = STAGES[claim.stage]
    try:
        ctx = _context(run)
    except ProviderUnavailable as exc:  # e.g. no API key at all
        _release(claim.items, claim.token)
        _pause_for_provider(run, str(exc))
        return
    groups = [claim.items] if stage.together else [[item] for item in claim.items]
    with keep_claims_fresh(claim.token):
        for i, group in enumerate(groups):
            status = (
                AutomationRun.objects.filter(pk=claim.run_id)
                .values_list("status", flat=True)
                .first()
            )
            if status != RunStatus.RUNNING:
                # Pause and cancel take effect at item boundaries: what has not started goes back.
                _release([it for g in groups[i:] for it in g], claim.token)
                return
            if not _process_group(run, ctx, stage, claim.token, group):
                _release([it for g in groups[i + 1 :] for it in g], claim.token)
                return


def _simulate_latency(stage: int, count: int, provider: Any) -> None:
    seconds = settings.CASCADE_AI_LATENCY.get(stage, 0.0) * count
    if seconds > 0 and getattr(provider, "is_offline", False):
        time.sleep(seconds)


def _process_group(
    run: AutomationRun, ctx: StageContext, stage: Stage, token: str, group: list[RunItem]
) -> bool:
    """Process one unit (an item, or a whole batch for batch stages). False: stop this claim."""
    objects = stage.load([it.object_id for it in group])
    found = {o.pk for o in objects}
    gone = [it for it in group if it.object_id not in found]
    if gone:
        _fail(run, stage, token, gone, "The source row no longer exists.", final=True)
        group = [it for it in group if it.object_id in found]
        if not group:
            return True
    cost = stage.cost(ctx, objects)
    if not _reserve(run, stage.number, token, group, cost):
        _release(group, token)
        limit = run.config.get("max_credits_per_run")
        message = (
            f"The run reached its limit of {limit} credits."
            if _over_run_limit(run, cost)
            else f"Not enough credits: {cost} needed for the next item."
        )
        try:
            pause_run(run.pk, PauseReason.INSUFFICIENT_CREDITS, message)
        except InvalidTransition:
            pass
        return False
    try:
        _simulate_latency(stage.number, len(group), ctx.provider)
        with usage.measure() as used:
            result = stage.process(ctx, objects)
        _commit(run, ctx, stage, token, group, objects, result, used)
    except LostClaim:
        log.warning("claim %s expired before commit; another worker redoes its items", token[:8])
    except ProviderUnavailable as exc:
        _release(group, token)
        _pause_for_provider(run, str(exc))
        return False
    except ProviderRefused as exc:
        _fail(run, stage, token, group, f"The AI provider refused the request: {exc}", final=True)
    except Exception as exc:  # a failing item never fails the run
        message = str(exc) if isinstance(exc, StageError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, StageError):
            log.info("stage %s item failed: %s", stage.number, message)
        if _fail(run, stage, token, group, message, final=False):
            _pause_for_provider(
                run,
                f"The AI provider failed {settings.CASCADE_PROVIDER_FAILURE_LIMIT} times in a row; last error: {message}",
            )
            return False
    return True


def _over_run_limit(run: AutomationRun, cost: int) -> bool:
    limit = run.config.get("max_credits_per_run")
    if not limit:
        return False
    used = AutomationRun.objects.filter(pk=run.pk).values_list("credits_used", flat=True).get()
    reserved = sum(
        RunItem.objects.filter(run=run, state=ItemState.PROCESSING).values_list(
            "reserved_credits", flat=True
        )
    )
    return used + reserved + cost > limit


def _reserve(run: AutomationRun, stage: int, token: str, group: list[RunItem], cost: int) -> bool:
    if cost <= 0:
        return True
    with transaction.atomic():
        if _over_run_limit(run, cost):
            return False
        if not credits.reserve(run.site.account_id, cost):
            return False
        # Recorded in the same transaction as the debit, so an expired claim can give it back.
        RunItem.objects.filter(pk=group[0].pk, claim_token=token).update(reserved_credits=cost)
    return True


def _commit(
    run: AutomationRun,
    ctx: StageContext,
    stage: Stage,
    token: str,
    group: list[RunItem],
    objects: list[Any],
    result: Any,
    used: usage.Usage | None = None,
) -> None:
    """Outputs, done marks, counters, credits and version in one transaction."""
    ids = [it.pk for it in group]
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(run.pk)
        reserved = sum(
            RunItem.objects.filter(
                pk__in=ids, claim_token=token, state=ItemState.PROCESSING
            ).values_list("reserved_credits", flat=True)
        )
        done = RunItem.objects.filter(
            pk__in=ids, claim_token=token, state=ItemState.PROCESSING
        ).update(
            state=ItemState.DONE,
            finished_at=now,
            claim_token="",
            claim_expires_at=None,
            reserved_credits=0,
        )
        if done != len(ids):
            raise LostClaim(token)
        applied = stage.apply(ctx, objects, result)
        # A provider that reports its usage is paid by it; the offline provider by the table.
        cost = credits_for_usage(used) if used is not None and used.measured else applied.credits
        if used is not None and used.measured:
            RunItem.objects.filter(pk=ids[0]).update(
                prompt_tokens=used.prompt_tokens, completion_tokens=used.completion_tokens
            )
        charged = credits.settle(run.site.account_id, reserved, cost)
        if charged:
            LedgerEntry.objects.create(
                account_id=run.site.account_id,
                run_id=run.pk,
                stage=stage.number,
                credits=charged,
                reason=f"{stage.name}: {len(ids)} item(s)",
            )
        row = RunStage.objects.select_for_update().get(run_id=run.pk, number=stage.number)
        since = row.last_completion_at or row.started_at or now
        interval = max(0.0, (now - since).total_seconds()) / len(ids)
        row.recent_intervals = (list(row.recent_intervals) + [round(interval, 4)])[
            -INTERVAL_WINDOW:
        ]
        row.last_completion_at = now
        row.processed_count += len(ids)
        row.in_progress_count -= len(ids)
        row.output_count += applied.outputs
        row.credits_used += charged
        row.save(
            update_fields=[
                "recent_intervals",
                "last_completion_at",
                "processed_count",
                "in_progress_count",
                "output_count",
                "credits_used",
            ]
        )
        locked.credits_used += charged
        locked.consecutive_failures = 0
        _bump(locked)
        _save_run(locked, "credits_used", "consecutive_failures")
        locked.refresh_from_db(fields=["version"])
        _settle(locked, row.in_progress_count)
        _announce(run.pk)


def _release(items: list[RunItem], token: str) -> None:
    """Put claimed items that were not worked on back in the queue, as if never claimed."""
    if not items:
        return
    with transaction.atomic():
        run = _locked(items[0].run_id)
        mine = RunItem.objects.filter(
            pk__in=[it.pk for it in items], claim_token=token, state=ItemState.PROCESSING
        )
        _requeue(run, mine, items[0].stage)


def _requeue(run: AutomationRun, claimed, stage: int, why: str = "") -> int:
    """Inside the run's transaction: claimed items go back to the queue as if never claimed
    (their reserved credits are given back); returns how many."""
    refund = sum(claimed.values_list("reserved_credits", flat=True))
    count = claimed.update(
        state=ItemState.QUEUED,
        claim_token="",
        worker="",
        claim_expires_at=None,
        reserved_credits=0,
        attempts=Greatest(F("attempts") - 1, 0),
    )
    if not count:
        return 0
    credits.give_back(
        Account.objects.filter(sites__runs=run).values_list("pk", flat=True).get(), refund
    )
    row = RunStage.objects.select_for_update().get(run=run, number=stage)
    row.in_progress_count -= count
    row.save(update_fields=["in_progress_count"])
    if why:
        _event(run.pk, EventKind.ITEM_RECLAIMED, f"{count} item(s) {why}", stage=stage)
    _bump(run)
    _save_run(run)
    run.refresh_from_db(fields=["version"])
    _settle(run, row.in_progress_count)
    _announce(run.pk)
    return count


def _fail(
    run: AutomationRun, stage: Stage, token: str, group: list[RunItem], message: str, *, final: bool
) -> bool:
    """Record a failed attempt. The item is retried with backoff, or failed for good after its
    last attempt. Returns True when the provider has now failed too many times in a row."""
    ids = [it.pk for it in group]
    now = timezone.now()
    too_many = False
    with transaction.atomic():
        locked = _locked(run.pk)
        mine = list(
            RunItem.objects.filter(pk__in=ids, claim_token=token, state=ItemState.PROCESSING)
        )
        if not mine:
            return False
        credits.give_back(run.site.account_id, sum(it.reserved_credits for it in mine))
        if not final:
            locked.consecutive_failures += 1
        too_many = locked.consecutive_failures >= settings.CASCADE_PROVIDER_FAILURE_LIMIT
        failed = 0
        for item in mine:
            attempts = item.attempts
            # Only burn an item when the provider has answered others since its first attempt:
            # if every call failed, the provider is the problem, not the item.
            evidence = locked.consecutive_failures < attempts
            if final or (attempts >= settings.CASCADE_MAX_ATTEMPTS and evidence and not too_many):
                item.state, item.finished_at = ItemState.FAILED, now
                failed += 1
                _event(
                    run.pk,
                    EventKind.ITEM_FAILED,
                    f"{item.title}: {message}",
                    stage=stage.number,
                    item_id=item.object_id,
                )
            else:
                delay = (
                    settings.CASCADE_RETRY_BACKOFF
                    * (2 ** max(0, attempts - 1))
                    * (0.5 + random.random())
                )
                item.state, item.not_before = ItemState.QUEUED, now + timedelta(seconds=delay)
                if too_many:
                    item.attempts = 0  # the provider's outage is not the item's fault
                _event(
                    run.pk,
                    EventKind.ITEM_RETRIED,
                    f"{item.title}: attempt {attempts} failed ({message}); retrying.",
                    stage=stage.number,
                    item_id=item.object_id,
                )
            item.last_error, item.last_error_at = message[:2000], now
            item.claim_token, item.claim_expires_at, item.reserved_credits = "", None, 0
            item.save(
                update_fields=[
                    "state",
                    "finished_at",
                    "not_before",
                    "attempts",
                    "last_error",
                    "last_error_at",
                    "claim_token",
                    "claim_expires_at",
                    "reserved_credits",
                ]
            )
        row = RunStage.objects.select_for_update().get(run=locked, number=stage.number)
        row.in_progress_count -= len(mine)
        row.failed_count += failed
        row.save(update_fields=["in_progress_count", "failed_count"])
        _bump(locked)
        _save_run(locked, "consecutive_failures")
        locked.refresh_from_db(fields=["version"])
        _settle(locked, row.in_progress_count)
        _announce(run.pk)
    return too_many


def _pause_for_provider(run: AutomationRun, message: str) -> None:
    with transaction.atomic():
        RunItem.objects.filter(run=run, state=ItemState.QUEUED).update(attempts=0, not_before=None)
    try:
        pause_run(run.pk, PauseReason.PROVIDER_UNAVAILABLE, message)
    except InvalidTransition:
        pass


# --- recovering from dead workers ------------------------------------------------------------------

_reclaim_lock = threading.Lock()
_last_reclaim = 0.0


def reclaim_expired(force: bool = False) -> int:
    """Take back items whose worker stopped keeping its claim fresh; give back their credits."""
    global _last_reclaim
    with _reclaim_lock:
        if not force and time.monotonic() - _last_reclaim < 1.0:
            return 0
        _last_reclaim = time.monotonic()
    now = timezone.now()
    stale = (
        RunItem.objects.filter(state=ItemState.PROCESSING, claim_expires_at__lt=now)
        .values_list("claim_token", flat=True)
        .distinct()[:100]
    )
    return sum(_reclaim_token(token, now) for token in list(stale))


def release_orphans() -> int:
    """At start-up: claims held by processes of this host that no longer exist are taken back at
    once instead of after the claim timeout."""
    host = socket.gethostname()
    tokens = set()
    for token, worker in RunItem.objects.filter(
        state=ItemState.PROCESSING, worker__startswith=host + ":"
    ).values_list("claim_token", "worker"):
        try:
            pid = int(worker.split(":")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            tokens.add(token)
    return sum(_reclaim_token(token, None) for token in tokens)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reclaim_token(token: str, expired_before: datetime | None) -> int:
    with transaction.atomic():
        first = (
            RunItem.objects.filter(claim_token=token, state=ItemState.PROCESSING)
            .values("run_id", "stage")
            .first()
        )
        if first is None:
            return 0
        run = _locked(first["run_id"])
        mine = RunItem.objects.filter(claim_token=token, state=ItemState.PROCESSING)
        if expired_before is not None:
            mine = mine.filter(claim_expires_at__lt=expired_before)
        taken = _requeue(run, mine, first["stage"], "taken back from a worker that stopped.")
        if not taken:
            return 0
    log.warning("took back %s item(s) of a stopped worker", taken)
    return taken


def run_until_idle(worker: str | None = None, timeout: float = 600.0) -> None:
    """Work in this thread until no run needs anything (tests, CLI without a server)."""
    deadline = time.monotonic() + timeout
    idle_since = None
    while time.monotonic() < deadline:
        if work_once(worker):
            idle_since = None
            continue
        busy = AutomationRun.objects.filter(status__in=WORKING).exists()
        if not busy:
            return
        idle_since = idle_since or time.monotonic()
        time.sleep(0.05)
    raise TimeoutError("runs did not finish in time")
