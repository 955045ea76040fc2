"""Estimates before a run: the page says how many items, credits and seconds a run over what
waits will take, by stage, and the run keeps that plan. A first run is estimated from the waiting
keywords and the configuration; later runs also from the site's own past runs. How close the
estimates come to what a run then takes is a `make bench` figure (section 9), not a test: it
depends on how fast the machine is at the moment."""

from __future__ import annotations

import re

import pytest

from cascade.accounts.models import Site
from cascade.automation import config, engine, estimates
from cascade.automation.stages import registry
from cascade.planner.importing import import_rows
from tests.conftest import DATA, DEMO, keywords_of, snapshot, wait_until_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LATENCY = {1: 0.004, 2: 0.05, 4: 0.12, 5: 0.02, 6: 0.04}


def check_plan_then_run(site: Site) -> dict:
    overview = estimates.overview(site)
    plan = overview["estimate"]
    waiting = overview["stages"][0]["pending"]
    assert plan["stages"]["1"] == waiting, "stage 1's total is exactly what waits"
    assert plan["exact"]["1"] is True
    assert plan["items"] > waiting, "the later stages' items are forecast"
    assert all(plan["stages"][str(n)] > 0 for n in registry().numbers), plan["stages"]
    assert plan["credits"] > 0 and plan["seconds"] > 0
    assert abs(sum(plan["shares"].values()) - 100) <= 1, plan["shares"]
    run = wait_until_finished(engine.start_run(site), timeout=300)
    assert run.outcome == "succeeded"
    assert run.plan["items"] == plan["items"], "the run keeps the plan it started with"
    doc = snapshot(run)
    assert doc["global_progress"]["total_is_estimate"] is False
    return plan


@pytest.mark.engine(latency=LATENCY)
# Every third keyword of the demo (100 of its 30 topics' 300) and every other of the labelled
# list (80 of 160, all 16 topics), in stage-1 batches of 20 so that the estimate and the run both
# group several batches at once, as on a larger site, and one idea a cluster: what is checked
# holds at any size, and the full lists with three ideas a cluster took three times as long.
@pytest.mark.parametrize(
    ("source", "every", "first"),
    [(DEMO, 3, 60), (DATA / "labelled_keywords.csv", 2, 50)],
    ids=["demo", "labelled"],
)
def test_a_run_keeps_the_estimate_it_started_with_and_the_next_learns_from_it(
    garden, worker, source, every, first
):
    rows = keywords_of(source, every=every)
    site = Site.objects.create(account=garden, name=f"Estimates {source.stem}")
    config.save(site, {"batch_sizes": {"1": 20}, "ideas_per_cluster": 1})
    import_rows(site, rows[:first])
    assert estimates.expected_seconds(site.pk)[1] is False, "nothing measured before a first run"
    check_plan_then_run(site)
    assert estimates.expected_seconds(site.pk)[1] is True, "the first run's timings are kept"
    import_rows(site, rows[first:])
    check_plan_then_run(site)


def test_the_next_run_is_one_forecast_on_the_page_and_in_the_overview(client, alice, garden):
    """Before a run, the page's "About N items (M articles)", its stage cards and the pipeline
    overview are one forecast: the plan keeps its fan-outs as computed (rounding a fan-out of
    47 clusters for 300 keywords made the cards count 48)."""
    site = Site.objects.create(account=garden, name="Demo")
    import_rows(site, keywords_of(DEMO))
    plan = estimates.overview(site)["estimate"]
    client.force_login(alice)
    page = client.get(f"/sites/{site.pk}/automation/").content.decode()
    cards = re.findall(r'data-testid="card-total">(?:<abbr[^>]*>≈</abbr> )?([\d,]+)<', page)
    assert [int(c.replace(",", "")) for c in cards] == [
        plan["stages"][str(n)] for n in registry().numbers
    ]
    about = re.search(r"About <strong>([\d,]+)</strong> items \(([\d,]+) articles\)", page)
    assert about, page
    assert int(about[1].replace(",", "")) == plan["items"] == sum(plan["stages"].values())
    assert int(about[2].replace(",", "")) == plan["stages"]["4"]


def test_the_next_run_says_it_cannot_start_without_credits_and_shows_viewers_the_forecast(
    client, carol, site, django_user_model
):
    """An account without credits: the forecast says the run cannot start and how to add
    credits, not that it "will pause when they run out". A viewer sees the forecast too."""
    from cascade.accounts.models import Account, Membership

    broke = Account.objects.create(name="Broke")
    owner = django_user_model.objects.create_user("dora", password="dora-password-long")
    Membership.objects.create(user=owner, account=broke, role="owner")
    purse = Site.objects.create(account=broke, name="Empty purse")
    import_rows(purse, [{"keyword": "how to patch an inner tube"}])
    client.force_login(owner)
    page = client.get(f"/sites/{purse.pk}/automation/").content.decode()
    assert 'data-testid="cannot-start">The run cannot start' in page
    assert 'cascade credits add "Broke" N' in page
    assert "it will pause when they run out" not in page
    client.force_login(carol)  # a viewer of Alice's site, where keywords wait
    viewer_page = client.get(f"/sites/{site.pk}/automation/")
    assert viewer_page.status_code == 200
    assert "About <strong>" in viewer_page.content.decode()


def test_a_site_learns_how_many_ideas_its_clusters_get(garden):
    """Ideas per cluster is at most the configured number (a cluster of one search gets one):
    the plan carries that ratio, a run measures it, and the next plan uses the site's own."""
    from cascade.automation.models import StageTiming
    from cascade.planner.models import Cluster, ContentIdea
    from tests.conftest import run_to_end

    site = Site.objects.create(account=garden, name="Learning")
    import_rows(site, keywords_of(DEMO, limit=200))
    run = run_to_end(site)
    assert run.plan["ratios"]["3"] == 3  # nothing measured yet: the configured number
    clusters, ideas = Cluster.objects.filter(site=site).count(), ContentIdea.objects.count()
    assert clusters >= 20
    learnt = StageTiming.objects.get(site=site, stage=3).correction
    assert learnt == pytest.approx(ideas / clusters / 3)
    cfg = config.load(site)
    assert estimates.expected_ratios(site.pk, cfg)[3] == pytest.approx(ideas / clusters)
