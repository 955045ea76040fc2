"""The automation settings endpoints (contract §6): a site's pipeline configuration and its
schedule under /v1/automation/, its writing settings under /v1/sites/.

(No `from __future__ import annotations`: Ninja resolves the views' annotations at import.)
"""

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import AfterValidator, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from cascade.accounts.access import site_for
from cascade.automation import config as run_config
from cascade.automation import schedules
from cascade.automation.api import SiteQuery
from cascade.automation.models import Schedule
from cascade.automation.schemas import Config, SiteSettings
from cascade.automation.stage_types import TARGET_WORDS_MAX, TARGET_WORDS_MIN
from cascade.automation.stages import registry
from cascade.lib.schemas import (
    READ_ERRORS,
    WHOLE,
    WRITE_ERRORS,
    Body,
    NoNulls,
    VisibleLine,
    VisibleText,
    matching,
)

router = Router()  # mounted under /v1/automation/
sites_router = Router()  # per-site settings, mounted under /v1/sites/


BATCH_MAX = 1000  # items a stage may claim at once


def _stage_list(schema: dict[str, Any]) -> None:
    schema.update(minItems=len(registry()), maxItems=len(registry()))


def _stage_keys(schema: dict[str, Any]) -> None:
    numbers = "|".join(str(n) for n in registry().numbers)
    schema["propertyNames"] = {"pattern": f"^({numbers})$"}
    schema["additionalProperties"] = {"type": "integer", "minimum": 1, "maximum": BATCH_MAX}


class ConfigIn(NoNulls):
    # Left out, a field keeps its value; the limits may be null (which clears them).
    nullable = frozenset({"max_items_per_stage", "max_credits_per_run"})
    stages_enabled: list[bool] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_stage_list
    )
    batch_sizes: dict[str, Annotated[int, Field(ge=1, le=1000), WHOLE]] | SkipJsonSchema[None] = (
        Field(default=None, json_schema_extra=_stage_keys)
    )
    ideas_per_cluster: Annotated[int, Field(ge=1, le=10), WHOLE] | SkipJsonSchema[None] = None
    images_per_content: Annotated[int, Field(ge=0, le=6), WHOLE] | SkipJsonSchema[None] = None
    target_words: (
        Annotated[int, Field(ge=TARGET_WORDS_MIN, le=TARGET_WORDS_MAX), WHOLE]
        | SkipJsonSchema[None]
    ) = None
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
        for key in value:
            if key not in {str(n) for n in numbers}:
                raise ValueError(f"stage {key!r} does not exist; use {numbers[0]}-{numbers[-1]}")
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
    target_words: (
        Annotated[int, Field(ge=TARGET_WORDS_MIN, le=TARGET_WORDS_MAX), WHOLE]
        | SkipJsonSchema[None]
    ) = None


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
