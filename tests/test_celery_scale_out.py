"""Scale-out on Celery workers, Redis and PostgreSQL (the second pass of `make test`)."""

from __future__ import annotations

import json
import statistics
import threading
import time

import pytest

from cascade.accounts.models import Site
from cascade.automation import engine
from cascade.automation.models import RunItem, RunStage
from cascade.automation.statuses import ItemState
from cascade.planner.importing import import_rows
from cascade.planner.models import Keyword
from tests.conftest import CeleryWorkers, snapshot, wait_for, wait_until_finished
from tests.invariants import (
    charged_to,
    check_chaining,
    check_completed_run,
    check_full_run,
    check_snapshot,
)
from tests.keywords import synthetic_keywords
from tests.servers import Server, open_stream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery, pytest.mark.slow]


def big_site(account, name: str, count: int) -> Site:
    site = Site.objects.create(account=account, name=name)
    rows = [{"keyword": k} for k in synthetic_keywords(count)]
    import_rows(site, rows)
    assert Keyword.objects.filter(site=site).count() == count
    return site


def overlapping_workers(run, stage: int) -> set[str]:
    """Workers whose items of one stage were being processed at the same time as another's."""
    items = list(
        RunItem.objects.filter(run=run, stage=stage, state=ItemState.DONE).values_list(
            "worker", "started_at", "finished_at"
        )
    )
    overlapping = set()
    for w1, s1, f1 in items:
        for w2, s2, f2 in items:
            if w1 != w2 and s1 < f2 and s2 < f1:
                overlapping.update({w1, w2})
    return overlapping


@pytest.mark.engine(latency={2: 0.02, 4: 0.06, 6: 0.02})
def test_three_workers_share_one_stage_of_a_500_keyword_run(garden, alice, tmp_path):
    site = big_site(garden, "Big", 500)
    workers = CeleryWorkers(3, tmp_path)
    try:
        run = engine.start_run(site)
        docs = []
        while run.status not in ("completed", "failed", "cancelled"):
            docs.append(snapshot(run))
            check_snapshot(docs[-1])
            time.sleep(0.2)
        wait_until_finished(run, timeout=300)
    finally:
        workers.stop()
    check_completed_run(run)
    percentages = [d["global_progress"]["percentage"] for d in docs]
    assert percentages == sorted(percentages)
    sharing = overlapping_workers(run, 4)
    assert len(sharing) >= 2, "articles were never written by two workers at the same time"
    assert len({w.rsplit(":", 1)[0] for w in sharing}) >= 2, (
        "the overlapping workers are separate processes"
    )


@pytest.mark.engine(latency={4: 0.2, 6: 0.05}, claim_timeout=3.0)
def test_a_worker_killed_mid_stage_costs_only_time(garden, alice, tmp_path):
    site = big_site(garden, "Killed", 120)
    balance = garden.credits
    workers = CeleryWorkers(3, tmp_path)
    try:
        run = engine.start_run(site)
        wait_for(
            lambda: RunStage.objects.filter(
                run=run, number=4, processed_count__gte=3, in_progress_count__gte=2
            ).exists(),
            120,
            what="stage 4 busy",
        )
        victim = workers.procs[0].pid
        busy = RunItem.objects.filter(
            run=run, state=ItemState.PROCESSING, worker__contains=f":{victim}:"
        )
        wait_for(busy.exists, 30, 0.005, "the victim to hold an item")
        workers.kill(0)
        assert busy.exists(), "the killed worker's claims are left behind"
        wait_until_finished(run, timeout=300)
    finally:
        workers.stop()
    check_completed_run(run)
    garden.refresh_from_db()
    assert charged_to(run) == run.credits_used
    assert balance - garden.credits == run.credits_used
    assert run.events.filter(kind="item_reclaimed").exists()


@pytest.mark.engine(latency={4: 0.03})
def test_two_sites_run_at_once_on_the_same_workers_without_cross_talk(garden, alice, tmp_path):
    first, second = big_site(garden, "First", 60), big_site(garden, "Second", 80)
    workers = CeleryWorkers(2, tmp_path)
    try:
        runs = [engine.start_run(first), engine.start_run(second)]
        for run in runs:
            wait_until_finished(run, timeout=300)
    finally:
        workers.stop()
    for run, site in zip(runs, (first, second), strict=True):
        assert run.status == "completed"
        check_full_run(run)
        doc = snapshot(run)
        check_chaining(doc)
        assert doc["stages"][0]["input_count"] == Keyword.objects.filter(site=site).count()
        keyword_ids = set(
            RunItem.objects.filter(run=run, stage=1).values_list("object_id", flat=True)
        )
        assert keyword_ids == set(Keyword.objects.filter(site=site).values_list("id", flat=True))
    processes = set(RunItem.objects.filter(run__in=runs).values_list("worker", flat=True))
    assert len({w.rsplit(":", 1)[0] for w in processes}) >= 2, "both workers took part"


def test_progress_committed_by_another_process_reaches_the_web_stream_within_a_second(
    site, alice, token_for, tmp_path
):
    token = token_for(alice)
    server = Server(log=tmp_path / "serve.log").start()  # web only: CASCADE_EXECUTOR=celery
    received: list[tuple[float, int]] = []
    stop = threading.Event()

    def listen():
        response = open_stream(server, site.pk, token)
        event = None
        while not stop.is_set():
            line = response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "progress" and line != "data: null":
                received.append((time.monotonic(), json.loads(line[6:])["version"]))
        response.close()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        time.sleep(1.0)
        run = engine.start_run(site)
        engine.begin_run(run.pk)
        latencies = []
        for _ in range(12):
            claim = engine.claim_items(run.pk, "latency-probe")  # one committed progress change
            committed = time.monotonic()
            run.refresh_from_db()
            version = run.version
            wait_for(lambda v=version: any(got >= v for _, got in received), 5, 0.005, "the event")
            arrived = next(t for t, got in received if got >= version)
            latencies.append(arrived - committed)
            engine.release(claim.items, claim.token)
            time.sleep(0.4)
    finally:
        stop.set()
        server.stop()
    assert max(latencies) < 1.0, latencies
    assert statistics.median(latencies) < 0.5, latencies


def test_installations_sharing_a_redis_server_hear_only_their_own_progress(settings):
    """Redis's publish/subscribe ignores the database number: two installations on one Redis
    server (here databases 14 and 15) must not hear each other's commits, or a page would show
    a run of the other installation (or lose its stream on a run it cannot find)."""
    import redis

    from cascade.automation import executor

    base = settings.CASCADE_REDIS_URL.rsplit("/", 1)[0]
    heard: dict[int, list[str]] = {14: [], 15: []}
    subscriptions = {}
    clients = [redis.Redis.from_url(f"{base}/{db}") for db in heard]  # kept: each holds its pool
    for db, client in zip(heard, clients, strict=True):
        subscription = client.pubsub()
        subscription.subscribe(executor.channel(client))
        confirmed = subscription.get_message(timeout=5)  # subscribed before anything is sent
        assert confirmed and confirmed["type"] == "subscribe", confirmed
        subscriptions[db] = subscription
    settings.CASCADE_REDIS_URL = f"{base}/14"
    executor._publisher.client = None  # the next publish connects to the setting of now
    try:
        executor._publish(None, run_id="a-run", site_id=1, version=3)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not heard[14]:
            for db, subscription in subscriptions.items():
                message = subscription.get_message(timeout=0.1)
                if message and message["type"] == "message":
                    heard[db].append(message["data"].decode())
        time.sleep(0.3)
        message = subscriptions[15].get_message(timeout=0.3)
        if message and message["type"] == "message":
            heard[15].append(message["data"].decode())
    finally:
        executor._publisher.client = None
        for subscription in subscriptions.values():
            subscription.close()
    assert heard == {14: ["1:a-run:3"], 15: []}
