"""Claims and leases: which worker is processing which items.

A claim is a conditional update of queued items under the run's row lock (SKIP LOCKED on
PostgreSQL); its row count says who won. A claim expires unless its worker keeps it fresh, and
expired claims (or claims of processes that no longer exist) are taken back, with their held
credits, so a killed worker loses nothing."""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from cascade.accounts import credits
from cascade.automation.engine import suspects
from cascade.automation.engine.lifecycle import settle
from cascade.automation.engine.records import announce, bump, event, locked, save_run
from cascade.automation.models import AutomationRun, EventKind, RunItem, RunStage
from cascade.automation.stages import registry
from cascade.automation.statuses import ItemState, RunStatus

log = logging.getLogger("cascade.engine")


@functools.cache
def _machine() -> str:
    """Where this process's ids mean something: the host name, and the process-id namespace
    where there is one (containers on one host that share its name never judge each other's
    ids; two machines of one name still would, as before)."""
    try:
        return f"{socket.gethostname()}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return socket.gethostname()


def process_name() -> str:
    """This process, as its claims and its heartbeat name it."""
    return f"{_machine()}:{os.getpid()}"


def worker_name() -> str:
    return f"{process_name()}:{threading.get_ident()}"


@dataclass
class Claim:
    run_id: Any
    stage: int
    token: str
    items: list[RunItem]
    run: AutomationRun  # as the claim left it, with its site and account


def claim_items(run_id: Any, worker: str) -> Claim | None:
    """Claim the next batch of the active stage. The run row is locked, so a pause or cancel
    either happens before (nothing is claimed) or after (the claim is in flight and finishes)."""
    with suspects.turn:
        if suspects.solo_in_flight():
            return None  # this process tries a suspect alone (engine/suspects.py)
        return _claim(run_id, worker)


def _claim(run_id: Any, worker: str) -> Claim | None:
    now = timezone.now()
    with transaction.atomic():
        run = locked(run_id, "site__account")  # (the site and account: for the work)
        if run.status != RunStatus.RUNNING or not run.current_stage:
            return None
        stage = run.current_stage
        batch = registry().batch_size(stage, run.config)
        items, suspect = suspects.next_items(run, stage, now, batch)
        if not items:
            return None
        token = uuid.uuid4().hex
        taken = {
            "state": ItemState.PROCESSING,
            "worker": worker[:120],
            "claim_token": token,
            "started_at": now,
            "claim_expires_at": now + timedelta(seconds=settings.CASCADE_CLAIM_TIMEOUT),
        }
        # By id alone: the rows are this transaction's (the run row is locked, and the rows
        # too on PostgreSQL); a state condition here led SQLite to scan every queued item.
        claimed = RunItem.objects.filter(pk__in=[it.pk for it in items]).update(
            **taken,
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), Value(now)),
        )
        if claimed != len(items):  # (not under these locks; if ever, nothing is claimed)
            transaction.set_rollback(True)
            return None
        for item in items:  # the rows as the update left them, without reading them again
            for field, value in taken.items():
                setattr(item, field, value)
            item.attempts += 1
            item.first_attempt_at = item.first_attempt_at or now
        RunStage.objects.filter(run=run, number=stage).update(
            in_progress_count=F("in_progress_count") + claimed
        )
        bump(run)
        save_run(run)
        announce(run)
        suspects.took(token, suspect)
    items.sort(key=lambda it: it.position)
    return Claim(run_id, stage, token, items, run)


def claimable_batches(run_id: Any) -> int:
    """How many batches of the run's current stage could be claimed right now."""
    run = (
        AutomationRun.objects.filter(pk=run_id).values("status", "current_stage", "config").first()
    )
    if not run or run["status"] != RunStatus.RUNNING or not run["current_stage"]:
        return 0
    stage = run["current_stage"]
    batch = registry().batch_size(stage, run["config"])
    return suspects.claimable(run_id, stage, batch, timezone.now())


def release(items: list[RunItem], token: str) -> None:
    """Put claimed items that were not worked on back in the queue, as if never claimed."""
    if not items:
        return
    with transaction.atomic():
        run = locked(items[0].run_id)
        mine = RunItem.objects.filter(
            pk__in=[it.pk for it in items], claim_token=token, state=ItemState.PROCESSING
        )
        requeue(run, mine, items[0].stage)


def requeue(run: AutomationRun, claimed: Any, stage: int, why: str = "") -> int:
    """Inside the run's transaction: claimed items go back to the queue as if never claimed
    (their held credits are released); returns how many."""
    held = claimed.aggregate(total=Sum("reserved_credits"))["total"] or 0
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
    account_id = AutomationRun.objects.filter(pk=run.pk).values_list("site__account_id").get()[0]
    credits.release(account_id, held)
    row = RunStage.objects.select_for_update().get(run=run, number=stage)
    row.in_progress_count -= count
    row.save(update_fields=["in_progress_count"])
    if why:
        event(run.pk, EventKind.ITEM_RECLAIMED, f"{count} item(s) {why}", stage=stage)
    bump(run)
    save_run(run)
    settle(run, row.in_progress_count)
    announce(run)
    return count


_reclaim_lock = threading.Lock()
_last_reclaim = 0.0


def reclaim_expired(force: bool = False) -> int:
    """Take back items whose worker stopped keeping its claim fresh, at most once a second per
    process unless forced."""
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
    tokens = list(stale)
    lone = suspects.alone(tokens)
    return sum(_reclaim_token(token, now, token in lone) for token in tokens)


def release_orphans() -> int:
    """At start-up: claims held by processes of this host (and process-id namespace) that no
    longer exist are taken back at once instead of after the claim timeout."""
    tokens = set()
    for token, worker in RunItem.objects.filter(
        state=ItemState.PROCESSING, worker__startswith=_machine() + ":"
    ).values_list("claim_token", "worker"):
        try:
            pid = int(worker.split(":")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            tokens.add(token)
    lone = suspects.alone(tokens)
    return sum(_reclaim_token(token, None, token in lone) for token in tokens)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reclaim_token(token: str, expired_before: datetime | None, alone: bool) -> int:
    """Take back a stopped worker's claim: a stop counts against each of its items, and an
    item fails as poison at its last stop if it was alone in its process (engine/suspects.py)."""
    with transaction.atomic():
        first = (
            RunItem.objects.filter(claim_token=token, state=ItemState.PROCESSING)
            .values("run_id", "stage")
            .first()
        )
        if first is None:
            return 0
        run = locked(first["run_id"])
        mine = RunItem.objects.filter(claim_token=token, state=ItemState.PROCESSING)
        if expired_before is not None:
            mine = mine.filter(claim_expires_at__lt=expired_before)
        mine.update(worker_stops=F("worker_stops") + 1)
        limit = settings.CASCADE_MAX_ATTEMPTS
        doomed = mine.filter(worker_stops__gte=limit) if alone else mine.none()
        failed = fail_poison(run, doomed, first["stage"])
        taken = requeue(run, mine, first["stage"], "taken back from a worker that stopped.")
    if taken or failed:
        log.warning("took back %s item(s) of a stopped worker, failed %s", taken, failed)
    return taken + failed


def fail_poison(run: AutomationRun, items: Any, stage: int) -> int:
    """Inside the run's transaction: claimed items whose processing stopped worker after worker
    fail with that reason (their held credits are released), so they stop no more; the run goes
    on with the rest."""
    rows = list(items.values_list("pk", "title", "object_id", "reserved_credits", "worker_stops"))
    if not rows:
        return 0
    now = timezone.now()
    message = (
        f"stopped its worker {rows[0][4]} times (it may crash the AI library or exhaust memory)"
    )
    count = items.update(
        state=ItemState.FAILED,
        finished_at=now,
        claim_token="",
        worker="",
        claim_expires_at=None,
        reserved_credits=0,
        last_error=message,
        last_error_at=now,
    )
    account_id = AutomationRun.objects.filter(pk=run.pk).values_list("site__account_id").get()[0]
    credits.release(account_id, sum(r[3] for r in rows))
    row = RunStage.objects.select_for_update().get(run=run, number=stage)
    row.in_progress_count -= count
    row.failed_count += count
    row.save(update_fields=["in_progress_count", "failed_count"])
    for _, title, object_id, _, _ in rows:
        event(run.pk, EventKind.ITEM_FAILED, f"{title}: {message}", stage, object_id)
    bump(run)
    save_run(run)
    settle(run, row.in_progress_count)
    announce(run)
    return count
