"""The pipeline's event streams: the Automation page's (its live fragments, each its own named
event) and the API's (JSON snapshots).

Both are fed by `live`'s watchers, which render each new state once per variant for every
viewer of it."""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

from cascade.accounts.access import site_and_role
from cascade.accounts.models import CAN_OPERATE, Site
from cascade.automation import fragments, page, progress
from cascade.automation.models import AutomationRun
from cascade.lib.limits import MAX_ID, digits
from cascade.live import sse
from cascade.live import stream as live_stream


def _renderers(state: tuple) -> dict:
    """Everything a watcher may be asked for about one state of a site; each is built once,
    on first demand, and shared by all viewers of that variant."""
    run_id, site_id = state[0], state[2]

    def page_for(can_operate: bool):
        def render() -> fragments.Fragments:
            site = Site.objects.select_related("account").get(pk=site_id)
            return page.live_fragments(site, can_operate)

        return render

    return {
        "page:operate": page_for(True),
        "page:watch": page_for(False),
        "json": lambda: _encoded(run_id) if run_id else None,
    }


async def automation_stream(request: Any, site_id: int) -> HttpResponseBase:
    """The page's event stream: one event per live fragment, named as the slot it fills
    (`fragments.py`), each sent when its rendering changed since the viewer's previous event
    and every one of them to a new or reconnecting viewer; states in version order."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Log in first.", status=401)
    site, role = await sync_to_async(site_and_role)(user, site_id)
    if site is None:
        raise Http404("No such site.")
    variant = "page:operate" if role in CAN_OPERATE else "page:watch"
    body = live_stream.stream(
        (site.pk, None),
        _renderers,
        variant,
        fragments.changed,
        version_of=lambda shown: shown.shown,
        same_version=True,
        pace=settings.CASCADE_PAGE_PACE_SECONDS,
        bytes_per_second=settings.CASCADE_PAGE_KIB_PER_MINUTE * 1024 / 60,
    )
    return await sse.event_stream(request, body, user)


async def api_stream(request: Any) -> HttpResponseBase:
    """GET /api/v1/automation/stream/?site_id=[&run_id=]: `progress` events with the snapshot."""
    from cascade.api import BearerToken

    user = await request.auser()
    if not user.is_authenticated:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            user = (
                await sync_to_async(BearerToken().authenticate)(
                    request, header.split(" ", 1)[1].strip()
                )
                or user
            )
    if not user.is_authenticated:
        return JsonResponse(
            {"detail": "Authentication required: log in or send 'Authorization: Bearer <token>'."},
            status=401,
        )
    raw_site = request.GET.get("site_id", "")
    if not (digits(raw_site) and len(raw_site) <= 16 and 1 <= int(raw_site) <= MAX_ID):
        return JsonResponse(
            {"detail": "site_id: Input should be a site's id (a positive whole number)"},
            status=422,
        )
    site_id = int(raw_site)
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

    return await sse.event_stream(
        request,
        live_stream.stream(
            (site.pk, run_id),
            _renderers,
            "json",
            _progress_event,
            version_of=lambda built: (built.doc["run"]["run_id"], built.version) if built else None,
        ),
        user,
    )


def _encoded(run_id: str) -> progress.Built:
    built = progress.shared(run_id)
    built.json  # noqa: B018 (encoded here, in the renderer's thread, not on the event loop)
    return built


def _progress_event(built: progress.Built | None, _: Any) -> list[tuple[str, str]]:
    """The API stream's one event: the snapshot's JSON, encoded once for all viewers."""
    return [("progress", built.json.decode() if built is not None else "null")]
