"""What the Automation page and a run's detail page put beside the snapshot: the words and
flags their templates read (badges, the headline, the two parts of a stage bar, the window
title). Typed and frozen like the snapshot, made from it without a query and without copying
it; every number is the snapshot's (a stage bar's two parts split its own percentage)."""

from __future__ import annotations

from collections.abc import Sequence

from cascade.automation.snapshot import (
    ErrorGroup,
    Frozen,
    GlobalProgress,
    Metrics,
    RunState,
    Snapshot,
    StageProgress,
)
from cascade.automation.stages import registry
from cascade.automation.statuses import (
    STAGE_DONE,
    WORKING,
    DisplayStatus,
    PauseReason,
    RunStatus,
    StageStatus,
    display_status,
)
from cascade.automation.wording import MEASURE, headline, items_done, skip_reason, what_items_are

ICONS = {
    DisplayStatus.PENDING: "○",
    DisplayStatus.ACTIVE: "▶",
    DisplayStatus.FINISHING: "▶",
    DisplayStatus.PAUSING: "❚❚",
    DisplayStatus.PAUSED: "❚❚",
    DisplayStatus.COMPLETED: "✓",
    DisplayStatus.PARTIAL: "!",
    DisplayStatus.SKIPPED: "↷",
    DisplayStatus.CANCELLED: "✕",
    DisplayStatus.FAILED: "!",
}

# Run statuses in which an active stage's items are in flight, so its duration counts up.
TICKING = WORKING - {RunStatus.QUEUED}


class Card(StageProgress):
    """A stage as its card shows it: the snapshot's numbers for the stage, and its words."""

    display_status: DisplayStatus
    badge: str
    icon: str
    noun: str  # what the stage takes in, plural ("keywords")
    done_fill: int  # percent of the bar drawn as done...
    failed_fill: int  # ...and as failed (red): together, the stage's progress percentage
    ticking: bool  # its duration counts up in the browser (items in flight, run not halted)
    is_pending: bool
    is_skipped: bool
    skip_reason: str = ""
    waiting: int = 0  # between runs: items of its kind waiting for the next run
    starting: Card | None = None  # what Run Now turns the card into, shown during the click


class FailureGroup(ErrorGroup):
    """Failed items grouped by message, with the stage they failed in."""

    of: StageProgress


class Board(Frozen):
    """A run as the page shows it: the snapshot, its stages as cards, and the words around."""

    snapshot: Snapshot
    cards: list[Card]
    current: Card | None  # the stage at work while the run is active
    failure_groups: list[FailureGroup]
    headline: str  # the whole-run figure (`wording.headline`)
    items_text: str
    items_explained: str
    aria_text: str
    title: str  # the window's title
    stage_count: int
    review_ready: int  # articles the run put up for review

    @property
    def run(self) -> RunState:
        return self.snapshot.run

    @property
    def not_ready(self) -> str:
        """For a cancelled run that wrote articles before its review gate was done: where the
        ones not up for review are (the stages after stage 4 left them in their queues); else
        "". No count: this run's review gate also takes articles of earlier runs."""
        unit, gate = self.global_progress.unit, self.snapshot.stages[-1]
        if self.run.status != RunStatus.CANCELLED or not unit.done or gate.status in STAGE_DONE:
            return ""
        made = registry()[unit.stage].makes.many
        return (
            f"The {made} it wrote that are not ready for review wait for the stages it did not "
            "finish: Run Now continues them."
        )

    @property
    def global_progress(self) -> GlobalProgress:
        return self.snapshot.global_progress

    @property
    def metrics(self) -> Metrics:
        return self.snapshot.metrics

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def is_active(self) -> bool:
        return self.snapshot.run.is_active

    @property
    def is_finished(self) -> bool:
        return self.snapshot.run.is_finished

    @property
    def measure(self) -> str:
        """What the percentage counts."""
        return MEASURE

    @property
    def needs_credits(self) -> bool:
        """Paused until the account has credits again (the run resumes by itself)."""
        run = self.snapshot.run
        return run.is_active and run.pause_reason == PauseReason.INSUFFICIENT_CREDITS


def card(stage: StageProgress, run_status: str, why_skipped: str = "") -> Card:
    shown = display_status(stage, run_status)
    spec = registry()[stage.number]
    entered, done = stage.input_count, stage.processed_count
    done_fill = 100 * done // entered if entered else stage.progress_percentage
    return Card.model_construct(
        **stage.__dict__,
        display_status=shown,
        badge=shown.label,
        icon=ICONS[shown],
        noun=spec.noun.many,
        done_fill=done_fill,
        failed_fill=stage.progress_percentage - done_fill,
        ticking=stage.status == StageStatus.ACTIVE and run_status in TICKING,
        is_pending=stage.status == StageStatus.PENDING,
        is_skipped=shown == DisplayStatus.SKIPPED,
        skip_reason=why_skipped,
    )


def _skip_reasons(snapshot: Snapshot, enabled: Sequence[bool]) -> dict[int, str]:
    """Why each skipped stage did not run: turned off, or fed nothing by its source stage."""
    by_number = {s.number: s for s in snapshot.stages}
    reasons = {}
    for stage in snapshot.stages:
        if stage.status != StageStatus.SKIPPED:
            continue
        spec = registry()[stage.number]
        source = by_number.get(spec.inflow.source) if spec.inflow else None
        n = stage.number
        reasons[n] = skip_reason(n, n <= len(enabled) and not enabled[n - 1], source)
    return reasons


def board(snapshot: Snapshot, enabled: Sequence[bool] = ()) -> Board:
    """The page's view of `snapshot`; `enabled` is the run's stages_enabled configuration."""
    run, g = snapshot.run, snapshot.global_progress
    reasons = _skip_reasons(snapshot, enabled)
    cards = [card(s, run.status, reasons.get(s.number, "")) for s in snapshot.stages]
    current = next((c for c in cards if c.number == run.current_stage), None)
    current = current if run.is_active else None
    count, left = len(cards), g.estimated_remaining_time
    items_text = items_done(g)
    if run.is_finished:
        aria_text = f"{run.status_text}: {items_text}"
        title = f"{run.status_text} · Cascade"
    else:
        where = f"stage {current.number} of {count}" if current else "starting"
        aria_text = f"{g.percentage} %, {where}" + (
            f", about {left.lstrip('~')} left" if left else ""
        )
        at = f" · Stage {current.number}/{count}" if current else ""
        title = (
            f"Paused · {g.percentage} % · Cascade"
            if run.is_halting
            else f"{g.percentage} %{at} · Cascade"
        )
    by_number = {s.number: s for s in snapshot.stages}
    groups = [
        FailureGroup.model_construct(**group.__dict__, of=by_number[group.stage])
        for group in snapshot.metrics.error_groups
    ]
    return Board.model_construct(
        snapshot=snapshot,
        cards=cards,
        current=current,
        failure_groups=groups,
        headline=headline(snapshot),
        items_text=items_text,
        items_explained=what_items_are(),
        aria_text=aria_text,
        title=title,
        stage_count=count,
        review_ready=snapshot.stages[-1].output_count,
    )
