"""Runs, their stages and items: the stored state the engine writes and the snapshot reads."""

from __future__ import annotations

import uuid

from django.db import models

from cascade.accounts.models import Site
from cascade.automation.statuses import (
    ACTIVE,
    ALLOWED_IN,
    FINISHED,
    ItemState,
    PauseReason,
    RunAction,
    RunOutcome,
    RunStatus,
    StageStatus,
    Trigger,
)


class AutomationRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    outcome = models.CharField(  # noqa: DJ001  (null while the run is active, as the API says)
        max_length=16, choices=RunOutcome.choices, null=True, blank=True
    )
    # null, not "": the contract's snapshot says `"pause_reason": null` for a run that is not paused
    pause_reason = models.CharField(  # noqa: DJ001
        max_length=24, choices=PauseReason.choices, null=True, blank=True
    )
    status_message = models.CharField(max_length=500, blank=True)
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    current_stage = models.PositiveSmallIntegerField(null=True, blank=True)
    # Increases with every change of the run's progress; readers drop snapshots older than theirs.
    version = models.BigIntegerField(default=1)
    # The highest percentage any reader was shown, so the bar never goes back.
    percentage_hwm = models.PositiveSmallIntegerField(default=0)
    # The time left last shown, and when: the next reading counts down from it unless the work
    # turns out clearly larger, so "time left" moves steadily.
    eta_seconds = models.FloatField(null=True, blank=True)
    eta_at = models.DateTimeField(null=True, blank=True)
    # What the run was expected to be when it started (items, credits, seconds, per-stage totals
    # and fan-outs), kept to fill in stages not reached yet and to report the estimate's error.
    plan = models.JSONField(default=dict, blank=True)
    credits_used = models.BigIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)  # the last item committed
    initial_snapshot = models.JSONField(default=dict)
    config = models.JSONField(default=dict)  # the site's configuration, frozen at run start
    # Seconds of work per item by stage, frozen at start from earlier runs or defaults: the
    # weights of the global percentage.
    expected_seconds = models.JSONField(default=dict)
    has_history = models.BooleanField(default=False)
    # For a retry run: {stage: [object ids]} that the stage is limited to.
    only_ids = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site"],
                condition=models.Q(status__in=sorted(ACTIVE)),
                name="one_active_run_per_site",
            )
        ]
        indexes = [models.Index(fields=["site", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def run_id(self) -> str:
        return str(self.pk)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def allows(self, action: str) -> bool:
        """Whether the run accepts `action` (a RunAction) in its status now."""
        return self.status in ALLOWED_IN[RunAction(action)]


class RunStage(models.Model):
    """A stage of a run with its stored counters (contract §3); never counted from items on read."""

    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="stages")
    number = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=StageStatus.choices, default=StageStatus.PENDING
    )
    input_count = models.PositiveIntegerField(default=0)
    processed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    in_progress_count = models.PositiveIntegerField(default=0)
    output_count = models.PositiveIntegerField(default=0)
    credits_used = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0.0)
    # Seconds between consecutive item completions (paused time excluded), newest last: the
    # window the ETA is computed from.
    recent_intervals = models.JSONField(default=list)
    last_completion_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="one_row_per_stage")]
        ordering = ["number"]

    def __str__(self) -> str:
        return f"stage {self.number} of {self.run_id}"

    @property
    def queued_count(self) -> int:
        return self.input_count - self.processed_count - self.failed_count - self.in_progress_count


class RunItem(models.Model):
    """One source row (keyword, cluster, idea, ...) that entered a stage of a run."""

    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="items")
    stage = models.PositiveSmallIntegerField()
    object_id = models.BigIntegerField()
    title = models.CharField(max_length=300)
    position = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=ItemState.choices, default=ItemState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Workers that stopped (killed, out of memory, crashed) while holding it: an item that
    # stops every worker that takes it fails at CASCADE_MAX_ATTEMPTS instead of going round.
    worker_stops = models.PositiveSmallIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)  # retry backoff
    worker = models.CharField(max_length=120, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, db_index=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    # Credits taken off the account for this item's AI call and not yet settled: given back if
    # the claim expires, settled when the item commits.
    reserved_credits = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Tokens the AI calls for this item used (recorded on the first item of a batch).
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    last_error_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "stage", "object_id"], name="item_once_per_stage"
            )
        ]
        indexes = [
            # the claim order (fresh items first) and the "up next" list read by it
            models.Index(fields=["run", "stage", "state", "attempts", "position"]),
            models.Index(fields=["state", "claim_expires_at"]),
            models.Index(fields=["run", "last_error_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} (stage {self.stage}, {self.state})"


class EventKind(models.TextChoices):
    """What an entry of a run's journal records."""

    RUN_QUEUED = "run_queued"
    RUN_STARTED = "run_started"
    STAGE_STARTED = "stage_started"
    STAGE_FINISHED = "stage_finished"
    STAGE_SKIPPED = "stage_skipped"
    ITEM_RETRIED = "item_retried"
    ITEM_FAILED = "item_failed"
    ITEM_RECLAIMED = "item_reclaimed"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMED = "resumed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    NOTICE = "notice"  # something a person should know about how the work is done


class RunEvent(models.Model):
    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    stage = models.PositiveSmallIntegerField(null=True, blank=True)
    item_id = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["run", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class AutomationConfig(models.Model):
    """Per-site automation settings; a run freezes a copy when it starts."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="automation_config")
    stages_enabled = models.JSONField(default=list)  # one boolean per stage of the registry
    batch_sizes = models.JSONField(default=dict)  # {"1": 100, ...}; missing stages use defaults
    ideas_per_cluster = models.PositiveSmallIntegerField(default=3)
    images_per_content = models.PositiveSmallIntegerField(default=2)
    target_words = models.PositiveIntegerField(default=1200)
    max_items_per_stage = models.PositiveIntegerField(null=True, blank=True)
    max_credits_per_run = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"automation config of {self.site}"


class StageTiming(models.Model):
    """Seconds per item a stage took on a site, from finished runs: the basis for estimates
    before the current run has measured anything."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="stage_timings")
    stage = models.PositiveSmallIntegerField()
    seconds_per_item = models.FloatField()
    # For a stage whose fan-out is estimated (clusters per keyword): what the last run found
    # against what was estimated for it; estimates of later runs are scaled by it.
    correction = models.FloatField(default=1.0)
    # What the stage's items really cost against the price table's expectation (an article
    # is paid by the words it came to, not by its target).
    credit_ratio = models.FloatField(default=1.0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "stage"], name="one_timing_per_stage")
        ]

    def __str__(self) -> str:
        return f"stage {self.stage} of {self.site}: {self.seconds_per_item:.2f} s per item"


class Schedule(models.Model):
    """When a site's runs start by themselves: a cron expression in a time zone. `next_run_at`
    is the due time the worker processes race for; the one whose conditional update moves it on
    starts the run (or records why it did not), so a due time starts at most one run."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="schedule")
    enabled = models.BooleanField(default=True)
    cron = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC")
    # A due time passed while no process was up: start one run when one comes back (True), or
    # record it as missed (False).
    catch_up = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_due_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.cron} ({self.timezone}) for {self.site}"


# The processes' own records (worker heartbeats, the shared AI rate window), defined beside.
from cascade.automation.process_models import AiRequest, WorkerBeat  # noqa: E402

__all__ = [
    "AiRequest",
    "AutomationConfig",
    "AutomationRun",
    "EventKind",
    "RunEvent",
    "RunItem",
    "RunStage",
    "Schedule",
    "StageTiming",
    "WorkerBeat",
]
