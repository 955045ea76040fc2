"""The Automation pages and their small action views (htmx posts answered with the re-rendered
live region), plus health checks."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from cascade.accounts.access import memberships_of, page_site, sites_of
from cascade.accounts.models import CAN_OPERATE, Site
from cascade.automation import engine, live, overview, page
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import RunAction
from cascade.lib.limits import MAX_ID, digits

log = logging.getLogger("cascade.health")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Whether the server can reach its database. The reason of a failure goes to the log (and
    to staff), never to anyone who asks: it may name hosts and ports."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the point of this endpoint is to say so
        log.error("health check: the database is unreachable: %s", exc)
        body = {"status": "error", "detail": "The database is unreachable."}
        try:
            if _is_staff(request):
                body["reason"] = str(exc)
        except Exception:  # who asks is unknown without a database: tell nobody
            pass
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok"})


def _is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return bool(user.is_staff)
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        from cascade.api import BearerToken

        user = BearerToken().authenticate(request, header.split(" ", 1)[1].strip())
        return bool(user and user.is_staff)
    return False


@require_GET
def live_stats(request: HttpRequest) -> HttpResponse:
    """The cost of change detection in this process, for benchmarks and monitoring (staff
    only): polls of the database (`checks`), reads of one watcher's state after a change it
    was told of without its new version (`reads`), watchers and the viewers they serve."""
    if not _is_staff(request):
        return JsonResponse(
            {"detail": "Staff only: log in as staff or send a staff token."}, status=403
        )
    viewers = sum(len(w.queues) for w in live.hub.watchers.values())
    return JsonResponse(
        {
            "checks": live.STATS["checks"],
            "reads": live.STATS["reads"],
            "watchers": len(live.hub.watchers),
            "viewers": viewers,
        }
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    sites = sites_of(request.user)
    if len(sites) == 1:
        return redirect("automation", sites[0].pk)
    return redirect("sites")


@login_required
@require_GET
def site_list(request: HttpRequest) -> HttpResponse:
    """Every site at a glance, sortable by each column, kept live by one stream."""
    sort = request.GET.get("sort", "name")
    sort = sort if sort in overview.SORTS else "name"
    rows = overview.rows(request.user, sort)
    can_create = memberships_of(request.user).filter(role__in=CAN_OPERATE).exists()
    context = {
        "rows": rows,
        "sites": [row["site"] for row in rows],
        "can_create": can_create,
        "sort": sort,
        "columns": overview.COLUMNS,
    }
    return render(request, "automation/sites.html", context)


@login_required
@require_GET
def site_go(request: HttpRequest) -> HttpResponse:
    """The site switcher: a form GET, or an htmx request answered with HX-Redirect."""
    chosen = request.GET.get("site", "").strip()
    if chosen.isascii() and chosen.isdecimal() and 0 < int(chosen) <= MAX_ID:
        target = redirect("automation", int(chosen))
    else:  # nothing chosen, or no site could have this id
        target = redirect("sites")
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target["Location"]
        return response
    return target


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
