"""The Automation page and its actions (htmx posts answered with a flash message; the page's
state comes by its event stream)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from cascade.accounts.access import page_site
from cascade.accounts.models import Site
from cascade.automation import engine, page, progress
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import RunAction
from cascade.lib.limits import digits
from cascade.live.hub import hub


def _dismissed(request: HttpRequest) -> list[str]:
    return list(request.session.get("dismissed_runs", []))


@login_required
@require_GET
def automation_page(request: HttpRequest, site_id: int) -> HttpResponse:
    site, can_operate = page_site(request, site_id)
    context = page.live_context(site, can_operate, _dismissed(request))
    return render(request, "automation/page.html", context)


def _answer(request: HttpRequest, site: Site, error: str = "", status: int = 200) -> HttpResponse:
    """An action's answer: the flash message (the reason when the engine refused), swapped in
    out of band; the page's new state comes by its event stream, which has it already (a plain
    form post, e.g. from a run's detail page, is sent to the Automation page instead)."""
    if not getattr(request, "htmx", False):
        if error:
            messages.error(request, error)
        return redirect("automation", site.pk)
    flash = (
        format_html('<div id="flash" class="flash" role="alert" hx-swap-oob="true">{}</div>', error)
        if error
        else '<div id="flash" class="flash" role="alert" hx-swap-oob="true" hidden></div>'
    )
    return HttpResponse(flash, status=status)


RUN_ACTIONS: dict[str, Callable[[Any], Any]] = {
    RunAction.PAUSE: engine.pause_run,
    RunAction.RESUME: engine.resume_run,
    RunAction.CANCEL: engine.cancel_run,
    RunAction.RETRY_FAILED: engine.retry_failed,
}


@login_required
@require_POST
async def automation_action(request: HttpRequest, site_id: int, action: str) -> HttpResponse:
    """Run Now, pause, resume, cancel, retry failed or dismiss the summary. The answer waits
    (briefly) until this process's streams have sent the new state to the site's viewers, so
    the page shows the click's effect by the time the click is done."""
    hub.hurry(site_id)
    response, changed = await sync_to_async(_act)(request, site_id, action)
    if changed is not None:
        await hub.sent_to_viewers(site_id, str(changed.run_id), changed.version)
    return response


def _act(
    request: HttpRequest, site_id: int, action: str
) -> tuple[HttpResponse, AutomationRun | None]:
    """The action done, its answer, and the site's latest run when the action changed it."""
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
        return _answer(request, site), None
    if action != "run-now" and action not in RUN_ACTIONS:
        raise Http404("No such action.")
    if not can_operate:
        error = "Your role may watch this site but not change it."
        return _answer(request, site, error, status=403), None
    try:
        if action == "run-now":
            engine.start_run(site)
        elif run is None:
            return _answer(request, site, "That run does not exist.", 404), None
        elif action == RunAction.RETRY_FAILED and digits(request.POST.get("item", "")):
            engine.retry_failed(run.pk, item=int(request.POST["item"]))
        else:
            RUN_ACTIONS[action](run.pk)
    except engine.EngineRefusal as refusal:
        return _answer(request, site, refusal.detail, refusal.status), None
    return _answer(request, site), progress.latest_run(site.pk)
