"""Live updates by Server-Sent Events.

One watcher per site (or per run, or per Sites overview) and server process prepares each
update once; every viewer of it shares it. Watchers learn of changes without asking the
database for each one:

- a commit in this process (the embedded worker, an action view) tells them at once, with the
  run's new version (`signals.progress_changed`);
- on PostgreSQL every commit also sends NOTIFY (`cascade_progress`), which a listener thread
  of each server process passes on, so changes made by other processes arrive at once too;
  with Celery, Redis carries the same news;
- one poll a second per process (one query, whatever the number of sites and viewers) reads the
  versions of the watched sites whose run is active, for changes no message told of; sites
  without an active run cost no query at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

from cascade.accounts.models import Site
from cascade.accounts.signals import credits_added
from cascade.automation import signals
from cascade.automation.latest import latest_run_fields
from cascade.automation.models import ACTIVE

log = logging.getLogger("cascade.live")
POLL_SECONDS = 1.0  # the poll of watched active runs: one query a second per process
MIN_GAP_SECONDS = 0.1  # at most ~10 updates a second to a viewer
PING_SECONDS = 5.0  # a heartbeat event, so a page knows its data is fresh
FRESH_SECONDS = 1.0  # a render this young is given to a new viewer as it is
STATS = {"checks": 0, "reads": 0}  # polls of the database, and reads of one watcher's state


@dataclass
class Update:
    key: tuple
    state: tuple  # (run id, version, site id) the update describes, or another watcher's
    made_at: float
    renderers: dict[str, Callable[[], Any]]
    _cache: dict[str, Any] = field(default_factory=dict)
    _patches: dict[tuple, tuple] = field(default_factory=dict)
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

    def patch_from(self, variant: str, base: Any, patch: Callable[[Any, Any], str | None]) -> Any:
        """What turns `base` (an earlier body of `variant`) into this one; computed once for
        every viewer that last received the same base."""
        key = (variant, id(base))
        if key not in self._patches:
            self._patches[key] = (base, patch(base, self.get(variant)))  # keeps base alive
        return self._patches[key][1]


def site_states(site_ids: list[int], run_id: str | None = None) -> dict[int, tuple]:
    """In one query, each site's latest run (or the run `run_id`): {site: (run id, version,
    status)}."""
    fields = latest_run_fields(run_id)
    rows = (
        Site.objects.filter(pk__in=site_ids)
        .annotate(
            run_pk=fields["run_pk"],
            run_version=fields["run_version"],
            run_status=fields["run_status"],
        )
        .values_list("pk", "run_pk", "run_version", "run_status")
    )
    return {
        pk: (str(run) if run else None, version or 0, status) for pk, run, version, status in rows
    }


class Watcher:
    """Keeps one state for every viewer of it in this process. A site's watcher (key (site id,
    run id or None for the latest run)) knows its state from the messages and the poll; another
    (the Sites overview's) reads it with `state_of` when one of its `sites` changed."""

    def __init__(
        self,
        hub: Hub,
        key: tuple,
        make_renderers: Callable[[tuple], dict[str, Callable[[], Any]]],
        sites: frozenset[int],
        state_of: Callable[[], tuple] | None = None,
    ) -> None:
        self.hub, self.key, self.make_renderers = hub, key, make_renderers
        self.sites, self.state_of = sites, state_of
        self.queues: set[asyncio.Queue] = set()
        self.dirty = asyncio.Event()
        self.dirty.set()  # the first state is read at once
        self.hint: tuple | None = None  # (run id, version) a message told of
        self.latest: Update | None = None
        self.task: asyncio.Task | None = None
        # What the page shows beside the run (credits, what waits) changes without a version:
        # a new viewer, or a top-up, gets a fresh render rather than a recent one.
        self.refresh = False

    def tell(self, run_id: str | None, version: int | None) -> None:
        """A site this watcher shows changed (to `version` of `run_id`, when known)."""
        if self.state_of is None and run_id is not None and version is not None:
            wanted = self.key[1]
            if wanted is not None and wanted != run_id:
                return  # another run of the site
            shown = self.latest.state if self.latest else None
            if shown and shown[0] == run_id and shown[1] >= version:
                return  # nothing newer than what viewers have
            self.hint = (run_id, version)
        else:
            self.hint = None
        self.dirty.set()

    def _read(self) -> tuple:
        STATS["reads"] += 1
        try:
            if self.state_of is not None:
                return self.state_of()
            site_id, run_id = self.key
            found = site_states([site_id], run_id).get(site_id, (None, 0, None))
            self.hub.remember(site_id, found)
            return (found[0], found[1], site_id)
        finally:
            close_old_connections()

    async def run(self) -> None:
        try:
            while self.queues:
                await self.dirty.wait()
                self.dirty.clear()
                if not self.queues:
                    break
                hint, self.hint = self.hint, None
                if hint is not None:
                    state = (hint[0], hint[1], self.key[0])
                else:
                    state = await sync_to_async(self._read, thread_sensitive=False)()
                shown = self.latest.state if self.latest else None
                if state != shown or self.refresh:
                    self.refresh = False
                    self.latest = Update(
                        self.key, state, time.monotonic(), self.make_renderers(state)
                    )
                    for queue in list(self.queues):
                        _offer(queue, self.latest)
                    await asyncio.sleep(MIN_GAP_SECONDS)  # changes meanwhile wait, then coalesce
        finally:
            self.hub.forget(self)


def _offer(queue: asyncio.Queue, update: Update | None) -> None:
    # A slow viewer gets the newest update, not a backlog: older ones are dropped.
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(update)


class Hub:
    """The watchers of this process, and what tells them of changes."""

    def __init__(self) -> None:
        self.watchers: dict[tuple, Watcher] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._subscribed = False
        self.closing = False
        self.known: dict[int, tuple] = {}  # site id -> (run id, version, status) last seen
        self._poller: asyncio.Task | None = None

    # --- what tells the hub of changes ---------------------------------------------------------

    def _hook_engine(self) -> None:
        if self._subscribed:
            return
        from cascade.automation import executor

        signals.progress_changed.connect(self._on_progress, weak=False)
        credits_added.connect(self._on_top_up, weak=False)
        if executor.uses_celery():
            executor.listen(self.message)  # commits made by Celery workers
        if connection.vendor == "postgresql":
            signals.listen_postgres(self.message)
        self._subscribed = True

    def _on_progress(self, sender: Any, run_id: str, site_id: int, version: int, **kw: Any) -> None:
        self._from_thread(self._changed, site_id, run_id, version)

    def _on_top_up(self, sender: Any, account_id: int, **kwargs: Any) -> None:
        sites = frozenset(Site.objects.filter(account_id=account_id).values_list("pk", flat=True))
        self._from_thread(self._refresh_sites, sites)

    def message(self, text: str) -> None:
        """A message from another process: "site:run:version" or "account:ID" (any thread)."""
        kind, _, rest = text.partition(":")
        if kind == "account":
            self._on_top_up(None, account_id=int(rest))
            return
        run_id, _, version = rest.partition(":")
        try:
            site_id, number = int(kind), int(version)
        except ValueError:
            return
        self._from_thread(self._changed, site_id, run_id, number)

    def _from_thread(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(callback, *args)

    def nudge(self) -> None:
        """Look again at every watched site (e.g. after an action of this process)."""
        self._from_thread(self._refresh_sites, None)

    def _changed(self, site_id: int, run_id: str | None, version: int | None) -> None:
        status = self.known.get(site_id, (None, 0, None))[2]
        self.known[site_id] = (run_id, version or 0, status if status in ACTIVE else "running")
        for watcher in list(self.watchers.values()):
            if site_id in watcher.sites:
                watcher.tell(run_id, version)

    def _refresh_sites(self, sites: frozenset[int] | None) -> None:
        for watcher in list(self.watchers.values()):
            if sites is None or watcher.sites & sites:
                watcher.refresh = True
                watcher.tell(None, None)

    def remember(self, site_id: int, state: tuple) -> None:
        self.known[site_id] = state

    # --- the poll ------------------------------------------------------------------------------

    def _polled_sites(self) -> list[int]:
        """The watched sites whose run is active (or not known yet): the only ones polled."""
        watched = {site for w in self.watchers.values() for site in w.sites}
        return sorted(s for s in watched if self.known.get(s, (None, 0, "unknown"))[2] in POLLED)

    async def _poll(self) -> None:
        while self.watchers and not self.closing:
            await asyncio.sleep(POLL_SECONDS)
            sites = self._polled_sites()
            if not sites:
                continue
            states = await sync_to_async(_poll_once, thread_sensitive=False)(sites)
            for site_id, state in states.items():
                before = self.known.get(site_id)
                self.known[site_id] = state
                if before is None or before[:2] != state[:2]:
                    for watcher in list(self.watchers.values()):
                        if site_id in watcher.sites:
                            watcher.tell(state[0], state[1])
        self._poller = None

    # --- viewers ----------------------------------------------------------------------------

    async def subscribe(
        self,
        key: tuple,
        make_renderers,
        sites: frozenset[int],
        state_of: Callable[[], tuple] | None = None,
    ) -> tuple[Watcher, asyncio.Queue]:
        self.loop = asyncio.get_running_loop()
        self._hook_engine()
        watcher = self.watchers.get(key)
        if watcher is None:
            watcher = Watcher(self, key, make_renderers, sites, state_of)
            self.watchers[key] = watcher
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        watcher.queues.add(queue)
        if watcher.latest is not None and time.monotonic() - watcher.latest.made_at < FRESH_SECONDS:
            _offer(queue, watcher.latest)
        elif watcher.latest is not None:
            watcher.refresh = True
            watcher.tell(None, None)
        if watcher.task is None or watcher.task.done():
            watcher.task = asyncio.create_task(watcher.run())
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll())
        return watcher, queue

    def unsubscribe(self, watcher: Watcher, queue: asyncio.Queue) -> None:
        watcher.queues.discard(queue)
        watcher.dirty.set()  # its task sees no viewer left and ends

    def forget(self, watcher: Watcher) -> None:
        if self.watchers.get(watcher.key) is watcher and not watcher.queues:
            del self.watchers[watcher.key]

    def shut_down(self) -> None:
        """The server is stopping: every open stream ends now (from any thread), so the
        shutdown need not wait for viewers to leave; they reconnect to the next server."""
        self.closing = True
        self._from_thread(self._end_streams)

    def _end_streams(self) -> None:
        for watcher in list(self.watchers.values()):
            for queue in list(watcher.queues):
                _offer(queue, None)


POLLED = ACTIVE | {"unknown"}


def _poll_once(sites: list[int]) -> dict[int, tuple]:
    STATS["checks"] += 1
    try:
        return site_states(sites)
    finally:
        close_old_connections()


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
