"""Services that fail in the middle of a run, in the PostgreSQL + Celery + Redis set-up:
PostgreSQL restarted, Redis restarted, the media disk full. Each time the run says what happened
and completes after recovery with nothing lost or doubled.

These tests restart the shared PostgreSQL and Redis, so `scripts/run-tests` runs them one at a
time, beside the SQLite pass (which uses neither) and never beside the PostgreSQL pass (marker
`services`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from cascade.accounts.models import Site
from cascade.automation import engine
from cascade.automation.models import RunStage
from cascade.planner.importing import import_rows
from tests.conftest import CELERY, CeleryWorkers, wait_for, wait_until_finished
from tests.invariants import charged_to, check_completed_run
from tests.keywords import synthetic_keywords
from tests.servers import ROOT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.skipif(not CELERY, reason="runs in the PostgreSQL + Celery + Redis set-up"),
]
CTL = ROOT / "scripts" / "services-ctl"


def site_of(account, name: str, count: int) -> Site:
    site = Site.objects.create(account=account, name=name)
    import_rows(site, [{"keyword": k} for k in synthetic_keywords(count)])
    return site


def busy_in_stage(run, number: int, done: int = 3):
    wait_for(
        lambda: RunStage.objects.filter(
            run=run, number=number, processed_count__gte=done, in_progress_count__gte=1
        ).exists(),
        120,
        what=f"stage {number} busy",
    )


def started_busy(account, name: str, keywords: int, log_dir: Path):
    """Two Celery workers, and a run of a new site that has reached its articles."""
    site = site_of(account, name, keywords)
    workers = CeleryWorkers(2, log_dir)
    try:
        run = engine.start_run(site)
        busy_in_stage(run, 4)
    except BaseException:
        workers.stop()
        raise
    return workers, run


def reconnect() -> None:
    """This process's own connection died with the server: the next query opens a new one."""
    connection.close()


def finished_whole(run, account, balance: int) -> None:
    wait_until_finished(run, timeout=300)
    check_completed_run(run)
    account.refresh_from_db()
    assert charged_to(run) == run.credits_used == balance - account.credits


# Down for twice the claim timeout: claims made before the outage have certainly expired when
# the database is back, so whatever items were in flight are taken back,
# whichever of the worker and the housekeeping reaches the database first.
@pytest.mark.parametrize("outage", ["restart", "down for 6 s"])
# Articles take seconds, so the outage falls while the run is writing them. 14 keywords make 8
# clusters by meaning: enough articles for the outage to fall among them, few enough to finish.
@pytest.mark.engine(latency={4: 3.0, 6: 0.02}, claim_timeout=3.0)
def test_postgresql_restarted_mid_run(garden, alice, tmp_path, outage):
    balance = garden.credits
    workers, run = started_busy(garden, "PostgreSQL restarted", 14, tmp_path)
    try:
        if outage == "restart":  # `pg_ctl restart -m fast`
            subprocess.run([CTL, "pg-restart"], check=True, timeout=120)
        else:
            subprocess.run([CTL, "pg-stop"], check=True, timeout=120)
            time.sleep(6)
            subprocess.run([CTL, "pg-start"], check=True, timeout=120)
        reconnect()
        finished_whole(run, garden, balance)
    finally:
        subprocess.run([CTL, "pg-start"], capture_output=True, timeout=120)
        reconnect()
        workers.stop()
    # Whether items were in flight when the database went away depends on where each worker
    # was at that instant (in two of about ten runs every task died opening a connection,
    # holding nothing, and nothing needed taking back): that the journal says so when claims
    # are taken back is shown by the killed-worker tests (test_crash_recovery.py); here, that
    # the run completes with nothing lost or doubled and the credits exact.


@pytest.mark.engine(latency={4: 0.15, 6: 0.02}, claim_timeout=3.0)
def test_redis_restarted_mid_run(garden, alice, tmp_path):
    balance = garden.credits
    workers, run = started_busy(garden, "Redis restarted", 80, tmp_path)
    try:
        subprocess.run([CTL, "redis-stop"], check=True, timeout=60)
        time.sleep(2)  # queued tasks are gone with it (no persistence)
        subprocess.run([CTL, "redis-start"], check=True, timeout=60)
        finished_whole(run, garden, balance)
    finally:
        workers.stop()
        subprocess.run([CTL, "redis-start"], timeout=60)  # whatever happened, leave it running


def small_disk(path: Path) -> bool:
    """A 2 MiB tmpfs at `path` when the machine allows mounting one (root in a container that
    permits it)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.environ.get("CASCADE_TEST_NO_TMPFS"):  # to try the other way on a machine that mounts
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


@pytest.mark.engine(latency={4: 0.02, 6: 0.02}, claim_timeout=3.0)
def test_media_disk_full_mid_run(garden, alice, tmp_path, capsys):
    site = site_of(garden, "Disk full", 24)
    balance = garden.credits
    media = tmp_path / "media"
    mounted = small_disk(media)
    with capsys.disabled():
        print(
            "\n  media disk full: a real 2 MiB tmpfs"
            if mounted
            else "\n  media disk full: no tmpfs allowed here, the storage layer raises ENOSPC"
        )
    env = {"CASCADE_MEDIA_ROOT": str(media), "CASCADE_STORAGE_RETRY_SECONDS": "0.5"}
    filler = media / "filler"
    if mounted:  # leave a few KiB: the first pictures fit, then the disk is full
        filler.write_bytes(b"\0" * (shutil.disk_usage(media).free - 16 * 1024))
    else:
        env["CASCADE_MEDIA_MIN_FREE_BYTES"] = str(10**18)
    workers = CeleryWorkers(2, tmp_path, **env)
    try:
        run = engine.start_run(site)
        full = wait_for(
            lambda: (
                type(run)
                .objects.filter(
                    pk=run.pk,
                    status="running",
                    status_message__startswith="The media storage is full",
                )
                .first()
            ),
            180,
            what="the run to say the disk is full",
        )
        assert "Free some space" in full.status_message
        assert run.events.filter(message__startswith="The media storage is full").exists()
        if mounted:
            filler.unlink()  # space again
        else:
            workers.stop()
            env.pop("CASCADE_MEDIA_MIN_FREE_BYTES")
            workers = CeleryWorkers(2, tmp_path, **env)
        finished_whole(run, garden, balance)
    finally:
        workers.stop()
        if mounted:
            subprocess.run(["umount", "-l", str(media)])
    run.refresh_from_db()
    assert run.status_message == "", "the notice goes once pictures are stored again"
    assert not list(media.rglob("*.part")), "no half-written picture is left behind"
