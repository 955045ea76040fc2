"""The snapshot's one shape (contract §4, §5): every number and word about a run, as the API
answers it, the page and the CLI show it and webhooks send it.

`progress` builds it from stored rows (and, for a run not yet created, from the plan Run Now
will store); the API's response schema is generated from it. Frozen: a built snapshot is
shared by every reader of its version."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cascade.automation.statuses import (
    PauseReason,
    RunAction,
    RunOutcome,
    RunStatus,
    StageStatus,
    Trigger,
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ItemRef(Frozen):
    id: int
    title: str


class RunState(Frozen):
    run_id: str
    site_id: int
    status: RunStatus
    outcome: RunOutcome | None  # null while active
    pause_reason: PauseReason | None
    status_text: str
    status_message: str
    trigger: Trigger
    retry_of: str | None
    current_stage: int | None
    actions: list[RunAction]  # what the run accepts now, in the order the page shows them
    # What the run is doing and accepts, for readers that should not compare status words.
    is_active: bool  # holds its site: queued, running, pausing, paused or cancelling
    is_finished: bool  # completed, cancelled or failed: it never changes again
    is_working: bool  # items may be in flight (queued, running, pausing, cancelling)
    is_running: bool
    is_paused: bool
    is_halting: bool  # pausing or paused
    can_pause: bool
    can_resume: bool
    can_cancel: bool
    can_retry: bool  # retry_failed is accepted: the run has ended with failed items
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class Unit(Frozen):
    """The run in the items people count it in: "≈ 174 articles · 34 written"."""

    stage: int
    label: str
    verb: str
    total: int
    done: int
    is_estimate: bool


class GlobalProgress(Frozen):
    total_items: int
    completed_items: int
    failed_items: int
    percentage: int
    total_is_estimate: bool
    estimated_remaining_seconds: float | None
    estimated_remaining_time: str | None
    unit: Unit


class StageProgress(Frozen):
    number: int
    name: str
    status: StageStatus
    input_count: int
    processed_count: int
    failed_count: int
    in_progress_count: int
    remaining_count: int
    output_count: int
    output_label: str
    progress_percentage: int
    expected_total: int  # the input once started; before, what the stage is expected to get
    total_is_estimate: bool
    share: float  # percent of the run's expected work (its part of the bar)
    fill: int  # percent of that part done
    credits_used: int
    duration_seconds: float
    rate_per_minute: float | None
    estimated_remaining_seconds: float | None
    estimated_remaining_time: str | None
    started_at: str | None
    finished_at: str | None
    currently_processing: list[ItemRef]
    up_next: list[ItemRef]


class ErrorItem(Frozen):
    stage: int
    item_id: int
    title: str
    message: str
    at: str | None


class ErrorGroup(Frozen):
    stage: int
    message: str
    count: int
    item_id: int  # one of the items, to show


class Metrics(Frozen):
    credits_used: int
    duration_seconds: float
    errors: list[ErrorItem]
    error_groups: list[ErrorGroup]


class Snapshot(Frozen):
    version: int
    run: RunState
    global_progress: GlobalProgress
    stages: list[StageProgress]
    metrics: Metrics
    initial_snapshot: dict[str, int]
