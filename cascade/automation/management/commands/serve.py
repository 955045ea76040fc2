from __future__ import annotations

import logging
from types import FrameType

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from cascade.automation.worker import EmbeddedWorker
from cascade.lib import http_server
from cascade.lib.commands import Command as CascadeCommand
from cascade.live.hub import hub

log = logging.getLogger("cascade.serve")


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def pool_connections(size: int, held: int) -> bool:
    """On PostgreSQL, this process's threads (requests, streams' readers, the embedded worker)
    borrow their connections from one pool of at most `size` instead of opening one for each
    request: a connection costs a few milliseconds to open, more than a progress read's
    queries. A connection broken meanwhile (a database restart) is replaced when borrowed.
    `held` more are added for the threads that keep one through a slow call (an embedded
    worker's thread through a provider's answer, an outbound thread through a receiver's), so
    requests and streams always have `size` of their own. Only `cascade serve` pools: Celery's
    worker processes are forked, and a pool does not survive a fork."""
    database = connections["default"]
    if database.vendor != "postgresql" or size <= 0:
        return False
    connections.close_all()  # (the checks' or migrations' own, opened before the pool)
    database.settings_dict.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": size + held,
        "timeout": 3,  # then the request fails as the database being unreachable does
        "max_idle": 60,
    }
    database.settings_dict["CONN_HEALTH_CHECKS"] = True  # Django's pool then checks each borrowing
    return True


class Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        hub.shut_down()  # open event streams end, so stopping takes no grace period
        super().handle_exit(sig, frame)


class Command(CascadeCommand):
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
        parser.add_argument(
            "--access-log",
            action="store_true",
            default=settings.CASCADE_ACCESS_LOG,
            help="log every request (method, path, status) to standard error",
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            default=settings.CASCADE_PROXY_COUNT > 0,
            help="trust X-Forwarded-For/-Proto from a proxy on this machine (nginx)",
        )

    def handle(
        self, host, port, threads, no_worker, no_migrate, access_log, proxy_headers, **options
    ):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        worker = None
        embedded = not no_worker and settings.CASCADE_EXECUTOR == "embedded"
        # (+ 2: the worker's heartbeat and the claim keeper)
        held = settings.CASCADE_OUTBOUND_THREADS + (threads + 2 if embedded else 0)
        pooled = pool_connections(settings.CASCADE_DB_POOL_SIZE, held)
        if embedded:
            worker = EmbeddedWorker(threads)
            worker.start()
        config = uvicorn.Config(
            "cascade.asgi:application",
            host=host,
            port=port,
            log_level="info" if access_log else "warning",
            access_log=access_log,
            proxy_headers=proxy_headers,
            lifespan="off",
            timeout_graceful_shutdown=5,
            **http_server.limits(),
        )
        if not settings.DEBUG and not settings.CASCADE_HTTPS and host not in LOOPBACK:
            self.stderr.write(
                "Serving plain HTTP beyond this machine: put Cascade behind a TLS proxy and set "
                "CASCADE_HTTPS=1 (secure cookies, HSTS), as README's nginx recipe shows."
            )
        self.stdout.write(
            f"Cascade serving at http://{host}:{port}/ "
            f"({'embedded worker, ' + str(threads) + ' threads' if worker else 'web only'})"
        )
        try:
            Server(config).run()  # returns on SIGINT/SIGTERM
        finally:
            if worker is not None:
                worker.stop()
            if pooled:
                connections["default"].close_pool()
