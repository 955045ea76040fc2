"""An item whose processing stops its worker (a crash in an AI library, running out of memory)
is taken back and tried again, but not for ever: at the third stopped worker it fails with that
reason, and the run goes on with the rest. Items that were only beside it when it struck are
tried again alone and done, never failed with it. With a provider that ends its process."""

from __future__ import annotations

import pytest

from cascade.automation import config, engine
from cascade.automation.models import RunItem
from cascade.automation.statuses import FINISHED, ItemState
from cascade.planner.importing import import_rows
from cascade.writer.models import Task
from tests.conftest import run_to_end, wait_for
from tests.providers import CrashingProvider
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_item_that_stops_its_worker_fails_at_the_third_stop_and_the_run_goes_on(site, tmp_path):
    planned = config.load(site)
    config.save(site, {**planned, "stages_enabled": [True] * 3 + [False] * 4})
    run_to_end(site)  # clusters, ideas and writing tasks, in this process
    config.save(site, {**planned, "stages_enabled": [True] * 4 + [False] * 3})
    tasks = list(Task.objects.filter(site=site).order_by("id"))
    doomed = tasks[len(tasks) // 2]
    marker = tmp_path / "crash-on"
    marker.write_text(doomed.title)
    run = engine.start_run(site)

    def over() -> bool:
        run.refresh_from_db()
        return run.status in FINISHED

    stops = []
    for _ in range(6):
        server = Server(
            log=tmp_path / "serve.log",
            CASCADE_AI_PROVIDER="tests.providers.CrashingProvider",
            CASCADE_TEST_CRASH_FILE=str(marker),
            CASCADE_EXECUTOR="embedded",
            # Two threads: another article is in flight beside the doomed one when it stops
            # (and shares its stops until each has been tried alone).
            CASCADE_WORKER_THREADS="2",
            CASCADE_CLAIM_TIMEOUT="30",
        )
        try:
            server.start()
        except RuntimeError:
            pass  # it stopped before it answered
        wait_for(
            lambda s=server: s.proc.poll() is not None or over(), 120, 0.1, "a stop or the end"
        )
        if server.proc.poll() is None:
            server.stop()
            break
        stops.append(server.proc.returncode)
    assert stops == [CrashingProvider.EXIT_CODE] * 3, stops
    assert over() and run.outcome == "partial"
    item = RunItem.objects.get(run=run, stage=4, object_id=doomed.pk)
    assert item.state == ItemState.FAILED and item.worker_stops == 3
    assert "stopped its worker 3 times" in item.last_error
    done = RunItem.objects.filter(run=run, stage=4, state=ItemState.DONE).count()
    assert done == len(tasks) - 1, "the run went on with every other article"
    stage = run.stages.get(number=4)
    assert (stage.processed_count, stage.failed_count, stage.in_progress_count) == (done, 1, 0)


def test_suspects_are_tried_alone_in_halving_batches_and_only_a_lone_stop_fails_one(site, bob):
    """The rules of engine/suspects.py, in this process: a stopped process's batch of keywords
    comes back as a batch halved at each stop; while a process holds a suspect claim it takes
    no other (of any run); an item fails at its third stop only if it was alone."""
    from cascade.accounts.models import Site
    from cascade.automation.engine import claims, suspects

    run = engine.start_run(site)
    engine.begin_run(run.pk)
    other_site = Site.objects.get(name="Bob's Blog")
    import_rows(other_site, [{"keyword": f"pond pump {n}"} for n in range(5)])
    other = engine.start_run(other_site)
    engine.begin_run(other.pk)

    def stop(claim, alone=False):  # the process that held it stopped
        claims._reclaim_token(claim.token, None, alone)
        suspects.let_go(claim.token)

    first = engine.claim_items(run.pk, "host:1:1")
    assert len(first.items) == 40  # stage 1 takes its batch together
    stop(first)
    again = engine.claim_items(run.pk, "host:2:1")
    assert len(again.items) == 40  # 100 halved once: all 40 fit
    # While this process tries suspects, it claims nothing else, of any run.
    assert engine.claim_items(other.pk, "host:2:2") is None
    stop(again)
    third = engine.claim_items(run.pk, "host:3:1")
    assert len(third.items) == 25 and {it.worker_stops for it in third.items} == {2}
    stop(third)
    assert not RunItem.objects.filter(run=run, state=ItemState.FAILED).exists()  # never alone
    # The other run's claims go on once this process holds no suspect.
    fourth = engine.claim_items(other.pk, "host:4:1")
    assert fourth is not None
    suspects.let_go(fourth.token)
    RunItem.objects.filter(claim_token=fourth.token).update(state=ItemState.DONE)

    lone = RunItem.objects.filter(run=run, worker_stops=3).order_by("position").first()
    RunItem.objects.filter(run=run).exclude(pk=lone.pk).update(state=ItemState.DONE)
    last = engine.claim_items(run.pk, "host:5:1")
    assert [it.pk for it in last.items] == [lone.pk]
    stop(last, alone=True)
    lone.refresh_from_db()
    assert lone.state == ItemState.FAILED and "stopped its worker 4 times" in lone.last_error
