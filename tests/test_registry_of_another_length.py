"""Nothing but the registry knows how many stages there are: a pipeline of three stages runs,
and its snapshot, page and command line show three stages."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from cascade.automation import progress, stages
from cascade.automation.stage_types import Registry
from cascade.automation.stages import PIPELINE
from tests.conftest import run_to_end
from tests.invariants import check_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

PLANNING_ONLY = Registry(PIPELINE.stages[:3])  # keywords → clusters → ideas → tasks


def test_a_three_stage_pipeline_runs_and_every_view_shows_three_stages(site, alice):
    with stages.using(PLANNING_ONLY):
        run = run_to_end(site)
        assert run.status == "completed"
        doc = progress.build_snapshot(run)
        check_snapshot(doc)
        assert [s["number"] for s in doc["stages"]] == [1, 2, 3]
        assert set(doc["initial_snapshot"]) == {
            "stage_1_initial",
            "stage_2_initial",
            "stage_3_initial",
            "total_initial_items",
        }
        assert doc["global_progress"]["percentage"] == 100
        assert doc["stages"][2]["output_count"] > 0  # tasks were created; nothing was written

        client = Client()
        client.force_login(alice)
        html = client.get(f"/sites/{site.pk}/automation/").content.decode()
        assert html.count('data-testid="stage-card-') == 3
        assert 'data-testid="stage-card-4"' not in html

        overview = client.get(f"/api/v1/automation/pipeline_overview/?site_id={site.pk}").json()
        assert [s["number"] for s in overview["stages"]] == [1, 2, 3]
        config = client.get(f"/api/v1/automation/config/?site_id={site.pk}").json()
        assert config["stages_enabled"] == [True, True, True]

        out = io.StringIO()
        call_command("automation", "status", "--site", str(site.pk), stdout=out)
        rows = [line for line in out.getvalue().splitlines() if "→" in line]
        assert len(rows) == 3, out.getvalue()
        out = io.StringIO()
        call_command("automation", "status", "--site", str(site.pk), "--json", stdout=out)
        assert len(json.loads(out.getvalue())["stages"]) == 3


def test_a_stage_cannot_be_fed_by_a_stage_that_runs_after_it():
    with pytest.raises(ValueError, match="does not run before it"):
        Registry([PIPELINE[2], PIPELINE[1]])  # ideas first, fed by clustering after them
    with pytest.raises(ValueError, match="does not run before it"):
        Registry([PIPELINE[1], PIPELINE[7]])  # the review gate without stage 5 to feed it
    assert [s.number for s in Registry([PIPELINE[1], PIPELINE[2]])] == [1, 2]
