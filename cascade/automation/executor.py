"""Where the engine's work runs: the embedded worker (default) or Celery workers.

Only this module knows the difference. It tells Celery when a run becomes runnable, publishes
progress to Redis so web processes hear of commits made elsewhere, and keeps runs moving when
workers die (expired claims, stalled stages)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import close_old_connections

from cascade.automation import engine, signals

log = logging.getLogger("cascade.executor")
_installed = False


def uses_celery() -> bool:
    return settings.CASCADE_EXECUTOR == "celery"


def redis_client():
    import redis

    return redis.Redis.from_url(
        settings.CASCADE_REDIS_URL, socket_timeout=5, socket_connect_timeout=5
    )


def install() -> None:
    """Hook the engine up to Celery in this process (web, worker or command)."""
    global _installed
    if _installed or not uses_celery():
        return
    _installed = True
    signals.run_runnable.connect(_kick)
    signals.progress_changed.connect(_publish)


def _kick(sender: object, run_id: str, **kwargs: object) -> None:
    from cascade.automation.tasks import kick_run

    try:
        kick_run.delay(run_id)
    except Exception:  # the housekeeping of any worker picks the run up within a second
        log.exception("could not queue run %s on Celery", run_id)


_publisher = threading.local()


def channel(client) -> str:
    """The progress channel of this installation. Redis's publish/subscribe ignores the
    database number, so two installations sharing one Redis server (database 0 and 1, the
    queues `a` and `b`) would hear each other's news: the channel names both."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return f"cascade:{db}:{settings.CELERY_TASK_DEFAULT_QUEUE}:progress"


def _publish(
    sender: object, run_id: str, site_id: int, version: int | None, **kwargs: object
) -> None:
    try:
        client = getattr(_publisher, "client", None) or redis_client()
        _publisher.client = client
        client.publish(
            channel(client), f"{site_id}:{run_id}:{version if version is not None else ''}"
        )
    except Exception:  # web processes still notice by watching the version
        _publisher.client = None
        log.debug("progress publish failed", exc_info=True)


def listen(callback) -> threading.Thread:
    """Call `callback("site:run:version")` for progress committed by any process (a daemon
    thread)."""

    def messages() -> Iterator[str]:
        client = redis_client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel(client))
        for message in pubsub.listen():
            if message.get("type") == "message":
                yield message["data"].decode()

    return signals.keep_listening("progress subscription", messages, callback)


def housekeeping(stop: threading.Event, every: float = 1.0) -> None:
    """Run in every Celery worker: take back expired claims, begin queued runs, move finished
    stages on and restart work on stages whose tasks were lost. Safe to run in many processes."""
    from django.utils import timezone

    from cascade.automation import schedules
    from cascade.automation.models import AutomationRun
    from cascade.automation.process_models import WorkerBeat
    from cascade.automation.statuses import RunStatus
    from cascade.automation.tasks import fan_out, kick_run

    client = redis_client()
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    name = engine.process_name()
    try:  # a stopped process of this host (a restarted worker's own past): at once, not at expiry
        engine.release_orphans()  # (the engine logs what it takes back)
    except Exception:
        log.exception("could not take back the claims of stopped processes")
    finally:
        close_old_connections()
    while True:
        try:
            WorkerBeat.objects.update_or_create(
                name=name, defaults={"kind": "celery", "seen_at": timezone.now()}
            )
            engine.reclaim_expired(force=True)
            schedules.start_due()
            for pk, status in AutomationRun.objects.filter(
                status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
            ).values_list("pk", "status"):
                run_id = str(pk)
                # one process per run and second does this, the others skip
                if not client.set(
                    f"cascade:housekeeping:{run_id}", "1", nx=True, ex=max(1, int(every))
                ):
                    continue
                if status == RunStatus.QUEUED:
                    kick_run.delay(run_id)
                elif engine.advance_if_stage_done(run_id):
                    fan_out(run_id)
                elif client.llen(queue) == 0 and engine.claimable_batches(run_id):
                    fan_out(run_id)
        except Exception:
            log.exception("housekeeping failed; retrying")
        finally:
            close_old_connections()
        if stop.wait(every):
            break
