"""The body of one viewer's event stream: the events that bring the viewer to each new state of
what it watches, pings in between, and a clean end after CASCADE_STREAM_MAX_SECONDS. The
watchers that prepare the states are `live.hub`'s."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from cascade.live.hub import hub
from cascade.live.watchers import PING_SECONDS, Update

# What a stream sends for a body: the (event, data) pairs that bring a viewer who has the
# previous body (None for a new or reconnecting viewer) to this one.
Events = Callable[[Any, Any | None], Iterable[tuple[str, str]]]


def sse(event: str, data: str) -> str:
    lines = "\n".join(f"data: {line}" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n\n"


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
    events: Events,
    sites: frozenset[int] | None = None,
    state_of: Callable[[], tuple] | None = None,
    version_of: Callable[[Any], tuple[str, int] | None] | None = None,
    same_version: bool = False,
    pace: float = 0.0,
    bytes_per_second: float = 0.0,
) -> AsyncGenerator[str]:
    """The body of an event stream: for each new state, the events `events` makes of its body
    and the viewer's previous one (all of one state in one write), pings in between, and a
    clean end after CASCADE_STREAM_MAX_SECONDS so proxies and clients renew the connection.
    With `version_of`, states go to a viewer in version order: a body older than the last one
    sent is skipped (a render may already show a later version than the news that asked for
    it), and one of the same version only with `same_version` (e.g. the credits beside a
    run changed). With `pace`, a viewer gets at most one state per `pace` seconds (the newest
    when its turn comes), and with `bytes_per_second` no more than that on average after its
    first state: a state of n bytes waits n / bytes_per_second seconds for the next. Neither
    holds just after an action (`Hub.hurry`), whose effect goes at once."""
    watched = sites if sites is not None else frozenset({key[0]})
    watcher, queue = await hub.subscribe(key, make_renderers, watched, state_of)
    ends_at = time.monotonic() + settings.CASCADE_STREAM_MAX_SECONDS
    sent: tuple[str | None, int] = (None, -1)  # (run id, version) of the last body sent
    last: Any = None  # the last body this viewer received
    next_at = 0.0  # when this viewer may get its next state (monotonic)
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
            wait = next_at - time.monotonic()
            if wait > 0 and not watcher.hurried():
                try:  # changes meanwhile replace this one in the queue; an action ends the wait
                    await asyncio.wait_for(watcher.hurry.wait(), timeout=wait)
                except TimeoutError:
                    pass
                if not queue.empty():
                    update = queue.get_nowait()
                    if update is None:
                        break
            ready, body = update.rendered(variant)
            if not ready:
                body = await sync_to_async(update.get, thread_sensitive=False)(variant)
            shown = update.state[:2]
            if version_of is not None and (seen := version_of(body)) is not None:
                if seen[0] == sent[0] and (
                    seen[1] < sent[1] or seen[1] == sent[1] and not same_version
                ):
                    continue  # a later render already went out
                sent = shown = seen
            written = "".join(sse(name, data) for name, data in events(body, last))
            first, last = last is None, body
            if written:  # (a refresh that changed nothing sends nothing)
                yield written
                spent = 0.0 if first or not bytes_per_second else len(written) / bytes_per_second
                next_at = time.monotonic() + max(pace, spent)
            watcher.delivered[queue] = shown
    finally:
        hub.unsubscribe(watcher, queue)
