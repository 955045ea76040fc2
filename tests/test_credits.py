from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from cascade.accounts import credits
from cascade.accounts.models import Account
from cascade.automation import engine
from tests.conftest import snapshot, wait_for, wait_until_finished
from tests.invariants import (
    charged_to,
    check_full_run,
    check_snapshot,
    ledger_matches_balance,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_running_out_of_credits_pauses_the_run_and_a_top_up_finishes_it(site, worker):
    credits.set_balance(site.account, 100)
    mismatches, samples = [], 0
    stop = threading.Event()

    def watch_balance():
        nonlocal samples
        while not stop.is_set():
            if not ledger_matches_balance(site.account_id):
                mismatches.append(time.monotonic())
            account = Account.objects.get(pk=site.account_id)
            if not 0 <= account.reserved <= account.credits:
                mismatches.append(("reserved", account.reserved, account.credits))
            samples += 1
            stop.wait(0.005)

    watcher = threading.Thread(target=watch_balance)
    watcher.start()
    try:
        run = engine.start_run(site)
        wait_for(lambda: snapshot(run)["run"]["status"] == "paused", what="the run to pause")
        doc = snapshot(run)
        check_snapshot(doc)
        assert doc["run"]["pause_reason"] == "insufficient_credits"
        assert doc["run"]["status_text"] == "Paused: not enough credits"
        assert "Not enough credits" in doc["run"]["status_message"]
        account = Account.objects.get(pk=site.account_id)
        assert charged_to(run) == doc["metrics"]["credits_used"] == 100 - account.credits
        assert account.reserved == 0

        out = io.StringIO()
        call_command("credits", "add", site.account.name, "10000", "--note", "tests", stdout=out)
        assert "Added 10,000 credits" in out.getvalue()
        wait_until_finished(run)
    finally:
        stop.set()
        watcher.join()
    assert samples > 50 and not mismatches, mismatches[:5]
    assert run.status == "completed"
    check_full_run(run)
    account.refresh_from_db()
    assert charged_to(run) == run.credits_used
    assert account.credits == 10_100 - run.credits_used
    top_up = account.ledger.filter(kind="top_up").latest("id")
    assert (top_up.delta, top_up.note) == (10_000, "tests")


def test_run_now_is_refused_when_the_first_batch_cannot_be_paid(site, api):
    credits.set_balance(site.account, 2)
    response = api.post(f"/api/v1/automation/run_now/?site_id={site.pk}")
    assert response.status_code == 402
    assert (
        response.json()["detail"]
        == "Not enough credits: about 4 needed for the first batch, 2 left."
    )


def test_holds_never_exceed_the_balance(garden):
    assert credits.hold(garden.pk, garden.credits)
    assert not credits.hold(garden.pk, 1)
    garden.refresh_from_db()
    assert (garden.credits, garden.reserved, garden.available) == (1_000_000, 1_000_000, 0)
    credits.release(garden.pk, garden.credits)
    garden.refresh_from_db()
    assert garden.available == 1_000_000


def test_a_charge_above_the_hold_takes_only_what_is_left(garden):
    credits.set_balance(garden, 10)
    with transaction.atomic():
        assert credits.hold(garden.pk, 4)
        charged = credits.charge(garden.pk, 4, 25, note="an article longer than its target")
    garden.refresh_from_db()
    assert charged == 10 and garden.credits == 0 and garden.reserved == 0
    assert ledger_matches_balance(garden.pk)


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


def test_the_admin_action_adds_credits_and_the_paused_run_resumes(site, worker, django_user_model):
    credits.set_balance(site.account, 20)
    run = engine.start_run(site)
    wait_for(lambda: snapshot(run)["run"]["pause_reason"] == "insufficient_credits")
    admin = django_user_model.objects.create_superuser("root", password="root-password")
    client = Client()
    client.force_login(admin)
    changelist = "/admin/accounts/account/"
    form = client.post(changelist, {"action": "add_credits", "_selected_action": [site.account_id]})
    assert form.status_code == 200 and b"Credits to add" in form.content
    done = client.post(
        changelist,
        {
            "action": "add_credits",
            "_selected_action": [site.account_id],
            "apply": "1",
            "amount": "50000",
            "note": "Invoice 42",
        },
    )
    assert done.status_code == 302
    wait_for(lambda: snapshot(run)["run"]["status"] in ("running", "completed"), timeout=5)
    wait_until_finished(run)
    assert run.status == "completed"
    assert site.account.ledger.filter(kind="top_up", delta=50_000, note="Invoice 42").exists()
    assert ledger_matches_balance(site.account_id)


def test_balances_cannot_be_edited_in_the_admin(site, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="root-password")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/accounts/account/{site.account_id}/change/").content.decode()
    assert 'name="credits"' not in page and 'name="reserved"' not in page


def test_a_top_up_while_a_run_is_pausing_for_credits_keeps_it_running(site):
    """Credits that come while the run still finishes its items (pausing) are not missed: the
    run goes on instead of stopping for good once its items are done."""
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    claim = engine.claim_items(run.pk, "tests")  # an item in flight
    assert claim is not None
    engine.pause_run(run.pk, "insufficient_credits", "Not enough credits: 4 needed.")
    run.refresh_from_db()
    assert run.status == "pausing"
    credits.add(site.account, 1000, note="top-up")
    run.refresh_from_db()
    assert run.status == "running" and run.pause_reason is None
    engine.process_claim(claim)
    engine.run_until_idle(timeout=120)
    run.refresh_from_db()
    assert run.status == "completed" and run.outcome == "succeeded"


def test_the_ledger_is_for_owners_newest_first_and_paged(site, api, erin, bob, token_for):
    garden = site.account
    for n in range(3):
        credits.add(garden, 10 + n, note=f"Top-up {n}")
    run = engine.start_run(site)
    engine.run_until_idle()  # the whole run, charged stage by stage
    url = f"/api/v1/accounts/{garden.pk}/ledger/"
    first = api.get(url, {"limit": 2}).json()
    garden.refresh_from_db()
    rows = list(garden.ledger.order_by("-id"))
    assert first["count"] == len(rows) >= 4
    assert [r["id"] for r in first["items"]] == [r.pk for r in rows[:2]]
    assert first["items"][0]["balance_after"] == garden.credits  # the newest row is the balance
    assert sum(r.delta for r in rows) == garden.credits
    page_two = api.get(url, {"limit": 2, "offset": 2}).json()
    assert [r["id"] for r in page_two["items"]] == [r.pk for r in rows[2:4]]
    charges = [r for r in api.get(url, {"limit": 500}).json()["items"] if r["kind"] == "charge"]
    assert all(c["run_id"] == str(run.run_id) and c["stage"] and c["delta"] < 0 for c in charges)
    editor = Client(headers={"Authorization": f"Bearer {token_for(erin)}"})
    assert editor.get(url).status_code == 403
    stranger = Client(headers={"Authorization": f"Bearer {token_for(bob)}"})
    assert stranger.get(url).status_code == 404
