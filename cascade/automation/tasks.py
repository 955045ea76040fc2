"""Celery tasks: the same engine calls the embedded worker makes, run on Celery workers."""

from __future__ import annotations

import logging

from celery import shared_task

from cascade.automation import engine
from cascade.automation.models import AutomationRun

log = logging.getLogger("cascade.tasks")


@shared_task(name="cascade.kick_run")
def kick_run(run_id: str) -> None:
    """Begin a queued run (if nobody has) and start workers on its current stage."""
    if not AutomationRun.objects.filter(pk=run_id).exists():
        return
    engine.begin_run(run_id)
    fan_out(run_id)


@shared_task(name="cascade.work_run")
def work_run(run_id: str) -> None:
    """Claim and process batches of the run's current stage until none is left, then let exactly
    one caller move the run to its next stage."""
    if not AutomationRun.objects.filter(pk=run_id).exists():
        return
    worker = engine.worker_name()
    while (claim := engine.claim_items(run_id, worker)) is not None:
        engine.process_claim(claim)
    if engine.advance_if_stage_done(run_id):
        fan_out(run_id)


def fan_out(run_id: str) -> int:
    """Queue enough tasks for the claimable batches of the current stage (at most the fan-out)."""
    from django.conf import settings

    batches = engine.claimable_batches(run_id)
    count = min(batches, settings.CASCADE_CELERY_FANOUT)
    for _ in range(count):
        work_run.delay(str(run_id))
    return count
