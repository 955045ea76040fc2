"""Automation endpoints (contract §6). Paths stay compatible with the earlier product's client."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field, field_validator

from cascade.accounts.access import site_for
from cascade.automation import config as run_config
from cascade.automation import engine, progress
from cascade.automation.models import ACTIVE, AutomationRun, RunEvent
from cascade.automation.stages import STAGES
from cascade.lib.paging import PageQuery, page

router = Router()


class SiteQuery(Schema):
    site_id: int


class RunQuery(Schema):
    site_id: int
    run_id: uuid.UUID


class OptionalRunQuery(Schema):
    site_id: int
    run_id: uuid.UUID | None = None


def _run(site, run_id) -> AutomationRun:
    run = AutomationRun.objects.filter(site=site, pk=run_id).first()
    if run is None:
        raise HttpError(404, f"Run {run_id} not found for site {site.pk}.")
    return run


@router.get("pipeline_overview/")
def pipeline_overview(request: HttpRequest, q: Query[SiteQuery]):
    return progress.overview(site_for(request, q.site_id))


@router.post("run_now/", response={201: dict})
def run_now(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id, operate=True)
    run = engine.start_run(site)
    return Status(201, {"run_id": run.run_id})


@router.post("pause/")
def pause(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    return progress.build_snapshot(engine.pause_run(run.pk))


@router.post("resume/")
def resume(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    return progress.build_snapshot(engine.resume_run(run.pk))


@router.post("cancel/")
def cancel(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    return progress.build_snapshot(engine.cancel_run(run.pk))


@router.post("retry_failed/", response={201: dict})
def retry_failed(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    new = engine.retry_failed(run.pk)
    return Status(201, {"run_id": new.run_id, "retry_of": run.run_id})


@router.get("run_progress/")
def run_progress(request: HttpRequest, q: Query[OptionalRunQuery]):
    site = site_for(request, q.site_id)
    doc = progress.snapshot_for(site.pk, q.run_id)
    if doc is None:
        raise HttpError(
            404,
            f"Run {q.run_id} not found for site {site.pk}."
            if q.run_id
            else f"Site {site.pk} has no runs yet.",
        )
    return doc


@router.get("current_run/")
def current_run(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    run = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
    return progress.build_snapshot(run) if run else None


@router.get("current_processing/")
def current_processing(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    run = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
    if run is None:
        return None
    snapshot = progress.build_snapshot(run)
    stage = next((s for s in snapshot["stages"] if s["number"] == run.current_stage), None)
    if stage is None:
        return None
    return {"run_id": run.run_id, "version": snapshot["version"], "stage": stage}


@router.get("history/")
def history(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    items = [
        {k: progress._iso(v) if k.endswith("_at") else v for k, v in row.items()}
        for row in progress.run_summaries(site.pk)
    ]
    return {"count": len(items), "items": items}


@router.get("logs/")
def logs(request: HttpRequest, q: Query[RunQuery], paging: Query[PageQuery]):
    run = _run(site_for(request, q.site_id), q.run_id)
    events = RunEvent.objects.filter(run=run).order_by("-id")
    return page(
        events,
        paging.limit,
        paging.offset,
        lambda e: {
            "id": e.id,
            "at": progress._iso(e.at),
            "kind": e.kind,
            "stage": e.stage,
            "item_id": e.item_id,
            "message": e.message,
        },
    )


class ConfigIn(Schema):
    stages_enabled: list[bool] | None = Field(default=None, min_length=7, max_length=7)
    batch_sizes: dict[str, int] | None = None
    ideas_per_cluster: int | None = Field(default=None, ge=1, le=10)
    images_per_content: int | None = Field(default=None, ge=0, le=6)
    target_words: int | None = Field(default=None, ge=300, le=5000)
    max_items_per_stage: int | None = Field(default=None, ge=1)
    max_credits_per_run: int | None = Field(default=None, ge=1)

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return value
        for key, size in value.items():
            if key not in {str(n) for n in STAGES}:
                raise ValueError(f"stage {key!r} does not exist; use 1-7")
            if not 1 <= size <= 1000:
                raise ValueError(f"batch size of stage {key} must be between 1 and 1000")
        return value


@router.get("config/")
def get_config(request: HttpRequest, q: Query[SiteQuery]):
    return run_config.load(site_for(request, q.site_id))


@router.put("config/")
def put_config(request: HttpRequest, q: Query[SiteQuery], payload: ConfigIn):
    site = site_for(request, q.site_id, operate=True)
    # Only the fields the client sent change; explicit nulls clear the optional limits.
    values = payload.model_dump(exclude_unset=True)
    for field in (
        "stages_enabled",
        "batch_sizes",
        "ideas_per_cluster",
        "images_per_content",
        "target_words",
    ):
        if field in values and values[field] is None:
            raise HttpError(422, f"{field}: may not be null")
    return run_config.save(site, values)
