"""Shared people and places: alice owns the Garden account, bob owns another account, carol is a
viewer and erin an editor in alice's account."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import Client

from cascade.accounts.models import Account, ApiToken, Membership, Role, Site
from cascade.ai import reset_provider_cache
from cascade.automation import engine, progress
from cascade.automation.models import FINISHED, AutomationRun
from cascade.automation.worker import EmbeddedWorker
from cascade.planner.importing import import_rows

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parents[1] / "cascade" / "automation" / "data" / "demo_keywords.csv"


@pytest.fixture(autouse=True)
def fast_engine(settings, tmp_path):
    """Small pictures, short backoffs and no simulated latency unless a test asks for it."""
    settings.CASCADE_IMAGE_SCALE = 0.05
    settings.CASCADE_RETRY_BACKOFF = 0.01
    settings.CASCADE_CLAIM_TIMEOUT = 5.0
    settings.CASCADE_AI_LATENCY = {}
    settings.CASCADE_AI_PROVIDER = "local"
    settings.MEDIA_ROOT = tmp_path / "media"
    reset_provider_cache()
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
    return Account.objects.create(name="Garden", credits=1_000_000)


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
    other = Account.objects.create(name="Bob's Account", credits=1000)
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


@pytest.fixture
def worker(transactional_db) -> Iterator[EmbeddedWorker]:
    pool = EmbeddedWorker(threads=2, idle_wait=0.05)
    pool.start()
    yield pool
    pool.stop()


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


def run_to_end(site: Site) -> AutomationRun:
    """Start a run and drive the engine in this thread until nothing is left to do."""
    run = engine.start_run(site)
    engine.run_until_idle(timeout=300)
    run.refresh_from_db()
    return run


def snapshot(run: AutomationRun) -> dict:
    run.refresh_from_db()
    return progress.build_snapshot(run)
