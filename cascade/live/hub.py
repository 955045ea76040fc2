"""The hub of live views: the watchers of this server process.

One watcher per site (or per run, or per Sites overview) and server process prepares each
update once; every viewer of it shares it. Watchers learn of changes without asking the
database for each one: the source (`Source`, the pipeline's `automation.live_source`) tells
the hub of every commit, in this process at once and from other processes through PostgreSQL's
NOTIFY or Redis; and one poll a second per process (one query, whatever the number of sites
and viewers) reads the states of the watched sites whose run is active, for changes no message
told of. Sites without an active run cost no query at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from cascade.live.watchers import POLL_SECONDS, STATS, Watcher, _offer

log = logging.getLogger("cascade.live")


@dataclass(frozen=True)
class Source:
    """Where the hub learns of changes and reads the states of sites; the pipeline plugs its own
    in (`automation.live_source`), so this package knows nothing of runs.

    - `connect(hub)`: start telling the hub of changes (`hub.changed`, `hub.refresh`), from
      any thread; called once, when the first viewer subscribes;
    - `states(site_ids, run_id=None)`: in one query, each site's state: (run id, version,
      status) of its latest run (or of the run `run_id`);
    - `active`: the statuses in which a site's state may change without news (polled)."""

    connect: Callable[[Any], None]
    states: Callable[..., dict[int, tuple]]
    active: frozenset[str]


def _nothing(hub: Any) -> None:
    return None


NO_SOURCE = Source(connect=_nothing, states=lambda site_ids, run_id=None: {}, active=frozenset())


class Hub:
    """The watchers of this process, and what tells them of changes."""

    def __init__(self) -> None:
        self.source: Source = NO_SOURCE
        self.watchers: dict[tuple, Watcher] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._subscribed = False
        self.closing = False
        self.known: dict[int, tuple] = {}  # site id -> (run id, version, status) last seen
        self._poller: asyncio.Task | None = None

    # --- what tells the hub of changes ---------------------------------------------------------

    def _connect(self) -> None:
        if not self._subscribed:
            self.source.connect(self)
            self._subscribed = True

    def changed(self, site_id: int, run_id: str | None, version: int | None) -> None:
        """A site's run changed to `version` (from any thread)."""
        self._from_thread(self._changed, site_id, run_id, version)

    def refresh(self, sites: frozenset[int] | None) -> None:
        """Look again at these sites (all watched sites with None), from any thread: something
        beside their runs changed (an account's credits, an action of this process)."""
        self._from_thread(self._refresh_sites, sites)

    def _from_thread(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(callback, *args)

    def _changed(self, site_id: int, run_id: str | None, version: int | None) -> None:
        status = self.known.get(site_id, (None, 0, None))[2]
        active = self.source.active
        self.known[site_id] = (run_id, version or 0, status if status in active else "running")
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
        polled = self.source.active | {"unknown"}
        return sorted(s for s in watched if self.known.get(s, (None, 0, "unknown"))[2] in polled)

    async def _poll(self) -> None:
        while self.watchers and not self.closing:
            await asyncio.sleep(POLL_SECONDS)
            sites = self._polled_sites()
            if not sites:
                continue
            states = await sync_to_async(self._poll_once, thread_sensitive=False)(sites)
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
        self._connect()
        watcher = self.watchers.get(key)
        if watcher is None:
            watcher = Watcher(self, key, make_renderers, sites, state_of)
            self.watchers[key] = watcher
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        watcher.queues.add(queue)
        if watcher.latest is not None:
            # A new viewer gets a render made after it came (its page may be newer than the
            # last render: a top-up in another process tells this one nothing); viewers who
            # come together share it.
            watcher.refresh = True
            watcher.tell(None, None)
        if watcher.task is None or watcher.task.done():
            watcher.task = asyncio.create_task(watcher.run())
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll())
        return watcher, queue

    def _poll_once(self, sites: list[int]) -> dict[int, tuple]:
        STATS["checks"] += 1
        try:
            return self.source.states(sites)
        finally:
            close_old_connections()

    def unsubscribe(self, watcher: Watcher, queue: asyncio.Queue) -> None:
        watcher.queues.discard(queue)
        watcher.delivered.pop(queue, None)
        watcher.dirty.set()  # its task sees no viewer left and ends

    def forget(self, watcher: Watcher) -> None:
        if self.watchers.get(watcher.key) is watcher and not watcher.queues:
            del self.watchers[watcher.key]

    def hurry(self, site_id: int, seconds: float = 2.0) -> None:
        """For a moment, the site's viewers get each state as it comes (an action was just
        made: its effect should not wait for a viewer's pace)."""
        for watcher in list(self.watchers.values()):
            if watcher.state_of is None and watcher.key[0] == site_id:
                watcher.hurry_until = time.monotonic() + seconds
                watcher.hurry.set()

    async def sent_to_viewers(
        self, site_id: int, run_id: str, version: int, timeout: float = 2.0
    ) -> bool:
        """Wait (at most `timeout` seconds) until every viewer of the site in this process has
        been sent `version` of the run `run_id` or a later one: an action's answer then comes
        after its effect, so a page never shows the state from before its own click once the
        click is done. True when they all were (or none watches here)."""
        if self.loop is not asyncio.get_running_loop():
            return True  # the streams of this process run on another loop (tests' clients)
        ends_at = time.monotonic() + timeout
        while True:
            behind = [
                queue
                for watcher in list(self.watchers.values())
                if watcher.state_of is None
                and watcher.key[0] == site_id
                and watcher.key[1] in (None, run_id)
                for queue in list(watcher.queues)
                if (seen := watcher.delivered.get(queue)) is None
                or seen[0] != run_id
                or seen[1] < version
            ]
            if not behind:
                return True
            if time.monotonic() >= ends_at:
                return False
            await asyncio.sleep(0.01)

    def shut_down(self) -> None:
        """The server is stopping: every open stream ends now (from any thread), so the
        shutdown need not wait for viewers to leave; they reconnect to the next server."""
        self.closing = True
        self._from_thread(self._end_streams)

    def _end_streams(self) -> None:
        for watcher in list(self.watchers.values()):
            for queue in list(watcher.queues):
                _offer(queue, None)


hub = Hub()
