"""A run says how its work went: only work that all succeeded looks like success."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cascade.automation import engine, history, page
from cascade.automation.statuses import RunOutcome, RunStatus, outcome_of
from tests.conftest import run_to_end, snapshot
from tests.invariants import check_snapshot
from tests.servers import ROOT, server_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("status", "processed", "failed", "outcome"),
    [
        (RunStatus.COMPLETED, 10, 0, RunOutcome.SUCCEEDED),
        (RunStatus.COMPLETED, 10, 3, RunOutcome.PARTIAL),
        (RunStatus.COMPLETED, 0, 8, RunOutcome.FAILED),
        (RunStatus.COMPLETED, 0, 0, RunOutcome.NOTHING_TO_DO),
        (RunStatus.CANCELLED, 10, 3, RunOutcome.CANCELLED),
        (RunStatus.FAILED, 10, 0, RunOutcome.FAILED),
        (RunStatus.RUNNING, 10, 0, None),
        (RunStatus.PAUSED, 0, 0, None),
    ],
)
def test_the_outcome_follows_from_what_the_items_did(status, processed, failed, outcome):
    assert outcome_of(status, processed, failed) == outcome


@pytest.fixture
def refusing(settings, monkeypatch):
    settings.CASCADE_AI_PROVIDER = "tests.providers.RefusingProvider"

    def refuse(method: str, match: str = "") -> None:
        monkeypatch.setenv("CASCADE_TEST_REFUSE", method)
        monkeypatch.setenv("CASCADE_TEST_REFUSE_MATCH", match)

    return refuse


def test_a_run_whose_every_item_failed_is_called_failed(site, refusing):
    refusing("cluster_keywords")
    run = run_to_end(site)
    doc = snapshot(run)
    check_snapshot(doc)
    assert run.status == "completed" and run.outcome == "failed"
    assert doc["run"]["outcome"] == "failed"
    assert doc["run"]["status_text"] == "Failed: 0 of 40 keywords clustered"
    assert doc["global_progress"]["percentage"] == 100
    assert [s["status"] for s in doc["stages"][1:]] == ["skipped"] * (len(doc["stages"]) - 1)
    assert doc["metrics"]["error_groups"] == [
        {
            "stage": 1,
            "message": "The AI provider refused the request: Your request was rejected as a "
            "result of our safety system.",
            "count": 40,
            "item_id": doc["metrics"]["error_groups"][0]["item_id"],
        }
    ]
    # The page shows what was done, not the contract's 100 %, and draws the failed items red.
    shown = page.live_context(site, can_operate=True)["snapshot"]
    assert shown.headline == "0 done" and shown.items_text == "0 items done · 40 failed"
    assert (shown.cards[0].done_fill, shown.cards[0].failed_fill) == (0, 100)
    card = page.live_fragments(site, can_operate=True).parts["stage-1"]
    assert ">0 % done<" in card and "100 %" not in card  # (its bar is all red)
    # The stages after it say why they did not run.
    cards = shown.cards
    assert cards[1].skip_reason == "stage 1 made no clusters and none were waiting"
    assert cards[2].skip_reason == "stage 2 made no ideas and none were waiting"
    # and so does the activity, in the same words
    skipped = list(run.events.filter(kind="stage_skipped").order_by("stage"))
    assert [e.message for e in skipped[:2]] == [
        "Stage 2 skipped: stage 1 made no clusters and none were waiting.",
        "Stage 3 skipped: stage 2 made no ideas and none were waiting.",
    ]


def test_a_run_with_some_failures_completes_with_failures(site, refusing):
    refusing("write_article", match="tomato")
    run = run_to_end(site)
    doc = snapshot(run)
    failed = doc["global_progress"]["failed_items"]
    assert failed > 0 and doc["global_progress"]["completed_items"] > failed
    assert run.outcome == "partial"
    assert doc["run"]["status_text"] == f"Completed with {failed} failures"
    (group,) = doc["metrics"]["error_groups"]
    assert group["stage"] == 4 and group["count"] == failed == doc["stages"][3]["failed_count"]
    shown = page.live_context(site, can_operate=True)["snapshot"]
    done = doc["global_progress"]["completed_items"]
    assert shown.headline == f"{done:,} done" and "100 %" not in shown.headline
    four = shown.cards[3]
    assert four.done_fill + four.failed_fill == 100 and 0 < four.failed_fill < 100
    bar = page.live_fragments(site, can_operate=True).parts["bar"]
    assert f">{done:,} done<" in bar and "100 %" not in bar


def test_cancelled_and_successful_runs_say_so(site):
    run = engine.start_run(site)
    engine.cancel_run(run.pk)
    run.refresh_from_db()
    assert run.outcome == "cancelled" and snapshot(run)["run"]["status_text"] == "Cancelled"
    finished = run_to_end(site)
    assert (
        finished.outcome == "succeeded" and snapshot(finished)["run"]["status_text"] == "Completed"
    )
    outcomes = [row["outcome"] for row in history.run_summaries(site.pk)]
    assert outcomes == ["succeeded", "cancelled"]


def test_run_wait_exits_non_zero_unless_the_work_succeeded(site, refusing):
    env = server_env(
        CASCADE_TEST_REFUSE="cluster_keywords",
        CASCADE_AI_PROVIDER="tests.providers.RefusingProvider",
    )
    result = subprocess.run(
        [sys.executable, "-m", "cascade", "automation", "run", "--site", str(site.pk), "--wait"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed: 0 of 40 keywords clustered" in result.stdout
    # The whole-run bar tells what was done, as the page does, never "100 %" for failed work.
    whole = next(line for line in result.stdout.splitlines() if line.startswith("Whole run"))
    assert whole.rstrip().endswith(" 0 done") and "100" not in whole, whole
    stage = next(line for line in result.stdout.splitlines() if line.startswith("1/7 "))
    assert stage.rstrip().endswith("0 % done, 40 failed · 40/40"), stage  # never "100 %"


def test_a_site_whose_keywords_are_all_turned_off_says_so(site):
    from cascade.planner.models import Keyword

    Keyword.objects.filter(site=site).update(disabled=True)
    parts = page.live_fragments(site, can_operate=True).parts
    assert "Nothing is waiting: 40 keywords are turned off." in parts["estimate"]
    assert "Turn them on or import more" in parts["estimate"]


def test_keywords_that_join_clusters_with_ideas_say_why_no_article_comes(site):
    """Keywords imported later on topics the site has already written join those clusters; the
    run makes no new article for them, and its page and activity say why."""
    from cascade.planner.importing import import_rows
    from cascade.planner.models import Cluster, Keyword

    run_to_end(site)
    known = [k.keyword for k in Keyword.objects.filter(site=site).order_by("id")[:4]]
    clusters = Cluster.objects.filter(site=site).count()
    import_rows(site, [{"keyword": f"{k} tips"} for k in known])
    run = run_to_end(site)
    assert Cluster.objects.filter(site=site).count() == clusters  # they joined, none was made
    assert Keyword.objects.filter(site=site, cluster__isnull=True).count() == 0
    why = "stage 1 made no clusters (each keyword joined a cluster the site already has)"
    cards = page.live_context(site, can_operate=True)["snapshot"].cards
    assert cards[1].skip_reason == f"{why} and none were waiting"
    skipped = run.events.filter(kind="stage_skipped", stage=2).get()
    assert skipped.message == f"Stage 2 skipped: {why} and none were waiting."
    # between runs the cards are said to be the last run's (the keywords wait for the next)
    head = page.live_fragments(site, can_operate=True).parts["stages-head"]
    assert ">Stages of the last run</h2>" in head and "visually-hidden" not in head
