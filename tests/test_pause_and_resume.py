from __future__ import annotations

import time

import pytest

from cascade.automation import engine
from cascade.automation.models import RunItem, RunStage
from cascade.automation.statuses import ItemState
from cascade.writer.models import Content
from tests.conftest import snapshot, wait_for, wait_until_finished
from tests.invariants import check_full_run, check_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def stage_row(run, number):
    return RunStage.objects.get(run=run, number=number)


@pytest.mark.engine(latency={4: 0.3})
def test_pause_waits_for_in_flight_items_then_resume_finishes_without_doubles(
    site, worker, settings
):
    run = engine.start_run(site)
    wait_for(
        lambda: (
            run.__class__.objects.get(pk=run.pk).current_stage == 4
            and stage_row(run, 4).processed_count >= 2
            and stage_row(run, 4).in_progress_count > 0
        ),
        what="articles being written",
    )

    paused = engine.pause_run(run.pk)
    assert paused.status == "pausing"  # items were in flight when it paused: they finish first
    doc = snapshot(run)
    if doc["run"]["status"] == "pausing":  # (on a busy machine they may be done already)
        assert doc["run"]["status_text"].startswith("Pausing: finishing ")

    wait_for(lambda: snapshot(run)["run"]["status"] == "paused", what="paused")
    at_pause = snapshot(run)
    check_snapshot(at_pause)
    assert at_pause["run"]["pause_reason"] == "user"
    assert at_pause["stages"][3]["in_progress_count"] == 0
    assert not RunItem.objects.filter(run=run, state=ItemState.PROCESSING).exists()

    time.sleep(1.0)  # nothing new starts while paused
    still = snapshot(run)
    assert still["version"] == at_pause["version"]
    assert still["stages"][3]["processed_count"] == at_pause["stages"][3]["processed_count"]
    assert Content.objects.filter(site=site).count() == at_pause["stages"][3]["processed_count"]
    assert still["metrics"]["duration_seconds"] == at_pause["metrics"]["duration_seconds"]

    engine.resume_run(run.pk)
    resumed = snapshot(run)
    assert resumed["run"]["status"] == "running"
    assert resumed["global_progress"]["percentage"] >= at_pause["global_progress"]["percentage"]
    assert resumed["stages"][3]["processed_count"] >= at_pause["stages"][3]["processed_count"]
    settings.CASCADE_AI_LATENCY = {}
    wait_until_finished(run)
    check_full_run(run)
    final = snapshot(run)
    assert final["stages"][3]["processed_count"] == final["stages"][3]["input_count"]
    assert final["metrics"]["duration_seconds"] < (run.finished_at - run.started_at).total_seconds()


def test_pausing_with_nothing_in_flight_is_immediate(site):
    run = engine.start_run(site)
    paused = engine.pause_run(run.pk)
    assert paused.status == "paused"
    assert not engine.work_once("test")  # a paused run gets no work
    engine.resume_run(run.pk)
    engine.run_until_idle()
    run.refresh_from_db()
    check_full_run(run)


def test_a_finished_run_cannot_be_paused_or_resumed(site, api):
    run = engine.start_run(site)
    engine.run_until_idle()
    for action in ("pause", "resume", "cancel"):
        response = api.post(f"/api/v1/automation/{action}/?site_id={site.pk}&run_id={run.pk}")
        assert response.status_code == 409, action
        assert "completed run cannot" in response.json()["detail"]
