"""The run controls of the Automation page (Run Now, pause, resume, cancel, retry failed),
each enabled or disabled with the reason, from the run status rules of `automation.statuses`:
the server decides, the browser only shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cascade.automation.statuses import ACTIVE, RunAction, RunStatus

if TYPE_CHECKING:
    from cascade.automation.snapshot import Snapshot

LABELS = {
    "run-now": "Run Now",
    RunAction.PAUSE: "Pause",
    RunAction.RESUME: "Resume",
    RunAction.CANCEL: "Cancel",
    RunAction.RETRY_FAILED: "Retry failed",
}
# Why an action the run's status does not allow is disabled, by action.
NOT_NOW = {
    RunAction.PAUSE: "No run is running",
    RunAction.RESUME: "No run is paused",
    RunAction.CANCEL: "No run is active",
    RunAction.RETRY_FAILED: "No failed items",
}


@dataclass
class Control:
    name: str  # the action, as the action view's URL names it ("run-now", "pause", ...)
    label: str
    enabled: bool
    reason: str = ""

    @property
    def testid(self) -> str:
        return self.name.replace("_", "-")


def _disabled_reason(action: str, status: str | None, failed: int) -> str:
    if action == RunAction.PAUSE and status == RunStatus.PAUSING:
        return "Already pausing"
    if action == RunAction.CANCEL and status == RunStatus.CANCELLING:
        return "Already cancelling"
    if action == RunAction.RETRY_FAILED and failed and status in ACTIVE:
        return "Wait until the run has finished"
    return NOT_NOW[RunAction(action)]


def controls(
    run: Snapshot | None, overview: dict | None, available: int, can_operate: bool
) -> list[Control]:
    """The run controls, each enabled or disabled with its reason: the server decides, the
    browser only shows."""
    names = ["run-now", *[a.value for a in RunAction]]
    if not can_operate:
        reason = "Viewers can watch runs but not steer them"
        return [Control(n, LABELS[n], False, reason) for n in names]
    status = run.run.status if run else None
    failed = run.global_progress.failed_items if run else 0
    allowed = {str(a) for a in run.run.actions} if run else set()
    need = overview["first_batch_credits"] if overview else 0
    if status in ACTIVE or overview is None:
        run_now = Control("run-now", LABELS["run-now"], False, "A run is already active")
    elif not overview["items"]:
        run_now = Control("run-now", LABELS["run-now"], False, "Nothing to process")
    elif available < need:
        reason = f"Not enough credits: about {need:,} needed, {available:,} left"
        run_now = Control("run-now", LABELS["run-now"], False, reason)
    else:
        run_now = Control("run-now", LABELS["run-now"], True)
    return [run_now] + [
        Control(a.value, LABELS[a], True)
        if a.value in allowed
        else Control(a.value, LABELS[a], False, _disabled_reason(a, status, failed))
        for a in RunAction
    ]
