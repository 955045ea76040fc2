"""Failed attempts: an item is retried with exponential backoff and jitter, and failed for good
after its last attempt. When the provider fails many times in a row, the run pauses instead of
burning its queue."""

from __future__ import annotations

import errno
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cascade.accounts import credits
from cascade.automation.engine.claims import requeue
from cascade.automation.engine.errors import InvalidTransition
from cascade.automation.engine.lifecycle import pause_run, settle
from cascade.automation.engine.records import announce, bump, event, locked, save_run
from cascade.automation.models import AutomationRun, EventKind, RunItem, RunStage
from cascade.automation.statuses import ItemState, PauseReason

# Different items failing in a row, with no answer from the provider between them, from which
# on the failures look like the provider's (an outage) rather than the items' own.
OUTAGE_ITEMS = 3

RETRY_FIELDS = [
    "state",
    "first_attempt_at",
    "finished_at",
    "not_before",
    "attempts",
    "last_error",
    "last_error_at",
    "claim_token",
    "claim_expires_at",
    "reserved_credits",
]


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base × 2^(attempts-1) × [0.5, 1.5)."""
    return settings.CASCADE_RETRY_BACKOFF * (2 ** max(0, attempts - 1)) * (0.5 + random.random())


def fail(
    run: AutomationRun, stage: int, token: str, group: list[RunItem], message: str, *, final: bool
) -> bool:
    """Record a failed attempt of the claimed items. Returns True when the provider has now
    failed too many times in a row (the caller pauses the run)."""
    now = timezone.now()
    with transaction.atomic():
        locked_run = locked(run.pk)
        mine = list(
            RunItem.objects.filter(
                pk__in=[it.pk for it in group], claim_token=token, state=ItemState.PROCESSING
            )
        )
        if not mine:
            return False
        credits.release(run.site.account_id, sum(it.reserved_credits for it in mine))
        # The provider answered others since these items were first tried: the failure is
        # theirs, not an outage. Only failures without that evidence make a streak that pauses
        # the run, so items that fail every time never pause it.
        answered = locked_run.last_success_at

        def evidence(item: RunItem) -> bool:
            return bool(answered and item.first_attempt_at and answered > item.first_attempt_at)

        # A streak is made of different items failing: a batch, or an item's first attempt;
        # an item's further attempts count once several different items have failed in a row.
        # One or two items failing again and again (the last of a stage, say) fail on their own.
        outage = locked_run.consecutive_failures >= OUTAGE_ITEMS
        different = len(mine) > 1 or mine[0].attempts <= 1
        counted = not final and (different or outage) and not all(evidence(i) for i in mine)
        if counted:
            locked_run.consecutive_failures += 1
        too_many = locked_run.consecutive_failures >= settings.CASCADE_PROVIDER_FAILURE_LIMIT
        failed = 0
        for item in mine:
            # Only burn an item when the provider has answered others since its first attempt
            # (if every call failed, the provider is the problem, not the item), or when it
            # is not part of a streak of different items.
            last = (
                item.attempts >= settings.CASCADE_MAX_ATTEMPTS
                and (evidence(item) or locked_run.consecutive_failures < OUTAGE_ITEMS)
                and not too_many
            )
            if final or last:
                item.state, item.finished_at = ItemState.FAILED, now
                failed += 1
                event(
                    run.pk, EventKind.ITEM_FAILED, f"{item.title}: {message}", stage, item.object_id
                )
            else:
                delay = backoff_seconds(item.attempts)
                item.state, item.not_before = ItemState.QUEUED, now + timedelta(seconds=delay)
                text = f"{item.title}: attempt {item.attempts} failed ({message}); retrying."
                if too_many:
                    # the provider's outage is not the item's fault: its attempts start afresh
                    item.attempts, item.first_attempt_at = 0, None
                event(run.pk, EventKind.ITEM_RETRIED, text, stage, item.object_id)
            item.last_error, item.last_error_at = message[:2000], now
            item.claim_token, item.claim_expires_at, item.reserved_credits = "", None, 0
            item.save(update_fields=RETRY_FIELDS)
        row = RunStage.objects.select_for_update().get(run=locked_run, number=stage)
        row.in_progress_count -= len(mine)
        row.failed_count += failed
        row.save(update_fields=["in_progress_count", "failed_count"])
        bump(locked_run)
        save_run(locked_run, "consecutive_failures")
        settle(locked_run, row.in_progress_count)
        announce(locked_run)
    return too_many


def pause_for_provider(run: AutomationRun, message: str) -> None:
    """Pause with `provider_unavailable`; queued items start their attempts afresh on resume."""
    with transaction.atomic():
        RunItem.objects.filter(run=run, state=ItemState.QUEUED).update(
            attempts=0, not_before=None, first_attempt_at=None
        )
    try:
        pause_run(run.pk, PauseReason.PROVIDER_UNAVAILABLE, message)
    except InvalidTransition:
        pass


# The media storage cannot take a write: the disk is full, over quota or read-only.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
STORAGE_NOTICE = "The media storage is full"


def is_storage_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def wait_for_storage(run: AutomationRun, stage: int, token: str, items: list[RunItem]) -> None:
    """The items go back to the queue without using an attempt and wait a little; the run says
    why on its page until an item of it commits again (then the notice is cleared)."""
    wait = settings.CASCADE_STORAGE_RETRY_SECONDS
    message = (
        f"{STORAGE_NOTICE} (no space left for pictures): stage {stage} retries every "
        f"{wait:g} s. Free some space on the disk of {settings.MEDIA_ROOT}."
    )
    with transaction.atomic():
        locked_run = locked(run.pk)
        mine = RunItem.objects.filter(
            pk__in=[it.pk for it in items], claim_token=token, state=ItemState.PROCESSING
        )
        ids = list(mine.values_list("pk", flat=True))
        requeue(locked_run, mine, stage)
        RunItem.objects.filter(pk__in=ids).update(
            not_before=timezone.now() + timedelta(seconds=wait)
        )
        if locked_run.status_message != message:
            locked_run.status_message = message
            event(run.pk, EventKind.ITEM_RETRIED, message, stage=stage)
            bump(locked_run)
            save_run(locked_run, "status_message")
    announce(locked_run)
