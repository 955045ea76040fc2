"""Shared people and places: alice owns the Garden account, bob owns another account, carol is a
viewer and erin an editor in alice's account."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from cascade.accounts import credits
from cascade.accounts.models import Account, ApiToken, Membership, Role, Site
from cascade.ai import reset_provider_cache
from cascade.automation import engine, progress
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import FINISHED
from cascade.automation.worker import EmbeddedWorker
from cascade.planner.importing import import_rows

DATA = Path(__file__).parent / "data"
CELERY = settings.CASCADE_EXECUTOR == "celery"
# Before any password is hashed (tests/hashers.py says why).
settings.PASSWORD_HASHERS = ["tests.hashers.QuickPBKDF2PasswordHasher"]

if CELERY:
    # Each xdist worker gets its own Redis database, so tasks of one never reach the other.
    _db = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) + 1
    _base = settings.CELERY_BROKER_URL.rsplit("/", 1)[0]
    settings.CELERY_BROKER_URL = settings.CASCADE_REDIS_URL = f"{_base}/{_db}"
    from cascade.celery import app as celery_app

    celery_app.conf.broker_url = settings.CELERY_BROKER_URL
from tests.wordpress import own_wordpress, plain_wordpress, wordpress  # noqa: E402, F401 (fixtures)

DEMO = Path(__file__).parents[1] / "cascade" / "automation" / "data" / "demo_keywords.csv"


@pytest.fixture(autouse=True)
def fast_engine(request, settings, tmp_path):
    """Small pictures, short backoffs and no simulated latency unless a test asks for it with
    `@pytest.mark.engine(latency={...}, claim_timeout=...)` (set before any worker starts)."""
    marker = request.node.get_closest_marker("engine")
    options = marker.kwargs if marker else {}
    settings.CASCADE_IMAGE_SCALE = 0.05
    settings.CASCADE_RETRY_BACKOFF = 0.01
    settings.CASCADE_CLAIM_TIMEOUT = options.get("claim_timeout", 5.0)
    settings.CASCADE_AI_LATENCY = options.get("latency", {})
    settings.CASCADE_AI_PROVIDER = "local"
    settings.MEDIA_ROOT = tmp_path / "media"
    reset_provider_cache()
    if CELERY:
        from cascade.automation.executor import redis_client

        redis_client().flushdb()
    yield
    reset_provider_cache()


def keywords_of(path: Path, limit: int | None = None, every: int = 1) -> list[dict]:
    rows = list(csv.DictReader(path.open()))[::every]
    return rows[:limit] if limit else rows


def make_user(django_user_model, name: str, account: Account, role: str):
    user = django_user_model.objects.create_user(username=name, password=f"{name}-password")
    Membership.objects.create(user=user, account=account, role=role)
    return user


@pytest.fixture
def garden(db) -> Account:
    account = Account.objects.create(name="Garden")
    credits.add(account, 1_000_000, note="Opening credits")
    return account


@pytest.fixture
def alice(django_user_model, garden):
    return make_user(django_user_model, "alice", garden, Role.OWNER)


@pytest.fixture
def carol(django_user_model, garden):
    return make_user(django_user_model, "carol", garden, Role.VIEWER)


@pytest.fixture
def erin(django_user_model, garden):
    return make_user(django_user_model, "erin", garden, Role.EDITOR)


@pytest.fixture
def bob(django_user_model, db):
    other = Account.objects.create(name="Bob's Account")
    credits.add(other, 1000, note="Opening credits")
    user = make_user(django_user_model, "bob", other, Role.OWNER)
    Site.objects.create(account=other, name="Bob's Blog")
    return user


@pytest.fixture
def site(garden, alice) -> Site:
    """Alice's site with 40 keywords in four topics (every 10th... of the demo set's first 40)."""
    site = Site.objects.create(account=garden, name="Alice's Garden")
    import_rows(site, keywords_of(DEMO, limit=40))
    return site


@pytest.fixture
def token_for() -> Callable:
    def issue(user) -> str:
        return ApiToken.issue(user, "tests")[1]

    return issue


@pytest.fixture
def api(alice, token_for) -> Client:
    """A client that speaks to the API as alice with a bearer token."""
    return Client(headers={"Authorization": f"Bearer {token_for(alice)}"})


class CeleryWorkers:
    """Celery worker processes (`cascade worker`) on the test database and Redis."""

    def __init__(self, count: int, log_dir: Path, **env: str) -> None:
        from django.utils import timezone

        from tests.servers import ROOT, server_env

        started = timezone.now()
        self.procs: list[subprocess.Popen] = []
        for i in range(count):
            log = open(log_dir / f"celery-{i}.log", "ab")
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "cascade",
                        "worker",
                        "--pool",
                        "solo",
                        "--concurrency",
                        "1",
                        "--name",
                        f"test{i}-{os.getpid()}@%h",
                    ],
                    cwd=ROOT,
                    env=server_env(**env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        from cascade.automation.process_models import WorkerBeat

        wait_for(
            lambda: WorkerBeat.objects.filter(kind="celery", seen_at__gte=started).count() >= count,
            60,
            0.1,
            "Celery workers",
        )

    def kill(self, index: int) -> None:
        os.killpg(self.procs[index].pid, signal.SIGKILL)
        self.procs[index].wait(10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def start_workers(log_dir: Path, count: int = 2):
    """Whatever processes runs in this configuration: the embedded pool, or Celery workers."""
    if CELERY:
        return CeleryWorkers(count, log_dir)
    pool = EmbeddedWorker(threads=count, idle_wait=0.05)
    pool.start()
    return pool


@contextmanager
def serving(log_dir: Path, **env: str):
    """`cascade serve` on loopback with what works on runs in this configuration: its embedded
    worker, or (`serve` is web-only on Celery) two Celery workers beside it."""
    from tests.servers import Server

    with Server(log=log_dir / "serve.log", **env) as server:
        workers = CeleryWorkers(2, log_dir, **env) if CELERY else None
        try:
            yield server
        finally:
            if workers:
                workers.stop()


class KillableWorker:
    """One process that works on runs and can be killed: `cascade serve` with its embedded
    worker, or a Celery worker in celery mode."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        from tests.servers import Server

        if CELERY:
            self.proc = CeleryWorkers(1, log_dir, **env)
        else:
            self.proc = Server(log=log_dir / "serve.log", **env).start()

    def kill(self) -> None:
        self.proc.kill(0) if CELERY else self.proc.kill()

    def stop(self) -> None:
        self.proc.stop()


@pytest.fixture
def worker(transactional_db, tmp_path):
    workers = start_workers(tmp_path)
    yield workers
    workers.stop()


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 60.0,
    interval: float = 0.02,
    what: str = "condition",
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_until_finished(run: AutomationRun, timeout: float = 120.0) -> AutomationRun:
    def finished():
        run.refresh_from_db()
        return run.status in FINISHED

    wait_for(finished, timeout, what=f"run {run.pk} to finish")
    return run


def stage_one_only(site: Site) -> None:
    """The site's runs stop after stage 1: a test of clustering needs no articles or pictures."""
    from cascade.automation import config
    from cascade.automation.stages import registry

    stages = len(registry())
    config.save(site, {**config.load(site), "stages_enabled": [True] + [False] * (stages - 1)})


def run_to_end(site: Site) -> AutomationRun:
    """Start a run and drive the engine in this thread until nothing is left to do."""
    run = engine.start_run(site)
    engine.run_until_idle(timeout=300)
    run.refresh_from_db()
    return run


@pytest.fixture
def written(site):
    """Alice's site after a whole run: its articles wait for review."""
    assert run_to_end(site).outcome == "succeeded"
    return site


def snapshot(run: AutomationRun) -> dict:
    run.refresh_from_db()
    return progress.build_snapshot(run)


@pytest.fixture(scope="module")
def playwright_browser():
    """Debian's Chromium, shared by a test module's browser tests."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used beside Playwright's loop
    try:
        with sync_playwright() as p:
            browser = launch(p)
            yield browser
            browser.close()
    finally:  # the module's tests alone: later tests (and their servers) keep async safety
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def login(alice, server):
    """A browser page logged in as alice (or another user) on the test's `server`."""
    from tests.browser import with_session

    def open_page(browser, width=1440, height=1000, user=None, csp=False, touch=False):
        """`touch`: a phone's browser (a touch screen, no mouse to hover with)."""
        client = Client()
        client.force_login(user or alice)
        session = client.cookies["sessionid"].value
        device = {"is_mobile": True, "has_touch": True} if touch else {}
        return with_session(
            browser,
            server.url,
            session,
            csp=csp,
            viewport={"width": width, "height": height},
            **device,
        )

    return open_page


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL pass, a test that never reaches a database (no database fixture, no
    `django_db` mark) has already run on the SQLite pass: it runs once, not twice."""
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return
    kept, dropped = [], []
    for item in items:
        uses_db = "django_db_setup" in getattr(item, "fixturenames", ()) or item.get_closest_marker(
            "django_db"
        )
        (kept if uses_db or item.get_closest_marker("celery") else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def gated_server(tmp_path, site):
    """`cascade serve` whose articles wait at their writing while `server.gate` exists (a test
    creates it to hold them, and removes it to let them finish)."""
    from tests.servers import Server

    gate = tmp_path / "gate"
    env = {
        "CASCADE_AI_LATENCY": "1:0.02,2:0.2,4:0.35,5:0.05,6:0.1",
        "CASCADE_AI_PROVIDER": "tests.providers.GatedProvider",
        "CASCADE_TEST_GATE_FILE": str(gate),
    }
    with Server(log=tmp_path / "serve.log", **env) as server:
        server.gate = gate
        try:
            yield server
        finally:  # held articles finish before the server stops, whatever the test did
            gate.unlink(missing_ok=True)
