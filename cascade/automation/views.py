from __future__ import annotations

import json
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from django.views.static import serve

from cascade.accounts.access import site_and_role, sites_of
from cascade.accounts.models import CAN_OPERATE, Site
from cascade.automation import live, page, progress
from cascade.automation.models import AutomationRun


@require_GET
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the point of this endpoint is to say so
        return JsonResponse({"status": "error", "detail": f"database: {exc}"}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
def live_stats(request):
    """How many version checks this process's watchers made and how many viewers they serve:
    the cost of change detection, for benchmarks and monitoring."""
    viewers = sum(len(w.queues) for w in live.hub.watchers.values())
    return JsonResponse(
        {"checks": live.STATS["checks"], "watchers": len(live.hub.watchers), "viewers": viewers}
    )


@require_GET
def media(request, path):
    """Generated pictures. Behind a reverse proxy, let it serve MEDIA_ROOT directly instead."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


def _site(request: HttpRequest, site_id: int) -> tuple[Site, bool]:
    site, role = site_and_role(request.user, site_id)
    if site is None:
        raise Http404("No such site.")
    return site, role in CAN_OPERATE


@login_required
@require_GET
def home(request):
    sites = sites_of(request.user)
    if len(sites) == 1:
        return redirect("automation", sites[0].pk)
    return redirect("sites")


@login_required
@require_GET
def site_list(request):
    sites = sites_of(request.user)
    rows = [{"site": s, "keywords": s.keywords.count()} for s in sites]
    return render(request, "automation/sites.html", {"rows": rows, "sites": sites})


@login_required
@require_GET
def site_go(request):
    try:
        site_id = int(request.GET.get("site", ""))
    except ValueError:
        return redirect("sites")
    return redirect("automation", site_id)


@login_required
@require_GET
def automation_page(request, site_id: int):
    site, can_operate = _site(request, site_id)
    context = page.live_context(site, can_operate)
    context.update(
        sites=sites_of(request.user), dismissed=request.session.get("dismissed_runs", [])
    )
    return render(request, "automation/page.html", context)


@login_required
@require_GET
def automation_live(request, site_id: int):
    """The live region alone: what the event stream sends, for the page's polling fallback."""
    site, can_operate = _site(request, site_id)
    return HttpResponse(page.render_live(site, can_operate))


@login_required
@require_GET
def run_detail(request, site_id: int, run_id: uuid.UUID):
    site, can_operate = _site(request, site_id)
    run = AutomationRun.objects.filter(site=site, pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    snapshot = page.decorate(progress.build_snapshot(run))
    return render(
        request,
        "automation/run_detail.html",
        {
            "site": site,
            "run": run,
            "snapshot": snapshot,
            "sites": sites_of(request.user),
            "timeline": page.timeline(snapshot),
            "events": run.events.order_by("-id")[:200],
        },
    )


def _renderers(state: tuple) -> dict:
    """Everything a watcher may be asked for about one state of a site; each is built once,
    on first demand, and shared by all viewers of that variant."""
    run_id, site_id = state[0], state[3]

    def page_for(can_operate: bool):
        def render() -> str:
            return page.render_live(
                Site.objects.select_related("account").get(pk=site_id), can_operate
            )

        return render

    return {
        "page:operate": page_for(True),
        "page:watch": page_for(False),
        "json": lambda: progress.build_snapshot(run_id) if run_id else None,
    }


def _event_stream(body) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


async def automation_stream(request, site_id: int):
    """The page's event stream: `update` events carrying the re-rendered live region."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Log in first.", status=401)
    site, role = await sync_to_async(site_and_role)(user, site_id)
    if site is None:
        raise Http404("No such site.")
    variant = "page:operate" if role in CAN_OPERATE else "page:watch"
    return _event_stream(live.stream((site.pk, None), _renderers, variant, "update"))


async def api_stream(request):
    """GET /api/v1/automation/stream/?site_id=[&run_id=]: `progress` events with the snapshot."""
    from cascade.api import BearerToken

    user = await request.auser()
    if not user.is_authenticated:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            user = (
                await sync_to_async(BearerToken().authenticate)(request, header[7:].strip()) or user
            )
    if not user.is_authenticated:
        return JsonResponse(
            {"detail": "Authentication required: log in or send 'Authorization: Bearer <token>'."},
            status=401,
        )
    try:
        site_id = int(request.GET.get("site_id", ""))
    except ValueError:
        return JsonResponse({"detail": "site_id: Input should be a valid integer"}, status=422)
    run_id = request.GET.get("run_id") or None
    if run_id is not None:
        try:
            run_id = str(uuid.UUID(run_id))
        except ValueError:
            return JsonResponse({"detail": "run_id: Input should be a valid UUID"}, status=422)
    site, _ = await sync_to_async(site_and_role)(user, site_id)
    if site is None:
        return JsonResponse({"detail": f"Site {site_id} not found."}, status=404)
    if run_id and not await AutomationRun.objects.filter(site=site, pk=run_id).aexists():
        return JsonResponse({"detail": f"Run {run_id} not found for site {site_id}."}, status=404)

    return _event_stream(
        live.stream((site.pk, run_id), _renderers, "json", "progress", encode=json.dumps)
    )
