"""Automation endpoints (contract §6). Paths stay compatible with the earlier product's client.

(No `from __future__ import annotations` here: Ninja's `@paginate` wrapper resolves the view's
annotations in its own module, where string annotations such as "Query[RunQuery]" mean nothing.)
"""

import uuid
from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import AfterValidator, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from cascade.accounts.access import site_for
from cascade.automation import config as run_config
from cascade.automation import engine, estimates, latest, progress, schedules
from cascade.automation.models import ACTIVE, AutomationRun, RunEvent, Schedule
from cascade.automation.schemas import (
    Config,
    Conflict,
    CreditsRefused,
    CurrentProcessing,
    EventOut,
    History,
    Overview,
    RunCreated,
    SiteSettings,
    Snapshot,
)
from cascade.automation.stages import registry
from cascade.lib.limits import MAX_ID
from cascade.lib.paging import Paging
from cascade.lib.schemas import (
    READ_ERRORS,
    WHOLE,
    WRITE_ERRORS,
    Body,
    NoNulls,
    VisibleLine,
    VisibleText,
    Whole,
    matching,
)

router = Router()
sites_router = Router()  # per-site settings, mounted under /v1/sites/


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
    return progress.build_snapshot(run) if run else None


@router.get("current_processing/", response={200: CurrentProcessing | None, **READ_ERRORS})
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


@router.get("history/", response={200: History, **READ_ERRORS})
def history(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    items = [
        {k: progress.iso(v) if k.endswith("_at") else v for k, v in row.items()}
        for row in progress.run_summaries(site.pk)
    ]
    return {"count": len(items), "items": items}


@router.get("logs/", response={200: list[EventOut], **READ_ERRORS})
@paginate(Paging)
def logs(request: HttpRequest, q: Query[RunQuery]):
    run = _run(site_for(request, q.site_id), q.run_id)
    return RunEvent.objects.filter(run=run).order_by("-id")


def _stage_list(schema: dict[str, Any]) -> None:
    schema.update(minItems=len(registry()), maxItems=len(registry()))


def _stage_keys(schema: dict[str, Any]) -> None:
    numbers = "|".join(str(n) for n in registry().numbers)
    schema["propertyNames"] = {"pattern": f"^({numbers})$"}
    schema["additionalProperties"] = {"type": "integer", "minimum": 1, "maximum": 1000}


class ConfigIn(NoNulls):
    # Left out, a field keeps its value; the limits may be null (which clears them).
    nullable = frozenset({"max_items_per_stage", "max_credits_per_run"})
    stages_enabled: list[bool] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_stage_list
    )
    batch_sizes: dict[str, Whole] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_stage_keys
    )
    ideas_per_cluster: Annotated[int, Field(ge=1, le=10), WHOLE] | SkipJsonSchema[None] = None
    images_per_content: Annotated[int, Field(ge=0, le=6), WHOLE] | SkipJsonSchema[None] = None
    target_words: Annotated[int, Field(ge=300, le=5000), WHOLE] | SkipJsonSchema[None] = None
    max_items_per_stage: Annotated[int, Field(ge=1, le=1_000_000), WHOLE] | None = None
    max_credits_per_run: Annotated[int, Field(ge=1, le=1_000_000_000), WHOLE] | None = None

    @field_validator("stages_enabled")
    @classmethod
    def _stages_enabled(cls, value: list[bool] | None) -> list[bool] | None:
        if value is not None and len(value) != len(registry()):
            raise ValueError(f"must list one boolean for each of the {len(registry())} stages")
        return value

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return value
        numbers = registry().numbers
        for key, size in value.items():
            if key not in {str(n) for n in numbers}:
                raise ValueError(f"stage {key!r} does not exist; use {numbers[0]}-{numbers[-1]}")
            if not 1 <= size <= 1000:
                raise ValueError(f"batch size of stage {key} must be between 1 and 1000")
        return value


@router.get("config/", response={200: Config, **READ_ERRORS})
def get_config(request: HttpRequest, q: Query[SiteQuery]):
    return run_config.load(site_for(request, q.site_id))


@router.put("config/", response={200: Config, **WRITE_ERRORS})
def put_config(request: HttpRequest, q: Query[SiteQuery], payload: ConfigIn):
    site = site_for(request, q.site_id, operate=True)
    # Only the fields the client sent change; explicit nulls clear the optional limits.
    return run_config.save(site, payload.model_dump(exclude_unset=True))


class ScheduleIn(Body):
    enabled: bool = True
    cron: Annotated[
        str,
        AfterValidator(
            matching(schedules.CRON_PATTERN, "Give five cron fields, e.g. '0 6 * * 1-5'.")
        ),
    ] = Field(max_length=100, json_schema_extra={"pattern": schedules.CRON_PATTERN})
    timezone: str = Field(
        default="UTC", json_schema_extra=lambda s: s.update(enum=list[Any](schedules.ZONES))
    )
    catch_up: bool = True


class ScheduleOut(Schema):
    enabled: bool
    cron: str
    timezone: str
    catch_up: bool
    next_scheduled_at: datetime | None
    last_result: str


@router.get("schedule/", response={200: ScheduleOut, **READ_ERRORS})
def get_schedule(request: HttpRequest, q: Query[SiteQuery]):
    site = site_for(request, q.site_id)
    return schedules.describe(Schedule.objects.filter(site=site).first())


@router.put("schedule/", response={200: ScheduleOut, **WRITE_ERRORS})
def put_schedule(request: HttpRequest, q: Query[SiteQuery], payload: ScheduleIn):
    """Runs start by themselves at the times a cron expression names, in a time zone."""
    site = site_for(request, q.site_id, operate=True)
    try:
        schedule = schedules.save(
            site,
            cron=payload.cron,
            tz_name=payload.timezone,
            enabled=payload.enabled,
            catch_up=payload.catch_up,
        )
    except schedules.BadSchedule as exc:
        raise HttpError(422, str(exc)) from None
    return schedules.describe(schedule)


# --- a site's writing settings (under /v1/sites/) ------------------------------------------------


class SiteSettingsIn(NoNulls):
    tone: Annotated[VisibleText, Field(max_length=200)] | SkipJsonSchema[None] = None
    audience: Annotated[VisibleText, Field(max_length=200)] | SkipJsonSchema[None] = None
    language: Annotated[VisibleLine, Field(min_length=2, max_length=40)] | SkipJsonSchema[None] = (
        None
    )
    target_words: Annotated[int, Field(ge=300, le=5000), WHOLE] | SkipJsonSchema[None] = None


def site_settings(site) -> dict:
    return {
        "tone": site.tone,
        "audience": site.audience,
        "language": site.language,
        "target_words": run_config.load(site)["target_words"],
    }


@sites_router.get("{id:site_id}/settings/", response={200: SiteSettings, **READ_ERRORS})
def get_site_settings(request: HttpRequest, site_id: int):
    return site_settings(site_for(request, site_id))


@sites_router.put("{id:site_id}/settings/", response={200: SiteSettings, **WRITE_ERRORS})
def put_site_settings(request: HttpRequest, site_id: int, payload: SiteSettingsIn):
    site = site_for(request, site_id, operate=True)
    values = payload.model_dump(exclude_unset=True)
    for field in ("tone", "audience", "language"):
        if field in values:
            setattr(site, field, (values[field] or "").strip())  # (checked by the schema)
    site.save()
    if values.get("target_words") is not None:
        run_config.save(site, {"target_words": values["target_words"]})
    return site_settings(site)
