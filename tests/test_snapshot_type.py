"""One typed snapshot: the API's schema is generated from it, and what Run Now shows before
the server answers is the snapshot the run will have, built by the same code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cascade.automation import engine, page, progress
from cascade.automation.snapshot import Snapshot
from cascade.automation.statuses import RunStatus, StageStatus
from cascade.planner.models import Keyword, normalize

pytestmark = pytest.mark.django_db(transaction=True)
TEMPLATES = Path(__file__).resolve().parents[1] / "cascade"


def numbers(snapshot: Snapshot) -> list[tuple]:
    return [(s.number, s.status, s.input_count, s.expected_total, s.share) for s in snapshot.stages]


def test_the_starting_state_is_the_snapshot_the_run_will_have(site):
    Keyword.objects.bulk_create(
        [
            Keyword(site=site, keyword=f"pond pump {i}", normalized=normalize(f"pond pump {i}"))
            for i in range(120)
        ]
    )
    overview = page.overview_for(site)
    prepared = page.plan_of(site, overview)
    shown = page.planned(prepared, starting=True).snapshot
    before = page.planned(prepared).snapshot

    run = engine.start_run(site)
    engine.begin_run(run.pk)
    begun = progress.latest(site.pk)
    assert begun is not None

    assert numbers(shown) == numbers(begun)  # statuses, what each stage takes and expects
    assert shown.global_progress.total_items == begun.global_progress.total_items
    assert shown.global_progress.unit == begun.global_progress.unit
    assert shown.global_progress.percentage == 0 == begun.global_progress.percentage
    assert shown.run.status_text == "Starting…" and shown.run.is_active
    # Before the click every stage is pending, with the totals the run will start with.
    assert {s.status for s in before.stages} == {StageStatus.PENDING}
    assert [s.expected_total for s in before.stages] == [s.expected_total for s in begun.stages]


def test_every_reader_gets_the_one_shape(site, api):
    Keyword.objects.create(site=site, keyword="pond liner", normalized="pond liner")
    run = engine.start_run(site)
    engine.pause_run(run.pk)
    doc = progress.snapshot_for(site.pk)
    assert Snapshot.model_validate(doc).model_dump(mode="json") == doc
    assert doc["run"]["status"] == RunStatus.PAUSED and doc["run"]["can_resume"]
    answer = api.get(f"/api/v1/automation/run_progress/?site_id={site.pk}").json()
    assert answer["run"] | {"status_text": ""} == doc["run"] | {"status_text": ""}
    with pytest.raises(ValueError, match="extra"):
        Snapshot.model_validate(doc | {"percent": 5})


def test_the_api_schema_is_generated_from_the_snapshot(api):
    schema = api.get("/api/openapi.json").json()
    components = schema["components"]["schemas"]
    assert set(components["Snapshot"]["properties"]) == set(Snapshot.model_fields)
    run = components["RunState"]["properties"]
    assert run["can_pause"]["type"] == "boolean"
    status = components[run["status"]["$ref"].rsplit("/", 1)[1]]
    assert set(status["enum"]) == {s.value for s in RunStatus}


def test_the_page_shows_the_shared_snapshot_itself_and_compares_no_status_words(site, monkeypatch):
    monkeypatch.setattr(progress, "REUSE_SECONDS", 600.0)  # (a busy machine: one build all along)
    Keyword.objects.create(site=site, keyword="pond liner", normalized="pond liner")
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    engine.pause_run(run.pk)
    shown = page.live_context(site, can_operate=True)["snapshot"]
    # The page's view holds the build every reader of this version shares, not a copy of it.
    assert shown.snapshot is progress.read(run)
    assert [c.input_count for c in shown.cards] == [s.input_count for s in shown.snapshot.stages]
    assert shown.run.can_resume and shown.cards[0].badge == "Paused"
    # Templates read the flags the snapshot and the page's view carry, never status words.
    templates = Path(page.__file__).parent / "templates"
    sources = [*templates.rglob("*.html"), TEMPLATES / "web" / "templates" / "web" / "sites.html"]
    compared = re.compile(r"(status|reason|outcome)\w*\s*(==|!=)")
    assert [p.name for p in sources if compared.search(p.read_text())] == []
