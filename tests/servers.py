"""Real `cascade serve` processes on loopback, sharing the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # The browser tests let this process use the ORM beside Playwright's loop; a server or
    # command under test keeps Django's async safety (and `check --deploy` rightly refuses it).
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["CASCADE_DB_PATH"] = str(db["NAME"])
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    env["CASCADE_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env["CASCADE_IMAGE_SCALE"] = str(settings.CASCADE_IMAGE_SCALE)
    env["CASCADE_RETRY_BACKOFF"] = str(settings.CASCADE_RETRY_BACKOFF)
    env["CASCADE_CLAIM_TIMEOUT"] = str(settings.CASCADE_CLAIM_TIMEOUT)
    env["CASCADE_AI_LATENCY"] = ",".join(f"{k}:{v}" for k, v in settings.CASCADE_AI_LATENCY.items())
    env["CASCADE_AI_PROVIDER"] = settings.CASCADE_AI_PROVIDER
    allowed = settings.CASCADE_WEBHOOKS_ALLOW_PRIVATE
    env["CASCADE_WEBHOOKS_ALLOW_PRIVATE"] = (
        str(allowed) if isinstance(allowed, bool) else ",".join(allowed)
    )
    env["CASCADE_WEBHOOK_BACKOFF"] = str(settings.CASCADE_WEBHOOK_BACKOFF)
    env["CASCADE_WEBHOOK_MAX_BACKOFF"] = str(settings.CASCADE_WEBHOOK_MAX_BACKOFF)
    env["CASCADE_EXECUTOR"] = settings.CASCADE_EXECUTOR
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    env["CASCADE_REDIS_URL"] = settings.CASCADE_REDIS_URL
    env["CASCADE_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


def cascade(*args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """The command line on the test database (unless `env` says otherwise)."""
    result = subprocess.run(
        [sys.executable, "-m", "cascade", *args],
        cwd=ROOT,
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"cascade {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


class Server:
    def __init__(
        self,
        port: int | None = None,
        log: Path | None = None,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.args = args
        self.env = server_env(**env)
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cascade",
                "serve",
                "--port",
                str(self.port),
                "--no-migrate",
                *self.args,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"cascade serve exited with {self.proc.returncode}; see {self.log}"
                )
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("cascade serve did not answer /healthz in time")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def open_stream(server: Server, site_id: int, token: str):
    """The API's event stream of a site, opened with a bearer token."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request(
        "GET",
        f"/api/v1/automation/stream/?site_id={site_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    return connection.getresponse()
