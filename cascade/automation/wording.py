"""What a run is doing and how it went, in words for people. Every number comes from the
snapshot's counters; this module only chooses the words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cascade.automation.stage_types import Noun
from cascade.automation.stages import registry
from cascade.automation.statuses import STAGE_DONE, PauseReason, RunOutcome, RunStatus
from cascade.lib.words import listed

if TYPE_CHECKING:
    from cascade.automation.snapshot import GlobalProgress, Snapshot


def items(count: int, one: str = "item", many: str = "items") -> str:
    """A count and its noun: "1 item", "1,204 items" (as the registry's nouns count)."""
    return Noun(one, many).count(count)


def items_done(g: GlobalProgress) -> str:
    """The run's items in words, beside its percentage: done and failed, without a total (a
    fraction of items would tell another story than the percentage, which weighs each stage by
    its expected time)."""
    text = f"{items(g.completed_items)} done"
    return text + (f" · {g.failed_items:,} failed" if g.failed_items else "")


def headline(snapshot: Snapshot) -> str:
    """The whole-run figure: the percentage while the run goes on and once all of it succeeded;
    for a run that ended otherwise, what it did (never "100 %" for work that failed)."""
    g = snapshot.global_progress
    return f"{g.percentage} %" if shows_percentage(snapshot) else f"{g.completed_items:,} done"


def shows_percentage(snapshot: Snapshot) -> bool:
    """Whether a run's figure is its percentage: while it goes on, and once all of it
    succeeded (a run that ended otherwise is told by what it did)."""
    run = snapshot.run
    return not run.is_finished or run.outcome == RunOutcome.SUCCEEDED


# What a run's percentage counts, wherever it is shown beside its items.
MEASURE = "each stage counts for the time its items are expected to take"


def what_items_are() -> str:
    """What an "item" is: one of the things a stage takes in, counted once."""
    nouns = list(dict.fromkeys(spec.noun.many for spec in registry()))
    return f"Items are the {listed(nouns)} the run handles, each counted once."


def skip_reason(number: int, disabled: bool, source: Any | None) -> str:
    """Why stage `number` of a run did not run, in words: turned off, or fed nothing by the
    stage before it (`source`: that stage of the run, a RunStage or a snapshot's stage), or
    nothing of its kind was waiting."""
    spec = registry()[number]
    if disabled:
        return "disabled in this run's configuration"
    if source is not None and source.status in STAGE_DONE and not source.output_count:
        # What the source stage passes on: what it made, or the items it finished.
        passed = "finished" if spec.inflow and spec.inflow.counts == "processed" else "made"
        why = registry()[source.number].none_made if passed == "made" else ""
        if why and source.processed_count:  # it worked and made nothing: say why
            return f"stage {source.number} made no {spec.noun.many} ({why}) and none were waiting"
        return f"stage {source.number} {passed} no {spec.noun.many} and none were waiting"
    return f"no {spec.noun.many} were waiting"


def elapsed(seconds: float | None) -> str:
    """A time that has passed, as it was: 12.3 -> "12s", 272 -> "4m 32s", 4000 -> "1h 06m"
    (an estimate of time to come reads "~5 min": `human_duration`)."""
    if seconds is None or seconds == "":
        return "—"
    total = int(float(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def human_duration(seconds: float | None) -> str | None:
    """A time to come, as an estimate: "< 1 min", "~5 min", "~1 h 20 min"."""
    if seconds is None:
        return None
    if seconds < 60:
        return "< 1 min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"~{minutes} min"
    return f"~{minutes // 60} h {minutes % 60} min"


def outcome_text(run: Any, stages: list[Any]) -> str:
    """How a finished run went: "Completed", "Completed with 8 failures", "Failed: 0 of 8
    keywords clustered", "Nothing to do", "Cancelled"."""
    failed = sum(s.failed_count for s in stages)
    match run.outcome:
        case RunOutcome.PARTIAL:
            return f"Completed with {items(failed, 'failure', 'failures')}"
        case RunOutcome.FAILED if run.status == RunStatus.FAILED:
            return f"Failed: {run.status_message}" if run.status_message else "Failed"
        case RunOutcome.FAILED:
            first = next(s for s in stages if s.failed_count)
            spec = registry()[first.number]
            return (
                f"Failed: {first.processed_count:,} of {spec.noun.count(first.input_count)} "
                f"{spec.verb}"
            )
        case RunOutcome.NOTHING_TO_DO:
            return "Nothing to do: every stage was empty"
        case RunOutcome.CANCELLED:
            return "Cancelled"
        case _:
            return "Completed"


def status_text(run: Any, stages: list[Any]) -> str:
    """What is really happening, in words (e.g. "Pausing: finishing 2 items")."""
    active = next((s for s in stages if s.number == run.current_stage), None)
    in_flight = active.in_progress_count if active else 0
    match run.status:
        case RunStatus.QUEUED:
            return "Starting…"
        case RunStatus.RUNNING:
            return f"Running stage {run.current_stage} of {len(stages)}"
        case RunStatus.PAUSING:
            return f"Pausing: finishing {items(in_flight)}"
        case RunStatus.PAUSED:
            reason = PauseReason(run.pause_reason or PauseReason.USER)
            return "Paused by a user" if reason == PauseReason.USER else f"Paused: {reason.label}"
        case RunStatus.CANCELLING:
            return f"Cancelling: finishing {items(in_flight)}"
        case _:
            return outcome_text(run, stages)
