"""Processing a claim: the AI work outside any transaction, then the item's outputs, its done
mark, the stage's counters, the credits it cost and the run's version in one transaction."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cascade.accounts import credits
from cascade.ai import get_provider, usage
from cascade.ai.base import ProviderError, ProviderRefused, ProviderUnavailable, SiteProfile
from cascade.automation.engine import suspects
from cascade.automation.engine.billing import pause_for_credits, reserve
from cascade.automation.engine.claims import Claim, release
from cascade.automation.engine.errors import LostClaim
from cascade.automation.engine.failures import (
    STORAGE_NOTICE,
    fail,
    is_storage_full,
    pause_for_provider,
    wait_for_storage,
)
from cascade.automation.engine.keeper import keep_claims_fresh
from cascade.automation.engine.lifecycle import settle
from cascade.automation.engine.records import announce, bump, locked, save_run
from cascade.automation.models import AutomationRun, RunItem, RunStage
from cascade.automation.stage_types import Stage, credits_for_usage
from cascade.automation.stages import registry
from cascade.automation.statuses import ItemState, RunStatus
from cascade.automation.steps import StageContext, StageError

log = logging.getLogger("cascade.engine")
INTERVAL_WINDOW = 20  # item completions the ETA looks back over


def _context(run: AutomationRun) -> StageContext:
    site = run.site
    return StageContext(
        site_id=site.pk,
        config=run.config,
        provider=get_provider(site.account),
        profile=SiteProfile(
            name=site.name, tone=site.tone, audience=site.audience, language=site.language
        ),
        run_id=run.pk,
    )


def process_claim(claim: Claim) -> None:
    try:
        _process_claim(claim)
    finally:
        suspects.let_go(claim.token)


def _process_claim(claim: Claim) -> None:
    run = claim.run
    stage = registry()[claim.stage]
    try:
        ctx = _context(run)
    except ProviderUnavailable as exc:  # e.g. no API key at all
        release(claim.items, claim.token)
        pause_for_provider(run, str(exc))
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
                release([it for g in groups[i:] for it in g], claim.token)
                return
            if not _process_group(run, ctx, stage, claim.token, group):
                release([it for g in groups[i + 1 :] for it in g], claim.token)
                return


def _lost(token: str, when: str) -> None:
    log.warning("claim %s expired %s; another worker redoes its items", token[:8], when)


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
        fail(run, stage.number, token, gone, "The source row no longer exists.", final=True)
        group = [it for it in group if it.object_id in found]
        if not group:
            return True
    cost = stage.credits(ctx.config, len(objects), reserve=True)
    try:
        held = reserve(run, token, group, cost)
    except LostClaim:
        _lost(token, "before its credits were held")
        return True
    if held is None:
        release(group, token)
        pause_for_credits(run, cost)
        return False
    try:
        _simulate_latency(stage.number, len(group), ctx.provider)
        with usage.measure() as used:
            result = stage.process(ctx, objects)
        _commit(run, ctx, stage, token, group, objects, result, used, held)
    except LostClaim:
        _lost(token, "before commit")
    except ProviderUnavailable as exc:
        release(group, token)
        pause_for_provider(run, str(exc))
        return False
    except ProviderRefused as exc:
        message = f"The AI provider refused the request: {exc}"
        fail(run, stage.number, token, group, message, final=True)
    except Exception as exc:  # a failing item never fails the run
        if is_storage_full(exc):  # not the item's fault: it waits for space
            wait_for_storage(run, stage.number, token, group)
            return False
        # Words for people: a stage's and a provider's errors say what happened themselves;
        # anything else is unexpected (its class goes to the log, not to the page).
        known = isinstance(exc, (StageError, ProviderError))
        message = str(exc) if known else f"Unexpected error: {exc}"
        if not isinstance(exc, StageError):
            log.info("stage %s item failed: %s: %s", stage.number, type(exc).__name__, exc)
        if fail(run, stage.number, token, group, message, final=False):
            limit = settings.CASCADE_PROVIDER_FAILURE_LIMIT
            pause_for_provider(
                run, f"The AI provider failed {limit} times in a row; last error: {message}"
            )
            return False
    return True


def _commit(
    run: AutomationRun,
    ctx: StageContext,
    stage: Stage,
    token: str,
    group: list[RunItem],
    objects: list[Any],
    result: Any,
    used: usage.Usage,
    held: int,
) -> None:
    """Outputs, done marks, counters, credits and version in one transaction. `held`: the
    credits `reserve` recorded on the group (its items still carry this claim, or it is lost)."""
    ids = [it.pk for it in group]
    now = timezone.now()
    with transaction.atomic():
        locked_run = locked(run.pk)
        mine = RunItem.objects.filter(pk__in=ids, claim_token=token, state=ItemState.PROCESSING)
        done = mine.update(
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
        if used.measured:
            cost = credits_for_usage(used)
            RunItem.objects.filter(pk=ids[0]).update(
                prompt_tokens=used.prompt_tokens, completion_tokens=used.completion_tokens
            )
        else:
            cost = stage.credits({**ctx.config, **applied.priced_as}, len(objects))
        charged = credits.charge(
            run.site.account_id,
            held,
            cost,
            note=f"{stage.name}: {stage.noun.count(len(ids))}",
            run_id=run.pk,
            stage=stage.number,
        )
        stages = list(RunStage.objects.select_for_update().filter(run_id=run.pk).order_by("number"))
        row = next(s for s in stages if s.number == stage.number)
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
        locked_run.credits_used += charged
        locked_run.consecutive_failures, locked_run.last_success_at = 0, now
        cleared = locked_run.status_message.startswith(STORAGE_NOTICE)
        if cleared:  # space again: the notice goes
            locked_run.status_message = ""
        bump(locked_run)
        save_run(
            locked_run,
            "credits_used",
            "consecutive_failures",
            "last_success_at",
            *(["status_message"] if cleared else []),
        )
        status = locked_run.status
        settle(locked_run, row.in_progress_count)
        # The stage rows as saved, unless settling finished the run (and changed them).
        announce(locked_run, stages if locked_run.status == status else None)
