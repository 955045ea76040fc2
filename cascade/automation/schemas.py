"""The shapes of the automation API's answers (contract §5, §6), for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from cascade.automation.progress import iso
from cascade.lib.schemas import Error


class ItemRef(Schema):
    id: int
    title: str


class RunOut(Schema):
    run_id: str
    site_id: int
    status: str
    outcome: (
        str | None
    )  # succeeded | partial | failed | nothing_to_do | cancelled; null while active
    pause_reason: str | None
    status_text: str
    status_message: str
    trigger: str
    retry_of: str | None
    current_stage: int | None
    actions: list[str]  # what the run accepts now: pause, resume, cancel, retry_failed
    # What the run is doing and accepts, for clients that should not compare status words.
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


class Unit(Schema):
    """The run in the items people count it in: "≈ 174 articles · 34 written"."""

    stage: int
    label: str
    verb: str
    total: int
    done: int
    is_estimate: bool


class GlobalProgress(Schema):
    total_items: int
    completed_items: int
    failed_items: int
    percentage: int
    total_is_estimate: bool
    estimated_remaining_seconds: float | None
    estimated_remaining_time: str | None
    unit: Unit


class StageProgress(Schema):
    number: int
    name: str
    status: str
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


class ErrorItem(Schema):
    stage: int
    item_id: int
    title: str
    message: str
    at: str | None


class ErrorGroup(Schema):
    stage: int
    message: str
    count: int
    item_id: int  # one of the items, to show


class Metrics(Schema):
    credits_used: int
    duration_seconds: float
    errors: list[ErrorItem]
    error_groups: list[ErrorGroup]


class Snapshot(Schema):
    version: int
    run: RunOut
    global_progress: GlobalProgress
    stages: list[StageProgress]
    metrics: Metrics
    initial_snapshot: dict[str, int]


class OverviewStage(Schema):
    number: int
    name: str
    pending: int
    status: str  # ready | empty
    enabled: bool
    noun: str
    output_label: str


class Estimate(Schema):
    items: int
    credits: int
    seconds: int
    stages: dict[str, int]
    exact: dict[str, bool]
    shares: dict[str, float]
    ratios: dict[str, float]


class Overview(Schema):
    site_id: int
    stages: list[OverviewStage]
    items: int
    estimate: Estimate
    first_batch_credits: int
    next_scheduled_at: datetime | None = None  # the site's schedule, when it has one


class RunCreated(Schema):
    run_id: str
    retry_of: str | None = None


class Conflict(Error):
    run_id: str | None = None


class CreditsRefused(Error):
    needed: int
    balance: int


class CurrentProcessing(Schema):
    run_id: str
    version: int
    stage: StageProgress


class RunSummary(Schema):
    run_id: str
    status: str
    outcome: str | None
    outcome_text: str | None
    trigger: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    items_processed: int
    items_failed: int
    ready_for_review: int
    credits_used: int
    duration_seconds: int | None


class History(Schema):
    count: int
    items: list[RunSummary]


class EventOut(Schema):
    id: int
    at: str | None
    kind: str
    stage: int | None
    item_id: int | None
    message: str

    @staticmethod
    def resolve_at(obj: Any) -> str | None:
        return iso(obj.at)


class Config(Schema):
    stages_enabled: list[bool]
    batch_sizes: dict[str, int]
    ideas_per_cluster: int
    images_per_content: int
    target_words: int
    max_items_per_stage: int | None
    max_credits_per_run: int | None


class SiteSettings(Schema):
    tone: str
    audience: str
    language: str
    target_words: int
