from __future__ import annotations

import pytest

from cascade.automation import engine
from cascade.automation.models import AutomationRun
from cascade.automation.stages import registry
from tests.conftest import run_to_end, snapshot
from tests.invariants import charged_to, check_chaining, check_full_run, check_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_full_run_turns_every_keyword_into_reviewed_articles(site):
    run = run_to_end(site)
    check_full_run(run)
    doc = snapshot(run)
    check_snapshot(doc)
    check_chaining(doc)
    assert doc["global_progress"]["percentage"] == 100
    assert doc["global_progress"]["total_is_estimate"] is False
    assert doc["global_progress"]["total_items"] == doc["global_progress"]["completed_items"]
    assert doc["stages"][0]["input_count"] == 40
    assert doc["stages"][1]["output_label"] == "ideas"


def test_the_ledger_sums_to_the_runs_credits(site):
    before = site.account.credits
    run = run_to_end(site)
    site.account.refresh_from_db()
    charged = charged_to(run)
    assert charged == run.credits_used > 0
    assert before - site.account.credits == run.credits_used
    doc = snapshot(run)
    assert sum(s["credits_used"] for s in doc["stages"]) == run.credits_used
    # stage 1 costs 1 credit per 10 keywords of a batch: 40 keywords in one batch of 100
    assert doc["stages"][0]["credits_used"] == 4


def test_history_and_logs_agree_with_the_snapshot(site, api):
    run = run_to_end(site)
    doc = snapshot(run)
    history = api.get(f"/api/v1/automation/history/?site_id={site.pk}").json()
    assert history["count"] == 1
    row = history["items"][0]
    assert row["run_id"] == run.run_id and row["status"] == "completed"
    assert row["items_processed"] == doc["global_progress"]["completed_items"]
    assert row["credits_used"] == doc["metrics"]["credits_used"]
    assert row["ready_for_review"] == doc["stages"][6]["output_count"]
    logs = api.get(f"/api/v1/automation/logs/?site_id={site.pk}&run_id={run.pk}&limit=5").json()
    assert logs["count"] > 5 and len(logs["items"]) == 5
    assert logs["items"][0]["kind"] == "completed"


def test_a_second_run_with_nothing_new_is_refused(site, api):
    run_to_end(site)
    response = api.post(f"/api/v1/automation/run_now/?site_id={site.pk}")
    assert response.status_code == 422
    assert "Nothing to process" in response.json()["detail"]
    assert AutomationRun.objects.count() == 1


@pytest.mark.parametrize(
    "disabled", [(6,), (5, 6), (5,)], ids=["no-images", "no-pictures", "no-prompts"]
)
def test_articles_reach_review_when_a_picture_stage_is_disabled(site, disabled):
    """The review gate does not wait for pictures a disabled stage will not make, and the plan
    counts those articles from the start."""
    from cascade.automation import config as run_config
    from cascade.writer.models import Content, ContentStatus

    enabled = [n not in disabled for n in registry().numbers]
    run_config.save(site, {"stages_enabled": enabled})
    run = engine.start_run(site)
    planned = snapshot(run)
    engine.run_until_idle(timeout=300)
    run.refresh_from_db()
    assert run.outcome == "succeeded"
    doc = snapshot(run)
    check_snapshot(doc)
    written = doc["stages"][3]["output_count"]
    assert written > 0
    assert doc["stages"][-1]["output_count"] == written
    assert Content.objects.filter(site=site, status=ContentStatus.REVIEW).count() == written
    assert not Content.objects.filter(site=site, status=ContentStatus.DRAFT).exists()
    for n in disabled:
        assert doc["stages"][n - 1]["status"] == "skipped"
    # Before any work, the plan already expected one review item per article to be written.
    assert planned["stages"][-1]["expected_total"] == planned["stages"][3]["expected_total"] > 0
