"""The event streams: the page's (re-rendered live region) and the API's (JSON snapshots).

Both are fed by `live`'s watchers, which render each new state once per variant for every
viewer of it."""

from __future__ import annotations

import json
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from cascade.accounts.access import site_and_role
from cascade.accounts.models import CAN_OPERATE, Site
from cascade.automation import fragments, live_stream, overview, page, progress
from cascade.automation.models import AutomationRun
from cascade.lib.limits import MAX_ID, digits


def _renderers(state: tuple) -> dict:
    """Everything a watcher may be asked for about one state of a site; each is built once,
    on first demand, and shared by all viewers of that variant."""
    run_id, site_id = state[0], state[2]

    def page_for(can_operate: bool):
        def render() -> fragments.Region:
            site = Site.objects.select_related("account").get(pk=site_id)
            return page.live_region(site, can_operate)

        return render

    return {
        "page:operate": page_for(True),
        "page:watch": page_for(False),
        "json": lambda: progress.build_snapshot(run_id) if run_id else None,
    }


# Each compressed stream keeps a compressor of about 2**(bits + 2) + 2**(level + 9) bytes: a
# 16 KiB window holds a few updates (each repeats much of the one before) for 128 KiB a viewer.
GZIP_WINDOW_BITS = 14
GZIP_MEMORY_LEVEL = 7

# Event streams each user holds open in this process (the server's event loop is their only
# writer). Beyond CASCADE_STREAMS_PER_USER a new one is refused with 429.
OPEN_STREAMS: Counter[int] = Counter()


def _too_many(user: Any) -> HttpResponseBase | None:
    if OPEN_STREAMS[user.pk] < settings.CASCADE_STREAMS_PER_USER:
        return None
    detail = (
        f"Too many live streams open ({settings.CASCADE_STREAMS_PER_USER}): close other "
        "tabs or connections and try again."
    )
    response = JsonResponse({"detail": detail}, status=429)
    response["Retry-After"] = "10"
    return response


async def _counted(user_id: int, body: AsyncGenerator[str]) -> AsyncGenerator[str]:
    try:
        async with aclosing(body):
            async for chunk in body:
                yield chunk
    finally:
        OPEN_STREAMS[user_id] -= 1
        if OPEN_STREAMS[user_id] <= 0:
            del OPEN_STREAMS[user_id]


async def _event_stream(request: Any, body: AsyncGenerator[str], user: Any) -> HttpResponseBase:
    # The set-up's queries ran in this request's own thread, whose database connection would
    # otherwise stay open as long as the stream: on PostgreSQL 200 viewers held 200 connections
    # and the server refused more clients. The stream reads through the watchers.
    await sync_to_async(connections.close_all)()
    refused = _too_many(user)
    if refused is not None:
        return refused
    OPEN_STREAMS[user.pk] += 1
    counted = _counted(user.pk, body)
    gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    chunks = _gzipped(counted) if gzip else counted
    response = StreamingHttpResponse(chunks, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    response["Vary"] = "Accept-Encoding"
    if gzip:
        response["Content-Encoding"] = "gzip"
    return response


async def _gzipped(body: AsyncGenerator[str]) -> AsyncGenerator[bytes]:
    """One gzip stream for the whole connection, flushed after every event: an update repeats
    much of the one before it, which the compressor's window still holds."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + GZIP_WINDOW_BITS, GZIP_MEMORY_LEVEL)
    async with aclosing(body):
        async for chunk in body:
            yield compressor.compress(chunk.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)


async def automation_stream(request: Any, site_id: int) -> HttpResponseBase:
    """The page's event stream: an `update` event carrying the re-rendered live region, each with
    the id "run id:version" so the page can drop one older than what it shows, then `delta`
    events with only the fragments that changed since the viewer's previous event."""
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
        "update",
        encode=lambda region: region.html,
        version_of=lambda region: region.shown,
        patch=fragments.patch,
    )
    return await _event_stream(request, body, user)


async def sites_stream(request: Any) -> HttpResponseBase:
    """The Sites overview's one stream: `update` events with its re-rendered rows whenever a run
    of any of the user's sites moves or articles wait for review."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Log in first.", status=401)
    sort = request.GET.get("sort", "name")
    sort = sort if sort in overview.SORTS else "name"

    def renderers(state: tuple) -> dict:
        return {"html": lambda: overview.render_rows(user, sort)}

    sites = await sync_to_async(overview.site_ids)(user)
    body = live_stream.stream(
        ("sites", user.pk, sort),
        renderers,
        "html",
        "update",
        sites=sites,
        state_of=lambda: overview.state(user.pk),
    )
    return await _event_stream(request, body, user)


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

    return await _event_stream(
        request,
        live_stream.stream(
            (site.pk, run_id),
            _renderers,
            "json",
            "progress",
            encode=json.dumps,
            version_of=lambda doc: (doc["run"]["run_id"], doc["version"]) if doc else None,
        ),
        user,
    )
