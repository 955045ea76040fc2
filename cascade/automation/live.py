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
import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

from cascade.accounts.models import Site
from cascade.accounts.signals import credits_added
from cascade.automation import signals
from cascade.automation.live_watchers import (
    POLL_SECONDS,
    STATS,
    Watcher,
    _offer,
    site_states,
)
from cascade.automation.statuses import ACTIVE

log = logging.getLogger("cascade.live")
FRESH_SECONDS = 1.0  # a render this young is given to a new viewer as it is


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
