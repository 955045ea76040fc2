from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cascade.automation import engine
from cascade.automation.statuses import FINISHED
from tests.conftest import snapshot, wait_until_finished
from tests.invariants import check_chaining, check_full_run, check_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def snapshots_until_finished(run, every: float) -> Iterator[dict]:
    """The run's snapshot every `every` seconds, the finished one last."""
    while True:
        doc = snapshot(run)
        yield doc
        if doc["run"]["status"] in FINISHED:
            return
        time.sleep(every)


@pytest.mark.engine(latency={1: 0.005, 2: 0.02, 4: 0.02, 5: 0.01, 6: 0.01})
def test_every_snapshot_of_a_running_run_obeys_the_contract(site, worker):
    run = engine.start_run(site)
    docs = []
    for doc in snapshots_until_finished(run, every=0.01):
        docs.append(doc)
        check_snapshot(doc)
    wait_until_finished(run)
    assert len(docs) >= 50, f"only {len(docs)} snapshots were taken"
    percentages = [d["global_progress"]["percentage"] for d in docs]
    assert percentages == sorted(percentages), "the percentage went backwards"
    assert percentages[-1] == 100 and max(percentages[:-1]) <= 99
    versions = [d["version"] for d in docs]
    assert versions == sorted(versions)
    seen_stages = {d["run"]["current_stage"] for d in docs if d["run"]["status"] == "running"}
    assert len(seen_stages) >= 4, f"the run was seen in stages {seen_stages} only"
    assert any(d["stages"][3]["currently_processing"] for d in docs), (
        "no article was ever seen in progress"
    )
    assert any(d["global_progress"]["estimated_remaining_seconds"] is not None for d in docs)
    check_full_run(run)
    check_chaining(docs[-1])


def test_the_percentage_never_goes_back_for_a_later_reader(site):
    """Stage 1's real output replaces its estimate: the high-water mark keeps the bar still."""
    run = engine.start_run(site)
    seen = []
    while engine.work_once("test"):
        doc = snapshot(run)
        seen.append(doc["global_progress"]["percentage"])
        run.refresh_from_db()
        assert run.percentage_hwm >= min(99, seen[-1])
    assert seen == sorted(seen)
    assert seen[-1] == 100


@pytest.mark.engine(latency={1: 0.01, 2: 0.05, 4: 0.1, 5: 0.02, 6: 0.03})
def test_the_time_left_counts_down_steadily(site, worker):
    run = engine.start_run(site)
    shown = []
    for doc in snapshots_until_finished(run, every=0.05):
        g = doc["global_progress"]
        if doc["run"]["status"] not in FINISHED and g["estimated_remaining_seconds"] is not None:
            shown.append(
                (time.monotonic(), g["estimated_remaining_seconds"], g["estimated_remaining_time"])
            )
    assert len(shown) >= 20, shown
    for (_, s0, text0), (_, s1, text1) in zip(shown, shown[1:], strict=False):
        # never back up from "~1 min" to "~2 min": a reading is at most the last one (it may
        # fall faster than the clock when the work goes faster than expected)
        assert s1 <= s0 + 1, (text0, text1, shown)


def test_the_time_left_rises_by_at_most_30_percent_and_not_in_a_burst():
    """More work than thought raises the time left in steps of at most 30 % (under a minute
    reads as a minute), at most one step in 15 s; a lower estimate is shown at once; a paused
    run shows none. Each reading is what the engine then keeps as the countdown."""
    from datetime import timedelta

    from django.utils import timezone

    from cascade.automation import timing
    from cascade.automation.models import AutomationRun

    start = timezone.now()
    run = AutomationRun(status="running", eta_seconds=40.0, eta_at=start)
    readings, now = [40.0], start  # the countdown shown before
    for _ in range(120):  # a minute of readings, every half second, the estimate stuck at 5 min
        now += timedelta(seconds=0.5)
        shown, restart = timing.steady(run, 300.0, now)
        if restart:
            run.eta_seconds, run.eta_at = shown, now
        readings.append(shown)
    floor = [max(r, 60.0) for r in readings]
    for earlier, later in zip(floor, floor[1:], strict=False):
        assert later <= earlier * 1.3 + 1e-9, readings
    lowest = [min(floor[: i + 1]) for i in range(len(floor))]
    # over the minute: four steps at most, each at least 15 s after the one before
    assert max(f / low for f, low in zip(floor, lowest, strict=True)) <= 1.3**4 + 1e-9
    assert readings[-1] > 60 and readings[-1] < 300, readings
    assert timing.steady(run, 10.0, now + timedelta(seconds=1)) == (10.0, True)
    run.status = "paused"
    assert timing.steady(run, 300.0, now) == (None, False)
