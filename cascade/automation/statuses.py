"""Every status of a run, its stages and items, with the rules that go with them: which
statuses hold a site, which are final, what a person may do in each, how a finished run's work
went, and what a stage's badge says. The models store these values; the engine, the snapshot,
the page, the API and the CLI all take their rules from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from cascade.automation.snapshot import StageProgress


class RunStatus(models.TextChoices):
    QUEUED = "queued"  # created, the engine has not begun it yet
    RUNNING = "running"  # items are being claimed and processed
    PAUSING = "pausing"  # in-flight items finish, nothing new starts
    PAUSED = "paused"  # nothing in flight; see pause_reason
    CANCELLING = "cancelling"  # in-flight items finish, then the run ends
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"  # an engine fault; a failing item never fails a run


# Statuses in which a run holds its site: the database allows one such run per site.
ACTIVE = frozenset(
    {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSING, RunStatus.PAUSED, RunStatus.CANCELLING}
)
# Statuses a run never leaves.
FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED})
# Statuses in which items may be in flight and the engine must keep working on the run.
WORKING = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSING, RunStatus.CANCELLING})
# What a person (or API client) may do to a run in each status. The engine enforces these, the
# API maps a refusal to 409, and the page and CLI offer only what they allow.
PAUSABLE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})  # work is going on or about to
RESUMABLE = frozenset({RunStatus.PAUSING, RunStatus.PAUSED})  # resuming a pausing run undoes it
CANCELLABLE = ACTIVE - {RunStatus.CANCELLING}  # cancelling twice changes nothing
RETRYABLE = FINISHED  # failed items are put through again once their run has ended


class RunAction(models.TextChoices):
    PAUSE = "pause", "Paused"
    RESUME = "resume", "Resumed"
    CANCEL = "cancel", "Cancelled"
    RETRY_FAILED = "retry_failed", "Retried"


ALLOWED_IN = {
    RunAction.PAUSE: PAUSABLE,
    RunAction.RESUME: RESUMABLE,
    RunAction.CANCEL: CANCELLABLE,
    RunAction.RETRY_FAILED: RETRYABLE,
}


def allowed_actions(status: str | None, failed_items: int = 0) -> list[str]:
    """The actions a run in `status` accepts now, in the order the page shows them."""
    return [
        action.value
        for action, statuses in ALLOWED_IN.items()
        if status in statuses and (action != RunAction.RETRY_FAILED or failed_items > 0)
    ]


class PauseReason(models.TextChoices):
    USER = "user", "by a user"
    INSUFFICIENT_CREDITS = "insufficient_credits", "not enough credits"
    # The AI provider failed many times in a row: pause rather than burn the queue.
    PROVIDER_UNAVAILABLE = "provider_unavailable", "the AI provider is unavailable"


class RunOutcome(models.TextChoices):
    """How the work of a finished run went (null while it is active): only `succeeded` is shown
    in the colour of success."""

    SUCCEEDED = "succeeded"  # no item failed
    PARTIAL = "partial"  # some items failed, some succeeded
    FAILED = "failed"  # items failed and none succeeded, or the engine failed
    NOTHING_TO_DO = "nothing_to_do"  # every stage was skipped
    CANCELLED = "cancelled"


def outcome_of(status: str, processed: int, failed: int) -> str | None:
    """The outcome of a run in `status` that did `processed` items and failed `failed`."""
    if status not in FINISHED:
        return None
    if status == RunStatus.CANCELLED:
        return RunOutcome.CANCELLED
    if status == RunStatus.FAILED or (failed and not processed):
        return RunOutcome.FAILED
    if failed:
        return RunOutcome.PARTIAL
    return RunOutcome.SUCCEEDED if processed else RunOutcome.NOTHING_TO_DO


class Trigger(models.TextChoices):
    MANUAL = "manual", "Run Now"
    RETRY = "retry", "retry of failed items"
    SCHEDULED = "scheduled", "schedule"


class StageStatus(models.TextChoices):
    PENDING = "pending"  # not reached yet
    ACTIVE = "active"  # its items are being processed
    COMPLETED = "completed"
    SKIPPED = "skipped"  # nothing to do when reached, or disabled in the run's configuration
    CANCELLED = "cancelled"
    FAILED = "failed"


STAGE_DONE = frozenset({StageStatus.COMPLETED, StageStatus.SKIPPED})


class ItemState(models.TextChoices):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"  # failed after its last attempt


def run_flags(status: str, failed_items: int = 0) -> dict[str, bool]:
    """What a run in `status` is doing and accepts, as the flags the snapshot carries: pages,
    templates and clients read these instead of comparing status words."""
    allowed = allowed_actions(status, failed_items)
    return {
        "is_active": status in ACTIVE,
        "is_finished": status in FINISHED,
        "is_working": status in WORKING,
        "is_running": status == RunStatus.RUNNING,
        "is_paused": status == RunStatus.PAUSED,
        "is_halting": status in (RunStatus.PAUSING, RunStatus.PAUSED),
        "can_pause": RunAction.PAUSE in allowed,
        "can_resume": RunAction.RESUME in allowed,
        "can_cancel": RunAction.CANCEL in allowed,
        "can_retry": RunAction.RETRY_FAILED in allowed,
    }


class DisplayStatus(models.TextChoices):
    """What a stage's badge says: its stored status, refined by the run's (a stage pauses with
    its run; the active stage says "Finishing" once nothing is left to start; a completed stage
    with failures says so)."""

    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    FINISHING = "finishing", "Finishing"
    PAUSING = "pausing", "Pausing"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    PARTIAL = "partial", "Some failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


def display_status(stage: StageProgress, run_status: str) -> DisplayStatus:
    """The badge of a stage (a snapshot's stage) in a run in `run_status`: "Active" while it
    works, "Finishing" in its last items."""
    if stage.status == StageStatus.COMPLETED and stage.failed_count:
        return DisplayStatus.FAILED if not stage.processed_count else DisplayStatus.PARTIAL
    if stage.status != StageStatus.ACTIVE:
        return DisplayStatus(stage.status)
    if run_status in (RunStatus.PAUSING, RunStatus.PAUSED):
        return DisplayStatus(run_status)
    # "Finishing" only in the stage's last items: nothing left to start, and what is in flight
    # is a small part of it (a stage whose items were all claimed at once is still at work).
    nothing_queued = stage.remaining_count == stage.in_progress_count
    last_items = stage.in_progress_count <= max(2, stage.input_count // 10)
    finishing = stage.input_count and nothing_queued and last_items
    return DisplayStatus.FINISHING if finishing else DisplayStatus.ACTIVE
