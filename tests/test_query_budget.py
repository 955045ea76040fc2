from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cascade.accounts.models import Site
from cascade.automation import engine, progress
from cascade.planner.models import Keyword, normalize

pytestmark = pytest.mark.django_db(transaction=True)


def site_in_flight(account, size: int) -> Site:
    site = Site.objects.create(account=account, name=f"{size} keywords")
    Keyword.objects.bulk_create(
        [
            Keyword(
                site=site,
                keyword=f"garden topic {i} idea",
                normalized=normalize(f"garden topic {i} idea"),
            )
            for i in range(size)
        ],
        batch_size=2000,
    )
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    claim = engine.claim_items(run.pk, "tests")
    assert claim is not None and len(claim.items) > 0
    return site


def queries_for_snapshot(site: Site) -> int:
    progress.forget()  # a build of its own, whatever the shared builds' lifetime
    with CaptureQueriesContext(connection) as captured:
        progress.snapshot_for(site.pk)
    return len(captured)


def queries_for_api(client, site: Site) -> int:
    progress.forget()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/automation/run_progress/?site_id={site.pk}")
    assert response.status_code == 200
    return len(captured)


def test_run_progress_costs_the_same_few_queries_at_1000_and_20000_keywords(garden, api):
    small, large = site_in_flight(garden, 1_000), site_in_flight(garden, 20_000)
    # The run row and its stages, the version, the processing and next items, the errors.
    assert queries_for_snapshot(small) <= 5
    assert queries_for_snapshot(small) == queries_for_snapshot(large)
    queries_for_api(api, small)  # the token's first use of the minute records last_used_at
    assert queries_for_api(api, small) == queries_for_api(api, large)


def test_readers_of_one_version_share_one_build(garden, monkeypatch):
    site = site_in_flight(garden, 1_000)
    monkeypatch.setattr(progress, "REUSE_SECONDS", 3600.0)  # not the clock's business here
    progress.forget()
    first = progress.snapshot_for(site.pk)
    with CaptureQueriesContext(connection) as captured:
        again = progress.snapshot_for(site.pk)
    assert again is first
    assert len(captured) == 1  # the run's id and version


def test_the_snapshot_reflects_the_claimed_batch(garden):
    site = site_in_flight(garden, 1_000)
    doc = progress.snapshot_for(site.pk)
    stage = doc["stages"][0]
    assert stage["status"] == "active"
    assert stage["input_count"] == 1000
    assert stage["in_progress_count"] == 100
    assert len(stage["currently_processing"]) == 5 and len(stage["up_next"]) == 5
    assert stage["up_next"][0]["title"] == "garden topic 100 idea"


def test_a_token_records_its_use_at_most_once_a_minute(alice, token_for):
    """The bearer check says in its one query whether the token's last use is over a minute
    old; only then is the use written (one more query)."""
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from cascade.accounts.models import ApiToken

    client = Client(headers={"Authorization": f"Bearer {token_for(alice)}"})
    token = ApiToken.objects.get(user=alice)
    assert token.last_used_at is None

    def call() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/sites/").status_code == 200
        return len(captured)

    first = call()
    token.refresh_from_db()
    assert token.last_used_at is not None
    recorded = token.last_used_at
    assert call() == first - 1  # used again at once: nothing written
    token.refresh_from_db()
    assert token.last_used_at == recorded
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(seconds=90))
    assert call() == first
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timedelta(seconds=5)
