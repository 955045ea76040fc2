"""Writing a run's row and its journal of events, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from cascade.automation import notices, signals, totals
from cascade.automation.models import AutomationRun, RunEvent, RunStage


def locked(run_id: Any, *related: str) -> AutomationRun:
    """The run's row, locked until the transaction ends: who may change a run is decided here.
    `related` rows (the site, its account) come along, read but not locked."""
    rows = AutomationRun.objects.select_for_update(of=("self",))
    return (rows.select_related(*related) if related else rows).get(pk=run_id)


def bump(run: AutomationRun) -> None:
    """Mark a change of the run's progress; `save_run` writes it. The row is locked (`locked`),
    so the new version is known here and the news of it can carry it."""
    run.version = run.version + 1 if isinstance(run.version, int) else F("version") + 1


def save_run(run: AutomationRun, *fields: str) -> None:
    run.save(update_fields=["version", *fields])
    if "status" in fields:
        notices.tell(run)  # finished or paused: webhooks and email, in this transaction


def event(
    run_id: Any, kind: str, message: str = "", stage: int | None = None, item_id: int | None = None
) -> None:
    RunEvent.objects.create(
        run_id=run_id, kind=kind, message=message[:2000], stage=stage, item_id=item_id
    )


def announce(run: AutomationRun, stages: list[RunStage] | None = None) -> None:
    """The last step of every change to a run, inside its transaction: keep what readers must
    never see go back (`totals.keep_marks`; `stages`: the run's stage rows as this transaction
    saved them, if the caller has them), then tell listeners once it commits."""
    totals.keep_marks(run, stages)
    signals.announce(run)
