"""The embedded worker: a small pool of threads inside `cascade serve` that calls the engine,
and a pool of its own for calls to tenants' addresses (publishing to WordPress, webhooks), so a
receiver that stalls holds one of those threads and never the pipeline's.

The engine is the same code a Celery worker runs; this module only decides when to call it."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from cascade.automation import engine, schedules, signals
from cascade.automation.process_models import WorkerBeat
from cascade.notify import sending
from cascade.writer import publishing

log = logging.getLogger("cascade.worker")
BEAT_SECONDS = 5.0


def workers_alive() -> bool:
    """Whether some worker process said it was alive within the last three beats."""
    recent = timezone.now() - timedelta(seconds=3 * BEAT_SECONDS)
    return WorkerBeat.objects.filter(seen_at__gte=recent).exists()


class EmbeddedWorker:
    def __init__(
        self, threads: int = 2, idle_wait: float = 0.25, outbound: int | None = None
    ) -> None:
        self.size = max(1, threads)
        self.outbound = max(1, settings.CASCADE_OUTBOUND_THREADS if outbound is None else outbound)
        self.idle_wait = idle_wait
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        # Outbound calls: looked for when a webhook or email was recorded, else twice a second.
        self._notices = threading.Event()
        signals.progress_changed.connect(self._on_progress)
        sending.on_wake(self._notice_recorded)

    def start(self) -> None:
        try:  # (the engine logs what it takes back)
            engine.release_orphans()
        finally:
            close_old_connections()
        loops = [(self._loop, f"cascade-worker-{i}") for i in range(self.size)]
        calls = partial(outbound_calls, self._stop, self._notices)
        loops += [(calls, f"cascade-outbound-{i}") for i in range(self.outbound)]
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._beat, name="cascade-worker-beat", daemon=True)
        beat.start()
        self._threads.append(beat)
        log.info(
            "embedded worker started with %s thread(s), %s for outbound calls",
            self.size,
            self.outbound,
        )

    def wake(self) -> None:
        self._wake.set()

    def _notice_recorded(self) -> None:
        self._notices.set()

    def _on_progress(self, sender: object, run_id: str, **kwargs: object) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking new work; items in flight finish (or are taken back after a restart)."""
        self._stop.set()
        self._wake.set()
        self._notices.set()
        for thread in self._threads:
            # A call to a stalling receiver is not waited for to its end: its claim expires
            # and another worker makes it again.
            outbound = thread.name.startswith("cascade-outbound")
            thread.join(timeout=min(timeout, 5.0) if outbound else timeout)
        signals.progress_changed.disconnect(self._on_progress)

    def _beat(self) -> None:
        name = engine.process_name()
        while not self._stop.is_set():
            try:
                WorkerBeat.objects.update_or_create(
                    name=name, defaults={"kind": "embedded", "seen_at": timezone.now()}
                )
                if schedules.start_due():
                    self._wake.set()
            except Exception:
                log.exception("worker heartbeat failed")
            finally:
                close_old_connections()
            self._stop.wait(BEAT_SECONDS)
        try:  # (a database that is down at stop: the beat ages out instead)
            WorkerBeat.objects.filter(name=name).delete()
        except Exception:
            log.warning("could not remove this worker's heartbeat", exc_info=True)
        finally:
            close_old_connections()

    def _loop(self) -> None:
        name = engine.worker_name()
        while not self._stop.is_set():
            try:
                did = engine.work_once(name)
            except Exception:
                log.exception("engine step failed; retrying")
                did = False
                self._stop.wait(1.0)
            finally:
                close_old_connections()
            if not did:
                self._wake.wait(self.idle_wait)
                self._wake.clear()


def outbound_calls(
    stop: threading.Event, wake: threading.Event | None = None, idle: float = 0.5
) -> None:
    """What the outbound threads of the embedded worker and of every Celery worker run:
    articles due for WordPress, then webhooks and emails due. A receiver that stalls holds one
    of these threads, never the pipeline's work."""
    name = engine.worker_name()
    while not stop.is_set():
        try:
            did = publishing.work_once(name) or sending.send_once()
        except Exception:
            log.exception("publishing or sending failed; retrying")
            did = False
            stop.wait(1.0)
        finally:
            close_old_connections()
        if not did and wake is None:
            stop.wait(idle)
        elif not did and wake is not None:
            wake.wait(idle)
            wake.clear()
