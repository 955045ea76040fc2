from __future__ import annotations

import re

import pytest
from django.test import Client

from cascade.accounts.models import Site
from cascade.ai import reset_provider_cache
from cascade.automation import engine
from cascade.automation.models import EventKind, RunItem
from cascade.automation.statuses import ItemState
from cascade.planner.importing import import_rows
from tests.conftest import DEMO, keywords_of, snapshot
from tests.invariants import check_full_run, check_snapshot
from tests.providers import FlakyProvider, PickyProvider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flaky(settings):
    settings.CASCADE_AI_PROVIDER = "tests.providers.FlakyProvider"
    settings.CASCADE_BATCH_SIZES = {1: 10}
    return FlakyProvider


def test_a_flaky_provider_is_retried_and_retry_failed_finishes_the_job(
    garden, alice, flaky, settings
):
    settings.CASCADE_PROVIDER_FAILURE_LIMIT = (
        12  # 30 % failures: long streaks are chance, not an outage
    )
    site = Site.objects.create(account=garden, name="Flaky")
    import_rows(site, keywords_of(DEMO, limit=80))
    flaky.configure(0.3)
    run = engine.start_run(site)
    engine.run_until_idle(timeout=300)
    run.refresh_from_db()
    assert run.status == "completed"
    doc = snapshot(run)
    check_snapshot(doc)
    assert flaky.failures > 10
    assert run.events.filter(kind="item_retried").count() >= 1
    failed = doc["global_progress"]["failed_items"]
    assert failed >= 1, "with 30 % failures over hundreds of calls some item fails three times"
    assert len(doc["metrics"]["errors"]) >= failed
    assert all("503 Service Unavailable" in e["message"] for e in doc["metrics"]["errors"])
    assert (
        RunItem.objects.filter(run=run, state=ItemState.FAILED).exclude(last_error="").count()
        == failed
    )
    # On the run's page, an error an item got over is told in grey, not listed as an error.
    recovered = RunItem.objects.filter(run=run, state=ItemState.DONE).exclude(last_error="")
    item = recovered.first()
    assert item is not None
    client = Client()
    client.force_login(alice)
    page = f"/sites/{site.pk}/automation/runs/{run.pk}/?state=done&stage={item.stage}"
    html = client.get(f"{page}&q={item.object_id}").content.decode()
    assert 'data-testid="recovered"' in html and "503 Service" in html
    assert not re.search(r'error-cell">[^<]*503', html), "a recovered error listed as an error"

    flaky.configure(0.0)
    retry = engine.retry_failed(run.pk)
    assert retry.trigger == "retry" and retry.retry_of_id == run.pk
    engine.run_until_idle(timeout=300)
    retry.refresh_from_db()
    assert retry.status == "completed"
    check_full_run(retry)
    retried = RunItem.objects.filter(
        run=retry,
        stage=min(
            RunItem.objects.filter(run=run, state=ItemState.FAILED).values_list("stage", flat=True)
        ),
    ).count()
    assert retried >= 1


def test_a_provider_that_always_fails_pauses_the_run_without_burning_items(site, flaky):
    flaky.configure(1.0)
    run = engine.start_run(site)
    engine.run_until_idle(timeout=120)
    run.refresh_from_db()
    assert run.status == "paused"
    assert run.pause_reason == "provider_unavailable"
    doc = snapshot(run)
    check_snapshot(doc)
    assert doc["global_progress"]["failed_items"] == 0
    assert not RunItem.objects.filter(run=run, state=ItemState.FAILED).exists()
    assert doc["metrics"]["errors"], "the errors that paused the run are shown"
    assert "failed 5 times in a row" in doc["run"]["status_message"]
    assert doc["run"]["status_text"] == "Paused: the AI provider is unavailable"

    flaky.configure(0.0)
    engine.resume_run(run.pk)
    engine.run_until_idle(timeout=120)
    run.refresh_from_db()
    assert run.status == "completed"
    check_full_run(run)


def test_items_that_always_fail_never_pause_the_run_as_an_outage(site, settings):
    """About one article in four fails at every attempt while the provider writes the others:
    those items fail after their attempts and the run completes (partly), never paused as if
    the provider were down."""
    settings.CASCADE_AI_PROVIDER = "tests.providers.PickyProvider"
    settings.CASCADE_PROVIDER_FAILURE_LIMIT = 5  # (the default) three of them come in a row
    run = engine.start_run(site)
    engine.run_until_idle(timeout=120)
    run.refresh_from_db()
    assert run.status == "completed" and run.outcome == "partial", run.status_message
    assert not run.events.filter(kind=EventKind.PAUSED).exists()
    failed = RunItem.objects.filter(run=run, state=ItemState.FAILED)
    assert failed.exists() and {item.stage for item in failed} == {4}
    assert all(PickyProvider.refuses(item.title) for item in failed)
    written = RunItem.objects.filter(run=run, stage=4, state=ItemState.DONE)
    assert written.exists() and not any(PickyProvider.refuses(i.title) for i in written)
    check_snapshot(snapshot(run))


def test_the_last_item_of_a_stage_failing_alone_never_pauses_the_run(site, settings):
    """The last article of its stage fails at every attempt and nothing succeeds after its
    first attempt: that is one item's failure, not a streak of different items, so it fails
    after its attempts and the run goes on and completes (partly)."""
    from tests.providers import LastArticleFailsProvider

    settings.CASCADE_AI_PROVIDER = "tests.providers.LastArticleFailsProvider"
    LastArticleFailsProvider.victim = None
    run = engine.start_run(site)
    engine.run_until_idle(timeout=120)
    run.refresh_from_db()
    assert run.status == "completed" and run.outcome == "partial", run.status_message
    assert not run.events.filter(kind=EventKind.PAUSED).exists()
    (failed,) = RunItem.objects.filter(run=run, state=ItemState.FAILED)
    assert failed.stage == 4 and failed.title == LastArticleFailsProvider.victim
    assert failed.attempts == settings.CASCADE_MAX_ATTEMPTS
    check_snapshot(snapshot(run))


def test_a_provider_that_cannot_be_loaded_pauses_the_run_and_says_why(site, settings):
    settings.CASCADE_AI_PROVIDER = "nope.Nope"
    reset_provider_cache()
    run = engine.start_run(site)
    engine.run_until_idle(timeout=60)
    run.refresh_from_db()
    assert run.status == "paused" and run.pause_reason == "provider_unavailable"
    assert "CASCADE_AI_PROVIDER='nope.Nope' is unknown" in run.status_message
    assert not RunItem.objects.filter(run=run, state=ItemState.FAILED).exists()  # none burnt
