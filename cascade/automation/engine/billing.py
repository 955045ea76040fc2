"""What runs cost: credits held before an AI call, the charge when its item commits, a run's own
credit limit, and runs that paused for credits resuming once the account is topped up."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.dispatch import receiver

from cascade.accounts import credits
from cascade.accounts.signals import credits_added
from cascade.automation.engine.errors import InvalidTransition, LostClaim
from cascade.automation.engine.lifecycle import pause_run, resume_run
from cascade.automation.models import AutomationRun, RunItem
from cascade.automation.signals import tell_other_processes
from cascade.automation.statuses import ItemState, PauseReason, RunStatus

log = logging.getLogger("cascade.engine")


def over_run_limit(run: AutomationRun, cost: int) -> bool:
    """Whether `cost` more credits would take the run past its configured maximum."""
    limit = run.config.get("max_credits_per_run")
    if not limit:
        return False
    used = AutomationRun.objects.filter(pk=run.pk).values_list("credits_used", flat=True).get()
    held = (
        RunItem.objects.filter(run=run, state=ItemState.PROCESSING).aggregate(
            total=Sum("reserved_credits")
        )["total"]
        or 0
    )
    return used + held + cost > limit


def reserve(run: AutomationRun, token: str, items: list[RunItem], cost: int) -> int | None:
    """Hold `cost` credits for the claimed items' work; the credits held, or None when the run
    or account cannot pay. The hold is recorded on the first item in the same transaction, so an
    expired claim gives it back; a claim already taken back holds nothing (`LostClaim`). The
    item's row is written before the account's, in the order reclaiming takes them."""
    if cost <= 0:
        return 0
    with transaction.atomic():
        if over_run_limit(run, cost):
            return None
        mine = RunItem.objects.filter(pk=items[0].pk, claim_token=token)
        if not mine.update(reserved_credits=cost):
            raise LostClaim(token)
        if not credits.hold(run.site.account_id, cost):
            transaction.set_rollback(True)
            return None
    return cost


def pause_for_credits(run: AutomationRun, cost: int) -> None:
    limit = run.config.get("max_credits_per_run")
    if over_run_limit(run, cost):
        message = f"The run reached its limit of {limit:,} credits."
    else:
        message = f"Not enough credits: {cost:,} needed for the next item."
    try:
        pause_run(run.pk, PauseReason.INSUFFICIENT_CREDITS, message)
    except InvalidTransition:
        pass


def resume_runs_waiting_for_credits(account_id: int) -> int:
    """Resume the account's runs that paused, or are pausing, for credits; returns how many.
    (A run still finishing its items when the credits come is pausing: it goes on running.)"""
    waiting = AutomationRun.objects.filter(
        site__account_id=account_id,
        status__in=[RunStatus.PAUSED, RunStatus.PAUSING],
        pause_reason=PauseReason.INSUFFICIENT_CREDITS,
    ).values_list("pk", flat=True)
    resumed = 0
    for run_id in list(waiting):
        try:
            resume_run(run_id)
            resumed += 1
        except InvalidTransition:
            pass
    return resumed


@receiver(credits_added)
def _resume_after_top_up(sender: Any, account_id: int, **kwargs: Any) -> None:
    tell_other_processes(f"account:{account_id}")  # their pages enable Run Now again
    resumed = resume_runs_waiting_for_credits(account_id)
    if resumed:
        log.info("resumed %s run(s) of account %s after a top-up", resumed, account_id)
