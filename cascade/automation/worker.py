"""The embedded worker: a small pool of threads inside `cascade serve` that calls the engine.

The engine is the same code a Celery worker runs; this module only decides when to call it."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from cascade.automation import engine, schedules, signals
from cascade.automation.models import WorkerBeat
from cascade.notify import sending
from cascade.writer import publishing

log = logging.getLogger("cascade.worker")
BEAT_SECONDS = 5.0


def workers_alive() -> bool:
    """Whether some worker process said it was alive within the last three beats."""
    recent = timezone.now() - timedelta(seconds=3 * BEAT_SECONDS)
    return WorkerBeat.objects.filter(seen_at__gte=recent).exists()


class EmbeddedWorker:
    def __init__(self, threads: int = 2, idle_wait: float = 0.25) -> None:
        self.size = max(1, threads)
        self.idle_wait = idle_wait
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        # Webhooks and emails: looked for when one was recorded, else once a second.
        self._notices = threading.Event()
        self._notices_checked = 0.0
        signals.progress_changed.connect(self._on_progress)
        sending.on_wake(self._notice_recorded)

    def start(self) -> None:
        try:
            taken = engine.release_orphans()
            if taken:
                log.info("took back %s item(s) left by a stopped process", taken)
        finally:
            close_old_connections()
        for i in range(self.size):
            thread = threading.Thread(target=self._loop, name=f"cascade-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._beat, name="cascade-worker-beat", daemon=True)
        beat.start()
        self._threads.append(beat)
        log.info("embedded worker started with %s thread(s)", self.size)

    def wake(self) -> None:
        self._wake.set()

    def _notice_recorded(self) -> None:
        self._notices.set()
        self._wake.set()

    def _send_notice(self) -> bool:
        now = time.monotonic()
        if not self._notices.is_set() and now - self._notices_checked < 1.0:
            return False
        self._notices_checked = now
        self._notices.clear()
        sent = sending.send_once()
        if sent:
            self._notices.set()  # more may be due
        return sent

    def _on_progress(self, sender: object, run_id: str, **kwargs: object) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking new work; items in flight finish (or are taken back after a restart)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        signals.progress_changed.disconnect(self._on_progress)

    def _beat(self) -> None:
        name = engine.worker_name().rsplit(":", 1)[0]
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
        WorkerBeat.objects.filter(name=name).delete()
        close_old_connections()

    def _loop(self) -> None:
        name = engine.worker_name()
        while not self._stop.is_set():
            try:
                did = engine.work_once(name) or publishing.work_once(name) or self._send_notice()
            except Exception:
                log.exception("engine step failed; retrying")
                did = False
                self._stop.wait(1.0)
            finally:
                close_old_connections()
            if not did:
                self._wake.wait(self.idle_wait)
                self._wake.clear()
