"""Live updates by Server-Sent Events.

One watcher per site (or per run) and server process notices a change of the run's progress
`version` and prepares the update once; every viewer of that site shares it. The engine's commit
hook nudges the watcher at once when the work happens in this process; otherwise the watcher
looks at the version a few times a second (one tiny query, whatever the number of viewers).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.db.models import Subquery

from cascade.accounts.models import Site
from cascade.automation import signals
from cascade.automation.models import AutomationRun

log = logging.getLogger("cascade.live")
POLL_SECONDS = 0.25  # version checks per watcher: at most 4 queries a second
MIN_GAP_SECONDS = 0.25  # at most ~4 updates a second to a viewer
PING_SECONDS = 5.0  # a heartbeat event, so a page knows its data is fresh
FRESH_SECONDS = 1.0  # a render this young is given to a new viewer as it is


@dataclass
class Update:
    key: tuple
    state: tuple  # (run id, version) the update describes
    made_at: float
    renderers: dict[str, Callable[[], Any]]
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, variant: str) -> Any:
        """Rendered once per variant (e.g. the page for editors, for viewers, or JSON)."""
        with self._lock:
            if variant not in self._cache:
                try:
                    self._cache[variant] = self.renderers[variant]()
                finally:
                    close_old_connections()
            return self._cache[variant]


def latest_state(site_id: int, run_id: str | None) -> tuple:
    """What the live region shows, in one small query: the latest run's id, version and status,
    and the account's balance (a top-up enables Run Now without a new run version)."""
    runs = AutomationRun.objects.filter(site_id=site_id)
    if run_id:
        runs = runs.filter(pk=run_id)
    latest = runs.order_by("-created_at")
    row = (
        Site.objects.filter(pk=site_id)
        .annotate(
            run_pk=Subquery(latest.values("pk")[:1]),
            run_version=Subquery(latest.values("version")[:1]),
            run_status=Subquery(latest.values("status")[:1]),
        )
        .values_list("run_pk", "run_version", "run_status", "account__credits", "account__reserved")
        .first()
    )
    close_old_connections()
    if row is None or row[0] is None:
        return (None, 0, None, site_id, row[3:] if row else None)
    return (str(row[0]), row[1], row[2], site_id, row[3:])


STATS = {"checks": 0}  # version checks made by this process's watchers (reported by benchmarks)


class Watcher:
    """Watches one state for every viewer of it in this process: by default a site's (key
    (site id, run id or None)); `state_of` reads another (the Sites overview's)."""

    def __init__(
        self,
        hub: Hub,
        key: tuple,
        make_renderers: Callable[[tuple], dict[str, Callable[[], Any]]],
        state_of: Callable[[], tuple] | None = None,
    ) -> None:
        self.hub, self.key, self.make_renderers = hub, key, make_renderers
        self.state_of = state_of or (lambda: latest_state(*key))
        self.queues: set[asyncio.Queue] = set()
        self.nudge = asyncio.Event()
        self.latest: Update | None = None
        self.task: asyncio.Task | None = None
        # The region also shows what changes without the run's version (the account's credits,
        # what waits in the queues): a new viewer gets a fresh render, not an old one.
        self.refresh = False

    async def run(self) -> None:
        last_state = None
        try:
            while self.queues:
                state = await sync_to_async(self._read, thread_sensitive=False)()
                STATS["checks"] += 1
                if state != last_state or self.refresh:
                    last_state, self.refresh = state, False
                    self.latest = Update(
                        self.key, state, time.monotonic(), self.make_renderers(state)
                    )
                    for queue in list(self.queues):
                        _offer(queue, self.latest)
                    await asyncio.sleep(MIN_GAP_SECONDS)
                try:
                    await asyncio.wait_for(self.nudge.wait(), timeout=POLL_SECONDS)
                except TimeoutError:
                    pass
                self.nudge.clear()
        finally:
            self.hub.forget(self)

    def _read(self) -> tuple:
        try:
            return self.state_of()
        finally:
            close_old_connections()


def _offer(queue: asyncio.Queue, update: Update | None) -> None:
    # A slow viewer gets the newest update, not a backlog: older ones are dropped.
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(update)


class Hub:
    """The watchers of this process, keyed by (site id, run id or None for the latest run)."""

    def __init__(self) -> None:
        self.watchers: dict[tuple, Watcher] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._subscribed = False
        self.closing = False

    def _hook_engine(self) -> None:
        if not self._subscribed:
            from cascade.automation import executor

            signals.progress_changed.connect(self._on_progress, weak=False)
            if executor.uses_celery():
                executor.listen(self._nudge_from_thread)  # commits made by Celery workers
            self._subscribed = True

    def _on_progress(self, sender: Any, run_id: str, **kwargs: Any) -> None:
        self._nudge_from_thread(run_id)

    def _nudge_from_thread(self, run_id: str) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._nudge_all)

    def _nudge_all(self) -> None:
        for watcher in list(self.watchers.values()):
            watcher.nudge.set()

    def nudge(self) -> None:
        self._nudge_from_thread("")

    async def subscribe(
        self, key: tuple, make_renderers, state_of: Callable[[], tuple] | None = None
    ) -> tuple[Watcher, asyncio.Queue]:
        self.loop = asyncio.get_running_loop()
        self._hook_engine()
        watcher = self.watchers.get(key)
        if watcher is None:
            watcher = Watcher(self, key, make_renderers, state_of)
            self.watchers[key] = watcher
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        watcher.queues.add(queue)
        if watcher.latest is not None and time.monotonic() - watcher.latest.made_at < FRESH_SECONDS:
            _offer(queue, watcher.latest)
        elif watcher.latest is not None:
            watcher.refresh = True
            watcher.nudge.set()
        if watcher.task is None or watcher.task.done():
            watcher.task = asyncio.create_task(watcher.run())
        return watcher, queue

    def shut_down(self) -> None:
        """The server is stopping: every open stream ends now (from any thread), so the
        shutdown need not wait for viewers to leave; they reconnect to the next server."""
        loop = self.loop
        self.closing = True
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._end_streams)

    def _end_streams(self) -> None:
        for watcher in list(self.watchers.values()):
            for queue in list(watcher.queues):
                _offer(queue, None)

    def unsubscribe(self, watcher: Watcher, queue: asyncio.Queue) -> None:
        watcher.queues.discard(queue)

    def forget(self, watcher: Watcher) -> None:
        if self.watchers.get(watcher.key) is watcher and not watcher.queues:
            del self.watchers[watcher.key]


hub = Hub()


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
    state_of: Callable[[], tuple] | None = None,
) -> AsyncIterator[str]:
    """The body of an event stream: one event per new state, pings in between, and a clean end
    after CASCADE_STREAM_MAX_SECONDS so proxies and clients renew the connection."""
    watcher, queue = await hub.subscribe(key, make_renderers, state_of)
    ends_at = time.monotonic() + settings.CASCADE_STREAM_MAX_SECONDS
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
            yield sse(event, encode(body), f"{at['run_id'] or 'none'}:{at['version']}")
    finally:
        hub.unsubscribe(watcher, queue)
