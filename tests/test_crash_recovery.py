from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from cascade.automation import engine
from cascade.automation.models import AutomationRun, RunItem, RunStage
from cascade.automation.statuses import ItemState
from tests.conftest import (
    KillableWorker,
    snapshot,
    start_workers,
    wait_for,
    wait_until_finished,
)
from tests.invariants import charged_to, check_chaining, check_full_run, check_snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LATENCY = "1:0.01,2:0.15,4:0.15,5:0.05,6:0.08"
# A killed worker's claims are taken back at once by the next worker process started on the same
# host, else once they expire: long enough that a live worker's are always
# kept fresh on a busy machine, short enough that three kills cost well under a minute.
CLAIM_TIMEOUT = "15"


def mid_stage(run: AutomationRun, number: int):
    """The stage has items done and items claimed right now (read in one transaction)."""

    def check():
        with transaction.atomic():
            row = RunStage.objects.filter(run=run, number=number).first()
            return (
                row
                and row.status == "active"
                and row.processed_count >= 1
                and row.in_progress_count >= 1
                and RunItem.objects.filter(run=run, state=ItemState.PROCESSING).exists()
            )

    return check


def kill_holding_claims(run: AutomationRun, number: int, tmp_path) -> None:
    """Start a worker and kill it while it holds claims in the stage. A worker that happened to
    commit its last claim between the check and the kill left nothing behind: another is
    started and killed the same way."""
    for _ in range(3):
        process = KillableWorker(
            tmp_path, CASCADE_AI_LATENCY=LATENCY, CASCADE_CLAIM_TIMEOUT=CLAIM_TIMEOUT
        )
        try:
            wait_for(mid_stage(run, number), timeout=90, what=f"stage {number} in progress")
        finally:
            process.kill()
        if RunItem.objects.filter(run=run, state=ItemState.PROCESSING).exists():
            return
    raise AssertionError(f"no worker could be killed while holding claims in stage {number}")


def test_a_worker_killed_mid_stage_loses_and_doubles_nothing(site, tmp_path):
    balance = site.account.credits
    run = engine.start_run(site)
    for stage in (2, 4, 6):
        kill_holding_claims(run, stage, tmp_path)
        check_snapshot(snapshot(run))
        # the dead worker's claims are still there until someone takes them back
        assert RunItem.objects.filter(run=run, state=ItemState.PROCESSING).exists()
    process = KillableWorker(tmp_path, CASCADE_AI_LATENCY="", CASCADE_CLAIM_TIMEOUT=CLAIM_TIMEOUT)
    try:
        wait_until_finished(run, timeout=120)
    finally:
        process.stop()
    assert run.status == "completed"
    # each kill left claims behind, and each stage's were taken back by the next worker
    reclaimed = set(run.events.filter(kind="item_reclaimed").values_list("stage", flat=True))
    assert reclaimed == {2, 4, 6}, reclaimed
    check_full_run(run)
    doc = snapshot(run)
    check_snapshot(doc)
    check_chaining(doc)
    site.account.refresh_from_db()
    ledger = charged_to(run)
    assert ledger == run.credits_used
    assert balance - site.account.credits == run.credits_used, "reserved credits were lost"
    assert site.account.reserved == 0


def test_an_expired_claim_is_taken_back_and_its_credits_returned(site):
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    claim = engine.claim_items(run.pk, "elsewhere:1:1")
    assert claim is not None
    item = claim.items[0]
    assert engine.reserve(run, claim.token, claim.items, 4)
    site.account.refresh_from_db()
    assert site.account.reserved == 4
    RunItem.objects.filter(claim_token=claim.token).update(
        claim_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert engine.reclaim_expired(force=True) == len(claim.items)
    site.account.refresh_from_db()
    assert site.account.reserved == 0
    item.refresh_from_db()
    assert item.state == ItemState.QUEUED and item.attempts == 0
    assert RunStage.objects.get(run=run, number=1).in_progress_count == 0
    engine.run_until_idle()
    run.refresh_from_db()
    check_full_run(run)


def test_a_claim_taken_back_before_its_credits_are_held_holds_nothing(site):
    """A worker that wakes up after its claim was taken back must not hold credits for it: the
    hold would be recorded on no item, and nothing would ever give it back."""
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    claim = engine.claim_items(run.pk, "elsewhere:1:1")
    assert claim is not None
    RunItem.objects.filter(claim_token=claim.token).update(
        claim_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert engine.reclaim_expired(force=True) == len(claim.items)
    with pytest.raises(engine.LostClaim):
        engine.reserve(run, claim.token, claim.items, 4)
    site.account.refresh_from_db()
    assert site.account.reserved == 0
    assert not RunItem.objects.filter(run=run, reserved_credits__gt=0).exists()
    engine.run_until_idle()
    run.refresh_from_db()
    check_full_run(run)


def stopped_process_of(machine: str) -> str:
    """A process of `machine` (a host, and its process-id namespace) that no longer exists, named
    as claims name a process."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    return f"{machine}:{gone.pid}"


THIS_MACHINE = engine.process_name().rsplit(":", 1)[0]


# A claim that would outlive the test: only the start of a worker can take it back.
@pytest.mark.engine(claim_timeout=3600)
def test_a_worker_that_starts_takes_back_the_claims_of_stopped_processes_of_its_host(
    site, tmp_path
):
    """Whatever runs the work (`cascade serve`'s embedded worker, or a Celery worker), a process
    that starts takes back at once what a stopped process of the same host held, instead of
    leaving it until its claim expires."""
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    claim = engine.claim_items(run.pk, f"{stopped_process_of(THIS_MACHINE)}:1")
    assert claim is not None
    workers = start_workers(tmp_path)
    try:
        wait_until_finished(run, timeout=120)
    finally:
        workers.stop()
    assert run.status == "completed"
    reclaimed = run.events.filter(kind="item_reclaimed").values_list("stage", flat=True)
    assert list(reclaimed) == [1]
    check_full_run(run)


def test_a_claim_of_another_process_id_namespace_is_left_to_expire(site):
    """Containers that share a host name each number their processes: a claim made in another
    namespace is never taken back because its process id is free here."""
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    assert THIS_MACHINE.startswith(socket.gethostname())
    claim = engine.claim_items(run.pk, f"{stopped_process_of(socket.gethostname() + '/1')}:1")
    assert claim is not None
    assert engine.release_orphans() == 0
    held = RunItem.objects.filter(claim_token=claim.token, state=ItemState.PROCESSING)
    assert held.count() == len(claim.items)


@pytest.mark.engine(claim_timeout=0.6, latency={1: 0.05})  # 40 keywords in one batch: 2 s
def test_a_live_worker_keeps_its_claim_beyond_the_timeout(site, worker):
    run = engine.start_run(site)
    wait_until_finished(run)
    assert run.status == "completed"
    assert not run.events.filter(kind="item_reclaimed").exists()
    check_full_run(run)


@pytest.mark.engine(claim_timeout=0.6, latency={1: 0.05, 4: 0.05})
def test_one_thread_keeps_every_claim_of_a_process(site):
    """Claims are kept fresh by one thread per process, not one thread (and one database
    connection) per claim."""
    from cascade.automation.worker import EmbeddedWorker

    pool = EmbeddedWorker(threads=2, idle_wait=0.05)
    pool.start()
    keepers: list[int] = []
    try:
        run = engine.start_run(site)
        while not AutomationRun.objects.get(pk=run.pk).finished_at:
            names = [t.name for t in threading.enumerate()]
            assert not any(n.startswith("claim-heartbeat") for n in names), names
            keepers.append(sum(n == "claim-keeper" for n in names))
            time.sleep(0.02)
    finally:
        pool.stop()
    run.refresh_from_db()
    assert run.status == "completed" and not run.events.filter(kind="item_reclaimed").exists()
    assert max(keepers) == 1


def test_the_claim_keeper_outlives_an_error_of_its_own(site, monkeypatch):
    """The keeper runs for the life of its process: an error in one beat (here settings read
    while they are being swapped, as a test's teardown does) must not end it, or every claim
    the process makes after would expire and its live work be taken back."""
    from django.conf import settings

    from cascade.automation.engine import keeper

    fresh = keeper._Keeper(name="claim-keeper-under-test")

    class SwappedOnce:  # (the process's own keeper, if running, reads the real settings)
        reads = 0

        def __getattr__(self, name: str):
            if name == "CASCADE_CLAIM_TIMEOUT" and threading.current_thread() is fresh.thread:
                SwappedOnce.reads += 1
                if SwappedOnce.reads == 1:
                    raise AttributeError("'NoneType' object has no attribute " + repr(name))
            return getattr(settings, name)

    monkeypatch.setattr(keeper, "settings", SwappedOnce())
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    claim = engine.claim_items(run.pk, engine.worker_name())
    assert claim is not None
    held = RunItem.objects.filter(claim_token=claim.token, state=ItemState.PROCESSING)
    held.update(claim_expires_at=timezone.now())
    fresh.hold(claim.token)
    try:
        wait_for(
            lambda: (
                held.filter(claim_expires_at__gt=timezone.now() + timedelta(seconds=1)).count()
                == len(claim.items)
            ),
            timeout=30,
            what="the claim kept fresh after the keeper's error",
        )
    finally:
        fresh.drop(claim.token)
    assert SwappedOnce.reads >= 2


def test_a_forked_child_holds_none_of_its_parents_claims():
    """A Celery pool process is forked from a parent that may hold claims: the child's keeper
    starts empty (it must not keep a dead parent's items from being taken back) and with a lock
    of its own (the parent's may be taken at the fork)."""
    from cascade.automation.engine import keeper

    fresh = keeper._Keeper(name="claim-keeper-fork-test")
    fresh.tokens["the-parents-claim"] += 1
    fresh.lock.acquire()  # as if a thread of the parent were taking a claim at the fork
    try:
        pid = os.fork()
        if pid == 0:  # the child: no database, no pytest, only the answer
            clean = not fresh.tokens and fresh.thread is None
            os._exit(0 if clean and fresh.lock.acquire(timeout=2) else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        fresh.lock.release()
    assert os.waitstatus_to_exitcode(status) == 0
    assert fresh.tokens == {"the-parents-claim": 1}  # the parent keeps its own
