"""What the engine tells the rest of the process, always after the change has committed.

- `progress_changed(run_id)`: a run's progress (its snapshot) changed. The live streams, the
  embedded worker and the Celery executor's Redis publisher listen.
- `run_runnable(run_id)`: a run has new work to start (created or resumed); the Celery executor
  queues tasks for it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger("cascade.signals")

progress_changed = Signal()
run_runnable = Signal()


def _send_on_commit(signal: Signal, run_id: Any) -> None:
    def send() -> None:
        # A broken receiver must not break the engine: send_robust logs and goes on.
        for receiver, result in signal.send_robust(sender=None, run_id=str(run_id)):
            if isinstance(result, Exception):
                log.error("receiver %r failed: %s", receiver, result, exc_info=result)

    transaction.on_commit(send)


def announce(run_id: Any) -> None:
    """Tell listeners, once the current transaction commits, that the run's progress changed."""
    _send_on_commit(progress_changed, run_id)


def runnable(run_id: Any) -> None:
    """Tell listeners, once the current transaction commits, that the run has work to start."""
    _send_on_commit(run_runnable, run_id)
