"""What one watcher of a live view keeps: its latest update, rendered once per variant for
every viewer of it. The hub that owns the watchers is `live.hub`."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

if TYPE_CHECKING:
    from cascade.live.hub import Hub

log = logging.getLogger("cascade.live")
POLL_SECONDS = 1.0  # the poll of watched active runs: one query a second per process
MIN_GAP_SECONDS = 0.1  # at most ~10 updates a second to a viewer
PING_SECONDS = 5.0  # a heartbeat event, so a page knows its data is fresh
STATS = {"checks": 0, "reads": 0}  # polls of the database, and reads of one watcher's state


@dataclass
class Update:
    key: tuple
    state: tuple  # (run id, version, site id) the update describes, or another watcher's
    renderers: dict[str, Callable[[], Any]]
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rendered(self, variant: str) -> tuple[bool, Any]:
        """(True, the rendering) when `variant` is rendered already: the viewers after the
        first take it without a hop to a worker thread. Read without the lock (a rendering is
        stored once and never changed), so the event loop never waits for a render."""
        if variant in self._cache:
            return True, self._cache[variant]
        return False, None

    def get(self, variant: str) -> Any:
        """Rendered once per variant (e.g. the page for editors, for viewers, or JSON)."""
        with self._lock:
            if variant not in self._cache:
                try:
                    self._cache[variant] = self.renderers[variant]()
                finally:
                    close_old_connections()
            return self._cache[variant]


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
        self.delivered: dict[asyncio.Queue, tuple] = {}  # viewer -> (run id, version) it was sent
        self.hurry = asyncio.Event()  # set while viewers get each state without pacing
        self.hurry_until = 0.0  # (monotonic) when that ends
        self.dirty = asyncio.Event()
        self.dirty.set()  # the first state is read at once
        self.hint: tuple | None = None  # (run id, version) a message told of
        self.latest: Update | None = None
        self.task: asyncio.Task | None = None
        # What the page shows beside the run (credits, what waits) changes without a version:
        # a new viewer, or a top-up, gets a fresh render rather than a recent one.
        self.refresh = False

    def hurried(self) -> bool:
        """Whether viewers get each state as it comes now (just after an action)."""
        if self.hurry.is_set() and time.monotonic() >= self.hurry_until:
            self.hurry.clear()
        return self.hurry.is_set()

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
            found = self.hub.source.states([site_id], run_id).get(site_id, (None, 0, None))
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
                    self.latest = Update(self.key, state, self.make_renderers(state))
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
