"""What the engine tells the rest of the process, always after the change has committed.

- `progress_changed(run_id, site_id, version)`: a run's progress (its snapshot) changed to
  `version`. The live streams, the embedded worker and the Celery executor's Redis publisher
  listen. On PostgreSQL the same news goes to other processes by NOTIFY `cascade_progress`,
  sent inside the transaction (so exactly when it commits).
- `run_runnable(run_id)`: a run has new work to start (created or resumed); the Celery executor
  queues tasks for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection, transaction
from django.dispatch import Signal

log = logging.getLogger("cascade.signals")

progress_changed = Signal()
run_runnable = Signal()


def _send_on_commit(signal: Signal, **kwargs: Any) -> None:
    def send() -> None:
        # A broken receiver must not break the engine: send_robust logs and goes on.
        for receiver, result in signal.send_robust(sender=None, **kwargs):
            if isinstance(result, Exception):
                log.error("receiver %r failed: %s", receiver, result, exc_info=result)

    transaction.on_commit(send)


def tell_other_processes(message: str) -> None:
    """NOTIFY `cascade_progress` on PostgreSQL (inside a transaction: at its commit)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify('cascade_progress', %s)", [message])


def announce(run: Any) -> None:
    """Tell listeners, once the current transaction commits, that the run's progress changed.
    Called after the run's row was saved with its new version."""
    version = run.version if isinstance(run.version, int) else None
    _send_on_commit(progress_changed, run_id=str(run.pk), site_id=run.site_id, version=version)
    tell_other_processes(f"{run.site_id}:{run.pk}:{version if version is not None else ''}")


def runnable(run_id: Any) -> None:
    """Tell listeners, once the current transaction commits, that the run has work to start."""
    _send_on_commit(run_runnable, run_id=str(run_id))


def keep_listening(
    name: str, messages: Callable[[], Iterator[str]], callback: Callable[[str], None]
):
    """A daemon thread that passes each message of `messages()` to `callback`, and listens
    again a second after its source is lost (a restarted database or Redis)."""

    def run() -> None:
        while True:
            try:
                for message in messages():
                    callback(message)
            except Exception:
                log.warning("%s lost; listening again", name, exc_info=True)
                time.sleep(1.0)

    thread = threading.Thread(target=run, name=f"cascade-{name}", daemon=True)
    thread.start()
    return thread


def listen_postgres(callback: Callable[[str], None]) -> threading.Thread:
    """Pass on what other processes' commits NOTIFY on `cascade_progress` (with a connection
    of its own)."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)

    def notices() -> Iterator[str]:
        with psycopg.connect(autocommit=True, **params) as conn:
            conn.execute("LISTEN cascade_progress")
            for notice in conn.notifies():
                yield notice.payload

    return keep_listening("progress notifications", notices, callback)
