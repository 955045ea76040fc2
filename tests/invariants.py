"""The contract's rules as checks, shared by every test that watches a run."""

from __future__ import annotations

from cascade.accounts.models import LedgerEntry
from cascade.automation.models import AutomationRun, RunItem
from cascade.automation.stages import registry
from cascade.automation.statuses import FINISHED, ItemState
from cascade.planner.models import Cluster, ContentIdea, Keyword
from cascade.writer.models import Content, Image, ImageStatus, Task

ACTIVE_STAGE = {"active"}
DONE = {"completed", "skipped"}


def check_snapshot(doc: dict) -> None:
    """Contract §3-§5 for one snapshot, and the shape the OpenAPI document promises."""
    from cascade.automation.schemas import Snapshot

    Snapshot.model_validate(doc)
    stages = doc["stages"]
    assert [s["number"] for s in stages] == list(registry().numbers)
    for s in stages:
        assert (
            s["remaining_count"] == s["input_count"] - s["processed_count"] - s["failed_count"]
        ), s
        assert s["remaining_count"] >= 0, s
        assert 0 <= s["in_progress_count"] <= s["remaining_count"], s
        expected = (
            (100 * (s["processed_count"] + s["failed_count"]) // s["input_count"])
            if s["input_count"]
            else (100 if s["status"] in DONE else 0)
        )
        assert s["progress_percentage"] == expected, s
        ids_now = {i["id"] for i in s["currently_processing"]}
        ids_next = {i["id"] for i in s["up_next"]}
        assert not ids_now & ids_next, s
        assert len(s["currently_processing"]) <= 5 and len(s["up_next"]) <= 5
        assert {
            "rate_per_minute",
            "estimated_remaining_seconds",
            "estimated_remaining_time",
        } <= set(s)
    g = doc["global_progress"]
    assert g["completed_items"] == sum(s["processed_count"] for s in stages)
    assert g["failed_items"] == sum(s["failed_count"] for s in stages)
    assert 0 <= g["percentage"] <= 100
    status = doc["run"]["status"]
    assert (g["percentage"] == 100) == (status == "completed"), (g, status)
    if status == "running":
        active = [s for s in stages if s["status"] == "active"]
        assert len(active) == 1, [s["status"] for s in stages]
        n = active[0]["number"]
        assert doc["run"]["current_stage"] == n
        assert all(s["status"] in DONE for s in stages if s["number"] < n), stages
        assert all(s["status"] == "pending" for s in stages if s["number"] > n), stages
    if status in FINISHED:
        assert not [s for s in stages if s["status"] in ("pending", "active")], stages
    assert len(doc["metrics"]["errors"]) <= 50


def check_full_run(
    run: AutomationRun, *, ideas_per_cluster: int = 3, images_per_content: int = 2
) -> None:
    """Everything a completed run without failures must have produced."""
    site_id = run.site_id
    assert run.status == "completed", run.status
    keywords = Keyword.objects.filter(site_id=site_id, disabled=False)
    assert not keywords.exclude(status="mapped").exists()
    assert not keywords.filter(cluster__isnull=True).exists()
    for cluster in Cluster.objects.filter(site_id=site_id):
        # (at most: a cluster of fewer distinct searches gets fewer ideas)
        assert 1 <= cluster.ideas.count() <= ideas_per_cluster, cluster
        assert cluster.keyword_count == cluster.keywords.count()
    ideas = ContentIdea.objects.filter(site_id=site_id)
    assert Task.objects.filter(site_id=site_id).count() == ideas.count()
    assert not ideas.filter(task__isnull=True).exists()
    assert (
        Content.objects.filter(site_id=site_id).count()
        == Task.objects.filter(site_id=site_id).count()
    )
    for content in Content.objects.filter(site_id=site_id):
        assert content.status == "review", content
        images = list(content.images.all())
        assert len(images) == 1 + images_per_content
        assert all(i.status == ImageStatus.GENERATED for i in images)
        assert sorted(i.kind for i in images) == ["featured"] + ["in_article"] * images_per_content
    assert Image.objects.filter(site_id=site_id).exclude(status=ImageStatus.GENERATED).count() == 0
    assert registry().pending_counts(site_id) == {n: 0 for n in registry().numbers}
    # nothing done twice: every item of the run was done exactly once
    assert not RunItem.objects.filter(run=run).exclude(state=ItemState.DONE).exists()


def check_chaining(doc: dict) -> None:
    """Contract §3's equalities on a fresh site whose run had no failures."""
    s = {x["number"]: x for x in doc["stages"]}
    assert s[2]["input_count"] == s[1]["output_count"]
    assert s[3]["input_count"] == s[2]["output_count"]
    assert s[4]["input_count"] == s[3]["output_count"]
    assert s[5]["input_count"] == s[4]["output_count"]
    assert s[6]["input_count"] == s[5]["output_count"]
    assert s[7]["input_count"] == s[5]["input_count"]


def charged_to(run: AutomationRun) -> int:
    """Credits the ledger says the run was charged (charges are negative rows)."""
    return -sum(LedgerEntry.objects.filter(run=run).values_list("delta", flat=True))


def ledger_matches_balance(account_id: int) -> bool:
    """The balance equals the sum of the ledger, read in one statement (one snapshot)."""
    from django.db import connection

    from cascade.accounts.models import Account

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.credits, (SELECT COALESCE(SUM(l.delta), 0) FROM {LedgerEntry._meta.db_table} l "
            f"WHERE l.account_id = a.id) FROM {Account._meta.db_table} a WHERE a.id = %s",
            [account_id],
        )
        balance, ledger = cursor.fetchone()
    return balance == ledger


def check_completed_run(run: AutomationRun) -> None:
    """A run that completed without failures: everything produced, chained and counted."""
    from cascade.automation import progress

    run.refresh_from_db()
    assert run.status == "completed", run.status
    check_full_run(run)
    check_chaining(progress.build_snapshot(run))
