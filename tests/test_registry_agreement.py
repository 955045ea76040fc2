from __future__ import annotations

import pytest

from cascade.automation import engine
from cascade.automation.models import RunStage
from cascade.automation.stages import registry

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_stage_starts_with_exactly_what_the_overview_says_is_waiting(site, api):
    run = engine.start_run(site)
    started: dict[int, tuple[int, int]] = {}
    while True:
        before = registry().pending_counts(site.pk)
        overview = api.get(f"/api/v1/automation/pipeline_overview/?site_id={site.pk}").json()
        assert [s["pending"] for s in overview["stages"]] == [before[n] for n in registry().numbers]
        stage_before = run.current_stage
        if not engine.work_once("test"):
            break
        run.refresh_from_db()
        if run.current_stage != stage_before and run.current_stage is not None:
            row = RunStage.objects.get(run=run, number=run.current_stage)
            started[run.current_stage] = (row.input_count, before[run.current_stage])
    assert sorted(started) == list(registry().numbers)
    for number, (input_count, pending) in started.items():
        assert input_count == pending > 0, (
            f"stage {number}: input {input_count}, overview said {pending}"
        )
