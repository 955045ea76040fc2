"""Every site at a glance (contract §11's all-sites overview): 100 sites in a fixed few queries,
each with its active run's whole-run bar, last outcome, next scheduled run, articles waiting for
review and credits used this month; sortable; and live through one stream in Chromium."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cascade.accounts.models import Site
from cascade.automation import engine, schedules
from cascade.automation.models import AutomationRun
from cascade.planner.importing import import_rows
from cascade.web import overview
from cascade.writer.models import Content, ContentStatus
from tests.browser import shot
from tests.conftest import DEMO, keywords_of, run_to_end, serving, snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def many_sites(garden, site):
    """Alice's account with 100 sites: one after a whole run (articles waiting for review),
    one scheduled, one with an active run, the rest new."""
    Site.objects.bulk_create([Site(account=garden, name=f"Site {i:03}") for i in range(99)])
    run_to_end(site)
    scheduled = Site.objects.get(name="Site 001")
    schedules.save(
        scheduled, cron="0 6 * * *", tz_name="Europe/Berlin", enabled=True, catch_up=True
    )
    busy = Site.objects.get(name="Site 002")
    import_rows(busy, keywords_of(DEMO, limit=30))
    running = engine.start_run(busy)
    return site, scheduled, busy, running


def test_a_hundred_sites_render_in_a_fixed_few_queries(client, alice, many_sites):
    site, scheduled, busy, running = many_sites
    client.force_login(alice)
    client.get("/sites/")  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/sites/")
    assert page.status_code == 200
    print(f"{len(queries)} queries for 100 sites")
    assert len(queries) <= 10, [q["sql"][:120] for q in queries.captured_queries]
    html = page.content.decode()
    assert html.count('data-testid="site-row"') == 100
    # What the bars' percentage and items mean is said beside them, as on the Automation page.
    assert "percentage is of its expected work" in html and "Items are the keywords" in html

    rows = {r["site"].pk: r for r in overview.rows(alice)}
    done = rows[site.pk]
    assert done["bar"] is None and done["last_outcome"] == "succeeded"
    written = Content.objects.filter(site=site, status=ContentStatus.REVIEW).count()
    assert done["review"] == written > 0
    assert done["credits_month"] == AutomationRun.objects.get(site=site).credits_used > 0
    assert rows[scheduled.pk]["next_run_at"] == schedules.next_scheduled_at(scheduled.pk)
    bar = rows[busy.pk]["bar"]
    # The same numbers the run's own snapshot gives.
    doc = snapshot(running)
    assert bar.global_progress.percentage == doc["global_progress"]["percentage"]
    assert bar.global_progress.total_items == doc["global_progress"]["total_items"]
    assert bar.run.status_text == doc["run"]["status_text"] == "Starting…"


def test_the_overview_sorts_by_each_column(client, alice, many_sites):
    site, scheduled, busy, _ = many_sites
    client.force_login(alice)

    def first(sort: str) -> str:
        html = client.get(f"/sites/?sort={sort}").content.decode()
        return re.search(r'data-testid="site-row" data-site="(\d+)"', html)[1]

    assert first("review") == str(site.pk)
    assert first("credits") == str(site.pk)
    assert first("next") == str(scheduled.pk)
    assert first("progress") == str(busy.pk)
    assert first("last") == str(site.pk)
    assert first("name") == str(Site.objects.order_by("name").first().pk)
    assert client.get("/sites/?sort=nonsense").status_code == 200
    # The sorted column's header says so, in the words ARIA allows.
    for sort, direction in (("name", "ascending"), ("review", "descending")):
        html = client.get(f"/sites/?sort={sort}").content.decode()
        assert re.findall(r'aria-sort="([^"]+)"', html) == [direction], sort


def test_last_months_credits_are_not_this_months(client, alice, site):
    run = run_to_end(site)
    AutomationRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now().replace(day=1) - timedelta(days=2)
    )
    assert overview.rows(alice)[0]["credits_month"] == 0


@pytest.fixture
def server(tmp_path, garden):
    with serving(tmp_path, CASCADE_AI_LATENCY="2:0.1,4:0.2") as server:
        yield server


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.engine(latency={2: 0.1, 4: 0.2})
def test_the_overview_updates_live_from_one_stream(
    playwright_browser, login, server, alice, garden, site
):
    Site.objects.bulk_create([Site(account=garden, name=f"Other {i}") for i in range(5)])
    page = login(playwright_browser)
    streams = []
    page.on("request", lambda r: streams.append(r.url) if "stream" in r.url else None)
    page.goto(f"{server.url}/sites/")
    row = page.locator(f"#site-{site.pk}")
    assert "No active run" in row.get_by_test_id("site-run").inner_text()
    page.wait_for_timeout(500)  # the stream is open
    engine.start_run(site)  # the server's worker takes it from here
    cell = row.get_by_test_id("site-run")
    cell.locator(".bar").wait_for(timeout=20_000)
    seen = set()
    for _ in range(200):
        value = cell.get_attribute("data-percentage")
        if value:
            seen.add(int(value))
        if "Running" in cell.inner_text() and value and 0 < int(value) < 100:
            break
        page.wait_for_timeout(100)
    shot(page, "14-overview-running")
    assert any(0 < p < 100 for p in seen), seen
    row.get_by_test_id("site-last").get_by_text("Completed").wait_for(timeout=120_000)
    assert "No active run" in cell.inner_text()
    assert int(row.get_by_test_id("site-review").inner_text()) > 0
    shot(page, "14-overview-done")
    assert len([u for u in streams if "/sites/stream/" in u]) == 1, streams
