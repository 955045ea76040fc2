"""The work loop: one step of work on any run that needs it, and a loop that works until every
run is idle (tests, and the CLI when no worker is running)."""

from __future__ import annotations

import random
import time

from cascade.automation.engine.advancing import advance_if_stage_done, begin_run
from cascade.automation.engine.claims import claim_items, reclaim_expired, worker_name
from cascade.automation.engine.processing import process_claim
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import WORKING, RunStatus


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


def run_until_idle(worker: str | None = None, timeout: float = 600.0) -> None:
    """Work in this thread until no run needs anything."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if work_once(worker):
            continue
        if not AutomationRun.objects.filter(status__in=WORKING).exists():
            return
        time.sleep(0.05)
    raise TimeoutError("runs did not finish in time")
