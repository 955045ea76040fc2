"""The Automation pages and their small action views (htmx posts answered with the re-rendered
live region), plus health checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from cascade.accounts.access import page_site
from cascade.accounts.models import Site
from cascade.automation import engine, page
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import RunAction
from cascade.lib.limits import digits


def _dismissed(request: HttpRequest) -> list[str]:
    return list(request.session.get("dismissed_runs", []))


@login_required
@require_GET
def automation_page(request: HttpRequest, site_id: int) -> HttpResponse:
    site, can_operate = page_site(request, site_id)
    context = page.live_context(site, can_operate, _dismissed(request))
    return render(request, "automation/page.html", context)


def _live_response(
    request: HttpRequest, site: Site, can_operate: bool, error: str = "", status=200
):
    """The live region for htmx to morph in, with the flash message swapped out of band (a plain
    form post, e.g. from a run's detail page, is sent to the Automation page instead)."""
    if request.method == "POST" and not getattr(request, "htmx", False):
        if error:
            messages.error(request, error)
        return redirect("automation", site.pk)
    context = page.live_context(site, can_operate, _dismissed(request))
    html = render_to_string("automation/live.html", context)
    flash = (
        format_html('<div id="flash" class="flash" role="alert" hx-swap-oob="true">{}</div>', error)
        if error
        else '<div id="flash" class="flash" role="alert" hx-swap-oob="true" hidden></div>'
    )
    response = HttpResponse(html + flash, status=status)
    response["X-Cascade-State"] = context["state_key"]
    return response


@login_required
@require_GET
def automation_live(request: HttpRequest, site_id: int) -> HttpResponse:
    """The live region alone: what the event stream sends, for the page's polling fallback."""
    site, can_operate = page_site(request, site_id)
    return _live_response(request, site, can_operate)


RUN_ACTIONS: dict[str, Callable[[Any], Any]] = {
    RunAction.PAUSE: engine.pause_run,
    RunAction.RESUME: engine.resume_run,
    RunAction.CANCEL: engine.cancel_run,
    RunAction.RETRY_FAILED: engine.retry_failed,
}


@login_required
@require_POST
def automation_action(request: HttpRequest, site_id: int, action: str) -> HttpResponse:
    """Run Now, pause, resume, cancel, retry failed or dismiss the summary, then answer the
    re-rendered live region (with the reason when the engine refused)."""
    site, can_operate = page_site(request, site_id)
    run = None
    try:
        run_id = uuid.UUID(request.POST.get("run_id", ""))
        run = AutomationRun.objects.filter(site=site, pk=run_id).first()
    except ValueError:
        pass
    if action == "dismiss":
        if run is not None:
            request.session["dismissed_runs"] = [*_dismissed(request)[-49:], run.run_id]
        return _live_response(request, site, can_operate)
    if action != "run-now" and action not in RUN_ACTIONS:
        raise Http404("No such action.")
    if not can_operate:
        error = "Your role may watch this site but not change it."
        return _live_response(request, site, can_operate, error, status=403)
    try:
        if action == "run-now":
            engine.start_run(site)
        elif run is None:
            return _live_response(request, site, can_operate, "That run does not exist.", 404)
        elif action == RunAction.RETRY_FAILED and digits(request.POST.get("item", "")):
            engine.retry_failed(run.pk, item=int(request.POST["item"]))
        else:
            RUN_ACTIONS[action](run.pk)
    except engine.EngineRefusal as refusal:
        return _live_response(request, site, can_operate, refusal.detail, refusal.status)
    return _live_response(request, site, can_operate)
