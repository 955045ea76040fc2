"""Telling people when a run finishes or pauses: webhooks (`run.finished` with the outcome,
`run.paused` with the reason) and email to owners who opted in (runs that did not succeed, and
pauses). Recorded in the transaction that changes the run, so a notice is kept exactly when the
change is; the notify app sends it from the worker."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from cascade.automation import progress
from cascade.automation.models import AutomationRun
from cascade.automation.snapshot import Snapshot
from cascade.automation.statuses import FINISHED, RunOutcome, RunStatus
from cascade.notify import webhooks
from cascade.notify.models import Event

# What a webhook carries of the snapshot: the run, its numbers, and each stage's outcome.
STAGE_FIELDS = {"number", "name", "status", "processed_count", "failed_count"}
PAYLOAD: Any = {
    "run": True,
    "global_progress": True,
    "metrics": True,
    "stages": {"__all__": STAGE_FIELDS},
}


def _event(status: str) -> str | None:
    if status in FINISHED:
        return Event.RUN_FINISHED
    if status == RunStatus.PAUSED:
        return Event.RUN_PAUSED
    return None


def tell(run: AutomationRun) -> None:
    """Called with the run's new status saved (inside its transaction)."""
    event = _event(run.status)
    told = getattr(run, "_told", None)
    if event is None or told == run.status:
        return
    run._told = run.status  # type: ignore[attr-defined]  # one notice per change
    snapshot = progress.fresh_snapshot(run.pk)
    payload = snapshot.model_dump(mode="json", include=PAYLOAD)
    webhooks.emit(run.site_id, event, payload, email=_email(run, snapshot))


def _email(run: AutomationRun, snapshot: Snapshot) -> tuple[str, str] | None:
    """(subject, body) for the owners, or None when the change is not worth an email."""
    if run.status in FINISHED and run.outcome == RunOutcome.SUCCEEDED:
        return None
    name = run.site.name
    done = snapshot.global_progress.completed_items
    failed = snapshot.global_progress.failed_items
    subject = f"{name}: {snapshot.run.status_text}"
    link = f"{settings.CASCADE_PUBLIC_URL.rstrip('/')}/sites/{run.site_id}/automation/"
    lines = [
        f"Site: {name}",
        f"Run: {run.run_id}",
        f"Status: {snapshot.run.status_text}",
        f"Items done: {done:,}; failed: {failed:,}",
    ]
    if run.status_message:
        lines.append(f"Message: {run.status_message}")
    lines += [
        "",
        f"Open the Automation page: {link}",
        "",
        "You receive this because you asked for email about this account's runs; turn it off "
        "on the site's Notifications page.",
    ]
    return subject, "\n".join(lines)
