"""The Celery application: `celery -A cascade worker` (or `cascade worker`) runs the engine's
work when CASCADE_EXECUTOR=celery."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cascade.settings")

app = Celery("cascade")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["cascade.automation"])


@signals.worker_ready.connect
def start_housekeeping(**kwargs) -> None:
    import threading

    from django.conf import settings

    from cascade.automation.executor import housekeeping
    from cascade.automation.worker import outbound_calls

    stop = threading.Event()
    threading.Thread(
        target=housekeeping, args=(stop,), name="cascade-housekeeping", daemon=True
    ).start()
    for i in range(max(1, settings.CASCADE_OUTBOUND_THREADS)):
        threading.Thread(
            target=outbound_calls, args=(stop,), name=f"cascade-outbound-{i}", daemon=True
        ).start()
