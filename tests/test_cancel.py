from __future__ import annotations

import time

import pytest

from cascade.automation import engine, page
from cascade.automation.models import RunItem, RunStage
from cascade.automation.statuses import ItemState
from cascade.writer.models import Content, Task, TaskStatus
from tests.conftest import snapshot, wait_for, wait_until_finished
from tests.invariants import check_full_run, check_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.engine(latency={4: 0.25})
def test_cancel_finishes_in_flight_items_and_leaves_the_rest_for_the_next_run(
    site, worker, settings
):
    run = engine.start_run(site)
    wait_for(
        lambda: RunStage.objects.get(run=run, number=4).processed_count >= 2,
        what="articles written",
    )
    head = page.live_fragments(site, can_operate=True).parts["stages-head"]
    assert 'class="visually-hidden">Stages</h2>' in head  # (the cards are the run at work)
    engine.cancel_run(run.pk)
    wait_until_finished(run)
    assert run.status == "cancelled"
    doc = snapshot(run)
    check_snapshot(doc)
    assert [s["status"] for s in doc["stages"]] == ["completed"] * 3 + ["cancelled"] * 4
    written = doc["stages"][3]["processed_count"]
    assert doc["stages"][3]["remaining_count"] > 0

    time.sleep(0.8)  # nothing is processed after cancelled
    assert Content.objects.filter(site=site).count() == written
    assert snapshot(run)["version"] == doc["version"]
    unprocessed = Task.objects.filter(site=site, status=TaskStatus.QUEUED).count()
    assert unprocessed == doc["stages"][3]["remaining_count"]
    assert not RunItem.objects.filter(run=run, state=ItemState.PROCESSING).exists()
    # The summary says where the articles written but not up for review are.
    shown = page.live_context(site, can_operate=True)["snapshot"]
    assert shown.review_ready == 0 and shown.global_progress.unit.done == written
    assert shown.not_ready == (
        "The articles it wrote that are not ready for review wait for the stages it did not "
        "finish: Run Now continues them."
    )
    assert shown.not_ready in page.live_fragments(site, can_operate=True).parts["bar"]

    settings.CASCADE_AI_LATENCY = {}
    second = engine.start_run(site)
    assert second.initial_snapshot["stage_4_initial"] == unprocessed
    wait_until_finished(second)
    assert second.status == "completed"
    check_full_run(second)
    assert page.live_context(site, can_operate=True)["snapshot"].not_ready == ""


def test_cancelling_a_paused_run_ends_it_at_once(site):
    run = engine.start_run(site)
    engine.pause_run(run.pk)
    cancelled = engine.cancel_run(run.pk)
    assert cancelled.status == "cancelled"
    doc = snapshot(run)
    check_snapshot(doc)
    assert doc["global_progress"]["percentage"] < 100
