from __future__ import annotations

import logging

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cascade.automation.worker import EmbeddedWorker

log = logging.getLogger("cascade.serve")


class Command(BaseCommand):
    help = "Serve the web app and API (ASGI, live updates) with the embedded worker unless work goes to Celery."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.CASCADE_WORKER_THREADS,
            help="embedded worker threads",
        )
        parser.add_argument("--no-worker", action="store_true", help="serve the web only")
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, host, port, threads, no_worker, no_migrate, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        worker = None
        if not no_worker and settings.CASCADE_EXECUTOR == "embedded":
            worker = EmbeddedWorker(threads)
            worker.start()
        config = uvicorn.Config(
            "cascade.asgi:application",
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self.stdout.write(
            f"Cascade serving at http://{host}:{port}/ "
            f"({'embedded worker, ' + str(threads) + ' threads' if worker else 'web only'})"
        )
        try:
            uvicorn.Server(config).run()  # returns on SIGINT/SIGTERM
        finally:
            if worker is not None:
                worker.stop()
