"""The body of one viewer's event stream: one event per new state of what it watches (or a
delta from the one it has), pings in between, and a clean end after
CASCADE_STREAM_MAX_SECONDS. The watchers that prepare the states are `live.hub`'s."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from cascade.live.hub import hub
from cascade.live.watchers import PING_SECONDS, Update


def sse(event: str, data: str, event_id: str = "") -> str:
    lines = "\n".join(f"data: {line}" for line in data.splitlines() or [""])
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\n{lines}\n\n"


def _position(state: tuple, of_a_site: bool) -> dict[str, Any]:
    """Which state an event shows: a site's run and its version, or (another watcher's state)
    a digest of it."""
    if of_a_site:
        return {"run_id": state[0], "version": state[1]}
    return {"run_id": None, "version": hash(state) & 0xFFFFFFFF}


async def stream(
    key: tuple,
    make_renderers,
    variant: str,
    event: str,
    encode: Callable[[Any], str] = str,
    sites: frozenset[int] | None = None,
    state_of: Callable[[], tuple] | None = None,
    version_of: Callable[[Any], tuple[str, int] | None] | None = None,
    patch: Callable[[Any, Any], str | None] | None = None,
) -> AsyncGenerator[str]:
    """The body of an event stream: one event per new state, pings in between, and a clean end
    after CASCADE_STREAM_MAX_SECONDS so proxies and clients renew the connection. With
    `version_of`, a body is sent only when its own version is newer than the last one sent (a
    render may already show a later version than the news that asked for it). With `patch`,
    a viewer who has the previous body gets a `delta` event (what `patch` makes of the two, its
    id "new from base") instead of the whole body; the first event of a connection, and any
    whose shape `patch` cannot bridge, carry the whole body."""
    watched = sites if sites is not None else frozenset({key[0]})
    watcher, queue = await hub.subscribe(key, make_renderers, watched, state_of)
    ends_at = time.monotonic() + settings.CASCADE_STREAM_MAX_SECONDS
    sent: tuple[str | None, int] = (None, -1)  # (run id, version) of the last body sent
    last: tuple[Any, str] | None = None  # the last body this viewer received, and its id
    try:
        yield "retry: 1000\n\n"
        while time.monotonic() < ends_at and not hub.closing:
            try:
                update: Update | None = await asyncio.wait_for(queue.get(), timeout=PING_SECONDS)
            except TimeoutError:
                state = watcher.latest.state if watcher.latest else (None, 0)
                yield sse("ping", json.dumps(_position(state, state_of is None)))
                continue
            if update is None:  # the server is stopping
                break
            body = await sync_to_async(update.get, thread_sensitive=False)(variant)
            at = _position(update.state, state_of is None)
            if version_of is not None and (seen := version_of(body)) is not None:
                if seen[0] == sent[0] and (seen[1] < sent[1] or seen[1] == sent[1] and not patch):
                    continue  # a later render already went out
                sent, at = seen, {"run_id": seen[0], "version": seen[1]}
            event_id = f"{at['run_id'] or 'none'}:{at['version']}"
            if (
                patch is not None
                and last is not None
                and (change := update.patch_from(variant, last[0], patch)) is not None
            ):
                if change:  # (a refresh that changed nothing sends nothing)
                    yield sse("delta", change, f"{event_id} from {last[1]}")
            else:
                yield sse(event, encode(body), event_id)
            last = (body, event_id)
    finally:
        hub.unsubscribe(watcher, queue)
