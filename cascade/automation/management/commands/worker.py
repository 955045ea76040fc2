from __future__ import annotations

import os
import socket

from django.conf import settings
from django.core.management.base import CommandError

from cascade.lib.commands import Command as CascadeCommand


class Command(CascadeCommand):
    help = "Start a Celery worker for Cascade (CASCADE_EXECUTOR=celery); same as `celery -A cascade worker`."

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.CASCADE_WORKER_THREADS,
            help="worker processes",
        )
        parser.add_argument("--loglevel", default="warning")
        parser.add_argument("--name", default="", help="node name (default cascade-<pid>@<host>)")
        parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])

    def handle(self, concurrency, loglevel, name, pool, **options):
        if settings.CASCADE_EXECUTOR != "celery":
            raise CommandError(
                "Set CASCADE_EXECUTOR=celery (and CELERY_BROKER_URL) to run Celery workers; "
                "the default embedded worker runs inside `cascade serve`."
            )
        from cascade.celery import app

        node = name or f"cascade-{os.getpid()}@{socket.gethostname()}"
        app.worker_main(
            [
                "worker",
                "--loglevel",
                loglevel,
                "--concurrency",
                str(concurrency),
                "--queues",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "--hostname",
                node,
                "--pool",
                pool,
                "--without-gossip",
                "--without-mingle",
            ]
        )
