"""The shapes of the automation API's answers (contract §5, §6), for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from cascade.automation.progress import iso
from cascade.automation.snapshot import Snapshot, StageProgress
from cascade.lib.schemas import Error

__all__ = ["Snapshot"]  # the API answers the snapshot in its one shape


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
