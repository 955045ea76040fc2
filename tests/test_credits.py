from __future__ import annotations

import threading

import pytest

from cascade.accounts import credits
from cascade.accounts.models import Account, LedgerEntry
from cascade.automation import engine
from tests.conftest import snapshot, wait_for, wait_until_finished
from tests.invariants import check_full_run, check_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_running_out_of_credits_pauses_the_run_and_a_top_up_finishes_it(site, worker):
    Account.objects.filter(pk=site.account_id).update(credits=100)
    lowest = []
    stop = threading.Event()

    def watch_balance():
        while not stop.is_set():
            lowest.append(
                Account.objects.filter(pk=site.account_id).values_list("credits", flat=True).get()
            )
            stop.wait(0.005)

    watcher = threading.Thread(target=watch_balance)
    watcher.start()
    try:
        run = engine.start_run(site)
        wait_for(lambda: snapshot(run)["run"]["status"] == "paused", what="the run to pause")
    finally:
        stop.set()
        watcher.join()
    assert min(lowest) >= 0
    doc = snapshot(run)
    check_snapshot(doc)
    assert doc["run"]["pause_reason"] == "insufficient_credits"
    assert doc["run"]["status_text"] == "Paused: not enough credits"
    assert "Not enough credits" in doc["run"]["status_message"]
    account = Account.objects.get(pk=site.account_id)
    ledger = sum(LedgerEntry.objects.filter(run=run).values_list("credits", flat=True))
    assert ledger == doc["metrics"]["credits_used"] == 100 - account.credits

    credits.top_up(account, 10_000)  # resumes runs waiting for credits
    wait_until_finished(run)
    assert run.status == "completed"
    check_full_run(run)
    account.refresh_from_db()
    assert (
        sum(LedgerEntry.objects.filter(run=run).values_list("credits", flat=True))
        == run.credits_used
    )
    assert account.credits == 10_100 - run.credits_used


def test_run_now_is_refused_when_the_first_batch_cannot_be_paid(site, api):
    Account.objects.filter(pk=site.account_id).update(credits=2)
    response = api.post(f"/api/v1/automation/run_now/?site_id={site.pk}")
    assert response.status_code == 402
    assert (
        response.json()["detail"]
        == "Not enough credits: about 4 needed for the first batch, 2 left."
    )


def test_the_balance_can_never_go_below_zero(garden):
    assert credits.reserve(garden.pk, garden.credits)
    assert not credits.reserve(garden.pk, 1)
    garden.refresh_from_db()
    assert garden.credits == 0


def test_a_run_stops_at_its_credit_limit(site, api):
    api.put(
        f"/api/v1/automation/config/?site_id={site.pk}",
        {"max_credits_per_run": 30},
        content_type="application/json",
    )
    run = engine.start_run(site)
    engine.run_until_idle()
    run.refresh_from_db()
    assert run.status == "paused" and run.pause_reason == "insufficient_credits"
    assert run.credits_used <= 30
    assert "limit of 30 credits" in run.status_message
