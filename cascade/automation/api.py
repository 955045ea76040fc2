"""Automation endpoints (contract §6). Paths stay compatible with the earlier product's client.

(No `from __future__ import annotations` here: Ninja's `@paginate` wrapper resolves the view's
annotations in its own module, where string annotations such as "Query[RunQuery]" mean nothing.)
"""

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import Field

from cascade.accounts.access import site_for
from cascade.automation import engine, estimates, latest, progress, schedules
from cascade.automation.history import run_summaries
from cascade.automation.models import AutomationRun, RunEvent
from cascade.automation.schemas import (
    Conflict,
    CreditsRefused,
    CurrentProcessing,
    EventOut,
    History,
    Overview,
    RunCreated,
    Snapshot,
)
from cascade.automation.statuses import ACTIVE
from cascade.lib.limits import MAX_ID
from cascade.lib.paging import Paging
from cascade.lib.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
)

router = Router()


class SiteQuery(Schema):
    site_id: int = Field(ge=1, le=MAX_ID)


class RunQuery(SiteQuery):
    run_id: uuid.UUID


class OptionalRunQuery(SiteQuery):
    run_id: uuid.UUID | None = None


def _run(site, run_id) -> AutomationRun:
    run = AutomationRun.objects.filter(site=site, pk=run_id).first()
    if run is None:
        raise HttpError(404, f"Run {run_id} not found for site {site.pk}.")
    return run


STEER = {**WRITE_ERRORS, 200: Snapshot, 409: Conflict}


@router.get("pipeline_overview/", response={200: Overview, **READ_ERRORS})
def pipeline_overview(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    return {**estimates.overview(site), "next_scheduled_at": schedules.next_scheduled_at(site.pk)}


@router.post(
    "run_now/",
    response={201: RunCreated, 402: CreditsRefused, 409: Conflict, **WRITE_ERRORS},
)
def run_now(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id, operate=True)
    run = engine.start_run(site)
    return Status(201, {"run_id": run.run_id})


@router.post("pause/", response=STEER)
def pause(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    return progress.build_snapshot(engine.pause_run(run.pk))


@router.post("resume/", response=STEER)
def resume(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    return progress.build_snapshot(engine.resume_run(run.pk))


@router.post("cancel/", response=STEER)
def cancel(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    return progress.build_snapshot(engine.cancel_run(run.pk))


@router.post(
    "retry_failed/",
    response={201: RunCreated, 402: CreditsRefused, 409: Conflict, **WRITE_ERRORS},
)
def retry_failed(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id, operate=True), q.run_id)
    new = engine.retry_failed(run.pk)
    return Status(201, {"run_id": new.run_id, "retry_of": run.run_id})


@router.get("run_progress/", response={200: Snapshot, **READ_ERRORS})
def run_progress(request: HttpRequest, q: Query[OptionalRunQuery]):
    # The hottest read of all: who may read it and which version to send in one query, then
    # the JSON, encoded once per version and shared (the schema above documents it; this
    # document is the one the snapshot tests check against it).
    found = latest.visible_run(request.user.pk or 0, q.site_id, q.run_id)
    if found is None:
        raise HttpError(404, f"Site {q.site_id} not found.")
    run_id, version = found
    if run_id is None:
        raise HttpError(
            404,
            f"Run {q.run_id} not found for site {q.site_id}."
            if q.run_id
            else f"Site {q.site_id} has no runs yet.",
        )
    return HttpResponse(progress.snapshot_json(run_id, version), content_type="application/json")


@router.get("current_run/", response={200: Snapshot | None, **READ_ERRORS})
def current_run(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    run = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
    return progress.read(run) if run else None


@router.get("current_processing/", response={200: CurrentProcessing | None, **READ_ERRORS})
def current_processing(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    run = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
    if run is None:
        return None
    snapshot = progress.read(run)
    stage = next((s for s in snapshot.stages if s.number == run.current_stage), None)
    if stage is None:
        return None
    return {"run_id": run.run_id, "version": snapshot.version, "stage": stage}


@router.get("history/", response={200: History, **READ_ERRORS})
def history(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    items = [
        {k: progress.iso(v) if k.endswith("_at") else v for k, v in row.items()}
        for row in run_summaries(site.pk)
    ]
    return {"count": len(items), "items": items}


@router.get("logs/", response={200: list[EventOut], **READ_ERRORS})
@paginate(Paging)
def logs(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id), q.run_id)
    return RunEvent.objects.filter(run=run).order_by("-id")
