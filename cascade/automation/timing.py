"""Time in a run: durations without paused time, rates, and the time left, which counts down
steadily instead of jumping with every new estimate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from cascade.automation.estimates import expected
from cascade.automation.models import AutomationRun, RunStage
from cascade.automation.stages import registry
from cascade.automation.statuses import FINISHED, RunStatus, StageStatus

# The time left goes up only when the new estimate is this much above the steady countdown
# (more work than thought); smaller differences are absorbed so the clock does not flicker.
JUMP_FACTOR, JUMP_SECONDS = 1.25, 30.0
# And then by at most 30 % of the countdown (read as at least a minute: "< 1 min" covers all
# below), at most once in RISE_EVERY seconds: a person never sees it leap from "< 1 min" to
# "~3 min"; a larger correction is spread over several steps.
RISE, RISE_FLOOR, RISE_EVERY = 1.3, 60.0, 15.0


def elapsed(start: datetime | None, end: datetime | None, paused: float) -> float:
    if start is None:
        return 0.0
    return max(0.0, ((end or timezone.now()) - start).total_seconds() - paused)


def seconds_per_item(run: AutomationRun, active: RunStage | None) -> dict[int, float]:
    """Expected wall seconds per item by stage: the active stage's recent completions once there
    are three, else the run's expectations (earlier runs of the site, or defaults)."""
    per_item = {n: expected(run, n) for n in registry().numbers}
    if active is not None and len(active.recent_intervals) >= 3:
        per_item[active.number] = sum(active.recent_intervals) / len(active.recent_intervals)
    return per_item


def rate(stage: RunStage, seconds: float) -> float | None:
    """Items per minute: from recent completions while active, overall once finished."""
    if stage.status == StageStatus.ACTIVE and len(stage.recent_intervals) >= 3:
        mean = sum(stage.recent_intervals) / len(stage.recent_intervals)
        return round(60.0 / mean, 1) if mean > 0 else None
    settled = stage.processed_count + stage.failed_count
    if stage.status != StageStatus.ACTIVE and settled and seconds > 0:
        return round(60.0 * settled / seconds, 1)
    return None


def stage_time_left(
    stage: RunStage, per_item: dict[int, float], run: AutomationRun
) -> float | None:
    if stage.status != StageStatus.ACTIVE or run.status in FINISHED:
        return None
    if run.status == RunStatus.PAUSED or (len(stage.recent_intervals) < 3 and not run.has_history):
        return None
    return round(
        stage.queued_count * per_item[stage.number]
        + stage.in_progress_count * per_item[stage.number] / 2
    )


def steady(run: AutomationRun, raw: float | None, now: datetime) -> tuple[float | None, bool]:
    """The time left to show, and whether it starts a new countdown (to be remembered): the last
    shown countdown goes on unless the estimate is lower, or clearly higher (then it rises by
    at most 30 %, at most every 15 s)."""
    if raw is None or run.status in FINISHED or run.status == RunStatus.PAUSED:
        return None, False
    if run.eta_seconds is None or run.eta_at is None:
        return raw, True
    since = (now - run.eta_at).total_seconds()
    counting = max(0.0, run.eta_seconds - since)
    if raw < counting:
        return raw, True
    if raw > counting * JUMP_FACTOR + JUMP_SECONDS and since >= RISE_EVERY:
        return min(raw, float(int(max(counting, RISE_FLOOR) * RISE))), True
    return round(counting), False


def remember(run: AutomationRun, percentage: int, eta: float | None, restart: bool) -> Any:
    """What to write back after a read (the percentage's high-water mark, a new countdown)."""
    fields: dict[str, Any] = {}
    if percentage > run.percentage_hwm and run.status != RunStatus.COMPLETED:
        fields["percentage_hwm"] = percentage
    if restart:
        fields["eta_seconds"], fields["eta_at"] = eta, timezone.now()
    return fields
