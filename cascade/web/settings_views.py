"""A site's settings page: how it writes (tone, audience, language, target length) and how its
pipeline runs (stages enabled, ideas per cluster, pictures per article, batch sizes, limits).
The pipeline form is checked by the same rules as `PUT automation/config/`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from pydantic import ValidationError

from cascade.accounts.access import page_site
from cascade.accounts.models import Site
from cascade.automation import config as run_config
from cascade.automation import schedules
from cascade.automation.models import Schedule
from cascade.automation.settings_api import BATCH_MAX, ConfigIn
from cascade.automation.stages import registry
from cascade.lib.limits import digits, text_problem

WRITING = {"tone": 200, "audience": 200, "language": 40}  # field: most characters


def _number(value: str) -> int | None | str:
    value = value.strip()
    if not value:
        return None
    return int(value) if digits(value) else value  # a non-number goes on to be refused


def _bounds(field: str) -> tuple[int | None, int | None]:
    """A number's bounds, as the API's schema states them."""
    stated = ConfigIn.model_json_schema()["properties"].get(field, {})
    for option in [stated, *stated.get("anyOf", [])]:
        if "minimum" in option:
            return option["minimum"], option.get("maximum")
    return None, None


def _explain(field: str, message: str) -> str:
    """A refused number in words a person can act on: "A whole number between 300 and 5000."."""
    low, high = _bounds(field)
    if low is not None and high is not None:
        return f"A whole number between {low} and {high:,}."
    if low is None:
        return message.removeprefix("Value error, ")
    return f"A whole number of at least {low}."


def _pipeline(post: QueryDict) -> dict[str, Any]:
    """The pipeline form as the API's configuration body."""
    numbers = registry().numbers
    return {
        "stages_enabled": [f"stage_{n}" in post for n in numbers],
        "batch_sizes": {
            str(n): _number(post.get(f"batch_{n}", ""))
            for n in numbers
            if post.get(f"batch_{n}", "").strip()
        },
        "ideas_per_cluster": _number(post.get("ideas_per_cluster", "")),
        "images_per_content": _number(post.get("images_per_content", "")),
        "target_words": _number(post.get("target_words", "")),
        "max_items_per_stage": _number(post.get("max_items_per_stage", "")),
        "max_credits_per_run": _number(post.get("max_credits_per_run", "")),
    }


def _save(request: HttpRequest, site: Site) -> dict[str, str]:
    errors: dict[str, str] = {}
    writing = {f: " ".join(request.POST.get(f, "").split()) for f in WRITING}
    for field, limit in WRITING.items():
        if problem := text_problem(request.POST.get(field, "")):
            errors[field] = f"Use visible characters only: this {problem}."
        elif len(writing[field]) > limit:
            errors[field] = f"At most {limit} characters."
    values = _pipeline(request.POST)
    required = ("ideas_per_cluster", "images_per_content", "target_words")
    for field in required:
        if values[field] is None:
            errors[field] = "Required."
    try:
        checked = ConfigIn.model_validate(
            {k: v for k, v in values.items() if not (k in required and v is None)}
        )
    except ValidationError as exc:
        for e in exc.errors():
            loc = [str(p) for p in e["loc"]]
            if loc[0] == "batch_sizes" and len(loc) > 1:  # (the stage is last: it is optional)
                if loc[-1] == "none":
                    continue  # (pydantic's other branch: the field is optional)
                errors.setdefault(
                    f"batch_{loc[-1]}", f"A whole number between 1 and {BATCH_MAX:,}."
                )
            else:
                errors.setdefault(loc[0], _explain(loc[0], e["msg"]))
    if not errors:
        for field, value in writing.items():
            setattr(site, field, value)
        site.save()
        run_config.save(site, checked.model_dump(exclude_unset=True))
    return errors


@login_required
@require_http_methods(["GET", "POST"])
def site_settings(request: HttpRequest, site_id: int) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not can_edit:
            errors["form"] = "Your role may watch this site but not change it."
        else:
            errors = _save(request, site)
            if not errors:
                messages.success(request, "Settings saved. Runs started from now on use them.")
                return redirect("site-settings", site.pk)
    return _page(request, site, can_edit, errors)


def _page(
    request: HttpRequest,
    site: Site,
    can_edit: bool,
    errors: dict[str, str],
    schedule_sent: dict[str, Any] | None = None,
    schedule_errors: dict[str, str] | None = None,
) -> HttpResponse:
    """The settings page; after a refused form, with what was typed and why it was refused."""
    refused = bool(errors)
    config = run_config.load(site)
    stages = [
        {
            "number": s.number,
            "name": s.name,
            "enabled": request.POST.get(f"stage_{s.number}") is not None
            if refused
            else config["stages_enabled"][s.number - 1],
            "batch": (request.POST if refused else {}).get(f"batch_{s.number}")
            or config["batch_sizes"].get(str(s.number), ""),
            "default_batch": s.batch_size,
            "error": errors.get(f"batch_{s.number}"),
        }
        for s in registry()
    ]
    shown = {f: getattr(site, f) for f in WRITING} | {
        k: "" if v is None else v for k, v in config.items() if not isinstance(v, list | dict)
    }
    if refused:  # show what was sent, with the reasons it was refused
        shown |= {k: v for k, v in request.POST.items() if k in shown}
    # the schedule, or its form as it was sent when it was refused
    schedule = schedules.describe(Schedule.objects.filter(site=site).first()) | (
        schedule_sent or {}
    )
    context = {
        "site": site,
        "errors": errors,
        "can_edit": can_edit,
        "form": shown,
        "stages": stages,
        "schedule": schedule,
        "schedule_errors": schedule_errors or {},
    }
    status = 403 if "form" in errors else 422 if errors or schedule_errors else 200
    return render(request, "web/site_settings.html", context, status=status)


@login_required
@require_POST
def schedule_settings(request: HttpRequest, site_id: int) -> HttpResponse:
    """The site's schedule from the settings page's schedule form."""
    site, can_edit = page_site(request, site_id)
    if not can_edit:
        messages.error(request, "Your role may watch this site but not change its schedule.")
        return redirect(f"{reverse('site-settings', args=[site.pk])}#schedule")
    cron = request.POST.get("cron", "")[:100]
    tz_name = request.POST.get("timezone", "UTC").strip()[:64] or "UTC"
    wrong = {  # every field's, not only the first
        field: reason[:1].upper() + reason[1:] + "."
        for field, reason in schedules.problems(cron, tz_name).items()
    }
    enabled = request.POST.get("enabled") is not None
    catch_up = request.POST.get("catch_up") is not None
    if wrong:
        sent = {"cron": cron, "timezone": tz_name, "enabled": enabled, "catch_up": catch_up}
        return _page(request, site, can_edit, {}, sent, wrong)
    schedule = schedules.save(site, cron=cron, tz_name=tz_name, enabled=enabled, catch_up=catch_up)
    messages.success(
        request,
        "Schedule saved." + (" Runs start by themselves." if schedule.enabled else " It is off."),
    )
    return redirect(f"{reverse('site-settings', args=[site.pk])}#schedule")
