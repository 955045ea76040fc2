"""Reading a run never writes (issue: reads never write): the page, its live fragments, the API,
the event streams, the Sites overview and the CLI's `status` leave the database as they found
it, also while a run is in flight. What must never go back (the percentage, the time left's
countdown) is kept by the engine as it commits, so every reader of a version sees the same."""

from __future__ import annotations

import sqlite3
import time
import urllib.request

import pytest
from django.db import connection
from django.test import Client

from cascade.automation import engine, progress
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import RunStatus
from cascade.planner.models import Keyword, normalize
from tests.servers import Server, cascade

pytestmark = pytest.mark.django_db(transaction=True)


def pg_writes() -> int:
    """Rows inserted, updated and deleted in the database's own tables (PostgreSQL), once the
    statistics of every other connection have come in: they arrive within a second or so of a
    connection's end, so the count is read until it holds still."""
    with connection.cursor() as cursor:
        # The server's pooled connections stay open, and an idle one reports its counts only
        # about ten seconds later: ending them makes them report now (the pool replaces them).
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        cursor.execute("SELECT pg_stat_force_next_flush()")
    last, steady_since = None, time.monotonic()
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0)"
                " FROM pg_stat_user_tables"
            )
            total = int(cursor.fetchone()[0])
        if total != last:
            last, steady_since = total, time.monotonic()
        elif time.monotonic() - steady_since > 2.5:
            return total
        time.sleep(0.25)


class SqliteWatch:
    """SQLite's `data_version` changes, for one connection, whenever another connection commits."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.first = self.version()

    def version(self) -> int:
        return self.db.execute("PRAGMA data_version").fetchone()[0]


def run_in_flight(garden):
    from cascade.accounts.models import Site

    site = Site.objects.create(account=garden, name="In flight")
    Keyword.objects.bulk_create(
        [
            Keyword(site=site, keyword=f"pond liner size {i}", normalized=normalize(f"pond {i}"))
            for i in range(300)
        ]
    )
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    first = engine.claim_items(run.pk, "tests")
    assert first is not None and first.items
    engine.process_claim(first)  # the first batch done, so there is a percentage and a time left
    claim = engine.claim_items(run.pk, "tests")
    assert claim is not None and claim.items
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    return site, run


def read(url: str, headers: dict[str, str], stream: bool = False) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, url
        if stream:  # the first event is enough: the stream has read the run
            body = b""
            while b"\n\n" not in body:
                body += response.read1(65536)
            return body
        return response.read()


def test_two_hundred_reads_of_a_run_in_flight_write_nothing(garden, alice, token_for, tmp_path):
    site, run = run_in_flight(garden)
    browser = Client()
    browser.force_login(alice)  # the session is written now, before anything is measured
    page = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    api = {"Authorization": f"Bearer {token_for(alice)}"}
    hwm, eta = run.percentage_hwm, run.eta_at

    with Server(log=tmp_path / "serve.log", args=("--no-worker",)) as server:
        base = server.url
        read(f"{base}/api/v1/sites/", api)  # the token's first use of the minute is recorded
        sqlite = (
            SqliteWatch(connection.settings_dict["NAME"]) if connection.vendor == "sqlite" else None
        )
        before = None if sqlite else pg_writes()

        readers = [
            (f"{base}/sites/{site.pk}/automation/", page, False),
            (f"{base}/sites/{site.pk}/automation/runs/{run.pk}/", page, False),
            (f"{base}/sites/", page, False),
            (f"{base}/api/v1/automation/run_progress/?site_id={site.pk}", api, False),
            (f"{base}/api/v1/automation/current_processing/?site_id={site.pk}", api, False),
            (f"{base}/api/v1/automation/pipeline_overview/?site_id={site.pk}", api, False),
            (f"{base}/api/v1/automation/history/?site_id={site.pk}", api, False),
        ]
        streams = [
            (f"{base}/sites/{site.pk}/automation/stream/", page, True),
            (f"{base}/sites/stream/", page, True),
            (f"{base}/api/v1/automation/stream/?site_id={site.pk}", api, True),
        ]
        count = 0
        for round_ in range(28):
            for url, headers, is_stream in readers:
                read(url, headers, is_stream)
                count += 1
            if round_ % 8 == 0:
                for url, headers, is_stream in streams:
                    read(url, headers, is_stream)
                    count += 1
        status = cascade("automation", "status", "--site", str(site.pk))
        assert "Run" in status.stdout
        count += 1
        assert count >= 200

        if sqlite:
            assert sqlite.version() == sqlite.first, "a read committed a change"
        else:
            assert pg_writes() == before, "a read wrote rows"

    run.refresh_from_db()
    assert (run.percentage_hwm, run.eta_at) == (hwm, eta)  # kept by the engine alone


def test_the_engine_keeps_what_readers_must_never_see_go_back(garden):
    site, run = run_in_flight(garden)
    # Kept as the engine committed, before anyone read the run.
    assert run.percentage_hwm > 0 and run.eta_seconds is not None
    doc = progress.snapshot_for(site.pk)["global_progress"]
    assert doc["percentage"] == run.percentage_hwm
    assert 0 < doc["estimated_remaining_seconds"] <= run.eta_seconds
    # A mark above what the counters give now (the totals' estimate grew) is what readers show.
    AutomationRun.objects.filter(pk=run.pk).update(percentage_hwm=run.percentage_hwm + 7)
    progress.forget()
    again = progress.snapshot_for(site.pk)["global_progress"]["percentage"]
    assert again == run.percentage_hwm + 7
