"""Words for people: no raw values, plurals right, a stage never "Active" with nothing to start."""

from __future__ import annotations

from cascade.automation import board
from cascade.automation.snapshot import StageProgress
from cascade.automation.statuses import DisplayStatus, StageStatus, display_status
from cascade.automation.wording import elapsed, human_duration, items


def stage(**counts) -> StageProgress:
    base = {"status": "active", "input_count": 300, "processed_count": 0, "failed_count": 0}
    base |= {"in_progress_count": 0, "remaining_count": 300}
    return StageProgress.model_construct(**(base | counts))  # (only the counts the badge reads)


def test_a_stage_is_active_while_it_works_and_finishing_only_in_its_last_items():
    assert display_status(stage(processed_count=100, remaining_count=200), "running") == "active"
    done = stage(processed_count=298, in_progress_count=2, remaining_count=2)
    assert display_status(done, "running") == "finishing"
    # Every item claimed at once (40 keywords in one batch): at work, not finishing.
    at_once = stage(input_count=40, in_progress_count=40, remaining_count=40)
    assert display_status(at_once, "running") == "active"
    last = stage(processed_count=270, in_progress_count=30, remaining_count=30)
    assert display_status(last, "running") == "finishing"
    many = stage(processed_count=260, in_progress_count=40, remaining_count=40)
    assert display_status(many, "running") == "active"
    assert display_status(done, "pausing") == "pausing"
    assert display_status(stage(), "paused") == "paused"
    assert display_status(stage(status="completed"), "running") == "completed"
    some = stage(status="completed", processed_count=290, failed_count=10, remaining_count=0)
    assert display_status(some, "completed") == "partial"
    none = stage(status="completed", failed_count=300, remaining_count=0)
    assert display_status(none, "completed") == "failed"


def test_counts_are_written_with_plurals_and_separators():
    assert items(1) == "1 item" and items(2) == "2 items" and items(1_000_000) == "1,000,000 items"
    assert items(1, "failure", "failures") == "1 failure"
    assert human_duration(30) == "< 1 min" and human_duration(90) == "~2 min"
    assert human_duration(3_700) == "~1 h 2 min"
    # a time that has passed is told as it was, not rounded like an estimate
    assert elapsed(90) == "1m 30s" and elapsed(12.7) == "12s" and elapsed(4_000) == "1h 06m"


def test_every_badge_has_words_and_an_icon():
    assert set(board.ICONS) == set(DisplayStatus)
    assert {s.value for s in StageStatus} <= {s.value for s in DisplayStatus}
    assert all(s.label and s.label != s.value for s in DisplayStatus)
    assert all(board.ICONS.values())
