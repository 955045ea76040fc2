"""Telling people when a run finishes or pauses: webhooks (`run.finished` with the outcome,
`run.paused` with the reason) and email to owners who opted in (runs that did not succeed, and
pauses). Recorded in the transaction that changes the run, so a notice is kept exactly when the
change is; the notify app sends it from the worker."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from cascade.automation import progress
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import FINISHED, RunOutcome, RunStatus
from cascade.notify import webhooks
from cascade.notify.models import Event


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
    doc = progress.fresh_snapshot(run.pk)
    payload = {
        "run": doc["run"],
        "global_progress": doc["global_progress"],
        "metrics": doc["metrics"],
        "stages": [
            {k: s[k] for k in ("number", "name", "status", "processed_count", "failed_count")}
            for s in doc["stages"]
        ],
    }
    webhooks.emit(run.site_id, event, payload, email=_email(run, doc))


def _email(run: AutomationRun, doc: dict[str, Any]) -> tuple[str, str] | None:
    """(subject, body) for the owners, or None when the change is not worth an email."""
    if run.status in FINISHED and run.outcome == RunOutcome.SUCCEEDED:
        return None
    name = run.site.name
    done = doc["global_progress"]["completed_items"]
    failed = doc["global_progress"]["failed_items"]
    subject = f"{name}: {doc['run']['status_text']}"
    link = f"{settings.CASCADE_PUBLIC_URL.rstrip('/')}/sites/{run.site_id}/automation/"
    lines = [
        f"Site: {name}",
        f"Run: {run.run_id}",
        f"Status: {doc['run']['status_text']}",
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
