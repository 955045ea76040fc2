"""Claims kept fresh while their items are worked on: one thread per process extends every claim
the process holds, so a live worker keeps an item that takes longer than CASCADE_CLAIM_TIMEOUT,
and a dead one's claims expire."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cascade.automation.models import RunItem
from cascade.automation.statuses import ItemState

log = logging.getLogger("cascade.engine")


def _call(method: weakref.WeakMethod) -> None:
    bound = method()
    if bound is not None:
        bound()


class _Keeper:
    """One thread per process extends every claim its workers hold while they work on them
    (not a thread, with its own database connection, per claim). It connects only to beat, and
    closes the connection after, so it holds none between beats."""

    def __init__(self, name: str = "claim-keeper") -> None:
        self.name = name
        self._start_afresh()
        # A forked child (a Celery pool process) holds none of its parent's claims: it must
        # not keep them alive after the parent dies, nor inherit a lock taken at the fork.
        # (by a weak reference: a keeper that is gone is not kept alive by the hook)
        again = weakref.WeakMethod(self._start_afresh)
        os.register_at_fork(after_in_child=lambda: _call(again))

    def _start_afresh(self) -> None:
        self.lock = threading.Lock()
        self.tokens: Counter[str] = Counter()
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()  # a new claim: the period may have changed

    def hold(self, token: str) -> None:
        with self.lock:
            self.tokens[token] += 1
            # the first claim of this process, or its thread died
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._beat, name=self.name, daemon=True)
                self.thread.start()
        self.wake.set()

    def drop(self, token: str) -> None:
        with self.lock:
            self.tokens[token] -= 1
            if self.tokens[token] <= 0:
                del self.tokens[token]

    def _beat(self) -> None:
        """Runs for the life of the process: no error (a database that is down, settings read
        while they are being swapped) may end it, or every claim of the process would expire
        and its live work be taken back. A beat that failed is tried again soon, not a whole
        period later."""
        due = 0.0
        while True:
            try:
                due = self._beat_once(due)
            except Exception:
                log.exception("claim heartbeat failed")
                due = time.monotonic() + 0.5
            try:
                connection.close()
            except Exception:
                log.exception("claim heartbeat could not close its connection")

    def _beat_once(self, due: float) -> float:
        """Wait until the next beat is due and extend every claim held then; the next due time
        (0: a period from now). A new claim wakes the keeper only to shorten the wait if the
        period has changed: it is fresh already, so claims made one after another cost no beat
        of their own."""
        period = max(0.2, settings.CASCADE_CLAIM_TIMEOUT / 3)
        now = time.monotonic()
        due = min(due, now + period) if due else now + period
        if self.wake.wait(max(0.0, due - now)):
            self.wake.clear()
            return due
        with self.lock:
            tokens = list(self.tokens)
        failed = 0
        for token in tokens:  # one claim that cannot be extended does not hold up the others
            try:
                self._extend(token)
            except Exception:
                failed += 1
                log.exception("claim %s could not be extended", token[:8])
        return time.monotonic() + 0.5 if failed else 0.0

    @staticmethod
    def _extend(token: str) -> None:
        """Extend one claim's items, skipping any a worker holds locked at this moment (it is
        finishing that item): the keeper never waits for a lock, so it is never part of a
        deadlock between the workers' transactions."""
        with transaction.atomic():
            held = RunItem.objects.select_for_update(skip_locked=True).filter(
                claim_token=token, state=ItemState.PROCESSING
            )
            ids = list(held.values_list("pk", flat=True))
            if ids:
                RunItem.objects.filter(pk__in=ids).update(
                    claim_expires_at=timezone.now()
                    + timedelta(seconds=settings.CASCADE_CLAIM_TIMEOUT)
                )


_keeper = _Keeper()


@contextmanager
def keep_claims_fresh(token: str) -> Iterator[None]:
    """A live worker keeps extending its claim while an item takes longer than the timeout."""
    _keeper.hold(token)
    try:
        yield
    finally:
        _keeper.drop(token)
