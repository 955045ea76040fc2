"""The Sites overview's event stream."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from django.http.response import HttpResponseBase

from cascade.live import sse
from cascade.live import stream as live_stream
from cascade.web import overview


async def sites_stream(request: Any) -> HttpResponseBase:
    """The Sites overview's one stream: `update` events with its re-rendered rows whenever they
    change: a run of any of the user's sites moves or articles wait for review."""
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
        lambda rows, last: [] if rows == last else [("update", rows)],
        sites=sites,
        state_of=lambda: overview.state(user.pk),
    )
    return await sse.event_stream(request, body, user)
