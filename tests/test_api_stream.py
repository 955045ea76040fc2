from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from cascade.live import watchers as live
from tests.conftest import CELERY, start_workers
from tests.invariants import check_snapshot
from tests.servers import Server, open_stream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def events(response, deadline: float):
    """Yield (event, data) pairs from a text/event-stream response."""
    name, data = None, []
    while time.monotonic() < deadline:
        line = response.readline().decode()
        if not line:
            return
        line = line.rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and name:
            yield name, "\n".join(data)
            name, data = None, []


@pytest.mark.engine(latency={1: 0.02, 2: 0.1, 4: 0.15, 6: 0.04})
def test_the_api_stream_sends_every_snapshot_of_a_run(site, alice, token_for, tmp_path):
    token = token_for(alice)
    server = Server(log=tmp_path / "serve.log").start()
    workers = start_workers(tmp_path) if CELERY else None  # `serve` is web-only on Celery
    try:
        response = open_stream(server, site.pk, token)
        assert response.status == 200
        assert response.getheader("Content-Type").startswith("text/event-stream")
        request = urllib.request.Request(
            f"{server.url}/api/v1/automation/run_now/?site_id={site.pk}",
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        run_id = json.loads(urllib.request.urlopen(request).read())["run_id"]
        seen = []
        for name, data in events(response, time.monotonic() + 90):
            if name != "progress" or data == "null":
                continue
            doc = json.loads(data)
            assert doc["run"]["run_id"] == run_id
            check_snapshot(doc)
            seen.append(doc)
            if doc["run"]["status"] == "completed":
                break
        response.close()
    finally:
        server.stop()
        if workers:
            workers.stop()
    assert seen and seen[-1]["run"]["status"] == "completed"
    assert len(seen) >= 10, len(seen)
    versions = [d["version"] for d in seen]
    assert versions == sorted(set(versions)), "each event is a newer snapshot"
    percentages = [d["global_progress"]["percentage"] for d in seen]
    assert percentages == sorted(percentages)


def test_the_api_stream_checks_credentials_and_tenancy(site, bob, token_for, tmp_path):
    server = Server(log=tmp_path / "serve.log").start()
    try:

        def status(path, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                return urllib.request.urlopen(
                    urllib.request.Request(server.url + path, headers=headers), timeout=10
                ).status
            except urllib.error.HTTPError as error:
                return error.code

        assert status(f"/api/v1/automation/stream/?site_id={site.pk}") == 401
        assert status(f"/api/v1/automation/stream/?site_id={site.pk}", token_for(bob)) == 404
        assert status("/api/v1/automation/stream/?site_id=abc", token_for(bob)) == 422
        assert (
            status(f"/api/v1/automation/stream/?site_id={site.pk}&run_id=nope", token_for(bob))
            == 422
        )
    finally:
        server.stop()


def test_a_stopping_server_ends_its_open_streams_at_once(site, alice, token_for, tmp_path):
    """A restart does not wait for viewers to leave: open streams end, clients reconnect."""
    server = Server(log=tmp_path / "serve.log").start()
    try:
        response = open_stream(server, site.pk, token_for(alice))
        assert response.status == 200
        started = time.monotonic()
        server.proc.terminate()
        server.proc.wait(10)
        stopped = time.monotonic() - started
        assert response.read() is not None  # the body ended (no hang)
    finally:
        server.stop()
    assert stopped < 2.5, f"stopping took {stopped:.1f} s with a stream open"


@pytest.mark.engine(latency={1: 0.02, 2: 0.1, 4: 0.15, 6: 0.04})
def test_change_detection_costs_a_check_a_second_whatever_the_viewers(
    site, alice, django_user_model, token_for, tmp_path
):
    """Ten viewers of an idle site cost no query; of a running one, one poll a second in all
    (the commits themselves tell the watchers, with their versions)."""
    ops = django_user_model.objects.create_user("ops", password="ops-password", is_staff=True)
    ops_token, token = token_for(ops), token_for(alice)
    server = Server(log=tmp_path / "serve.log").start()
    workers = start_workers(tmp_path) if CELERY else None
    try:

        def stats() -> dict:
            request = urllib.request.Request(
                f"{server.url}/healthz/live", headers={"Authorization": f"Bearer {ops_token}"}
            )
            return json.loads(urllib.request.urlopen(request).read())

        viewers = [open_stream(server, site.pk, token) for _ in range(10)]
        time.sleep(1.5)  # every stream has its first event
        idle = stats()
        assert idle["viewers"] == 10 and idle["watchers"] == 1
        time.sleep(3)
        assert stats()["checks"] == idle["checks"], "no query for a site without an active run"

        request = urllib.request.Request(
            f"{server.url}/api/v1/automation/run_now/?site_id={site.pk}",
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        urllib.request.urlopen(request)
        before, started = stats(), time.monotonic()
        versions = set()
        for name, data in events(viewers[0], time.monotonic() + 6):
            if name == "progress" and data != "null":
                versions.add(json.loads(data)["version"])
        after, seconds = stats(), time.monotonic() - started
        assert len(versions) >= 5, "the run's progress reached the viewer live"
        assert after["checks"] - before["checks"] <= seconds / live.POLL_SECONDS + 1, (
            before,
            after,
            seconds,
        )
        for response in viewers:
            response.close()
    finally:
        server.stop()
        if workers:
            workers.stop()


def connections_now() -> int:
    """Connections to the test database on PostgreSQL, this one included."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def sessions_opened() -> int:
    """Sessions ever opened to the test database (PostgreSQL 14 and later)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.celery
def test_the_web_server_borrows_its_connections_from_a_pool(site, alice, token_for, tmp_path):
    """A connection to PostgreSQL costs more than a progress read's queries: `cascade serve`
    keeps a pool (CASCADE_DB_POOL_SIZE) instead of opening one for each request, and a
    connection the database dropped meanwhile is replaced, not handed to a request."""
    token = token_for(alice)
    server = Server(log=tmp_path / "serve.log", CASCADE_DB_POOL_SIZE="3").start()

    def read() -> int:
        request = urllib.request.Request(
            f"{server.url}/api/v1/automation/pipeline_overview/?site_id={site.pk}",
            headers={"Authorization": f"Bearer {token}"},
        )
        return urllib.request.urlopen(request, timeout=30).status

    try:
        assert read() == 200
        before = sessions_opened()
        assert all(read() == 200 for _ in range(40))
        opened = sessions_opened() - before
        # The database ends the pool's connections (as a restart would): the next reads work.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert all(read() == 200 for _ in range(5))
    finally:
        server.stop()
    assert opened <= 3, f"40 reads opened {opened} connections"


@pytest.mark.celery
def test_open_streams_do_not_hold_database_connections(site, alice, token_for, tmp_path):
    """Each stream's set-up (who asks, which site) runs in its request's own thread; its
    connection is closed before the stream starts, or every viewer would hold one for as long
    as it watches (on PostgreSQL 200 viewers exhausted the server's connections)."""
    token = token_for(alice)
    server = Server(log=tmp_path / "serve.log", CASCADE_STREAMS_PER_USER="100").start()
    try:
        before = connections_now()
        viewers = [open_stream(server, site.pk, token) for _ in range(30)]
        for viewer in viewers:
            assert viewer.status == 200
            assert viewer.readline()  # the stream is open and has begun
        time.sleep(1.0)
        held = connections_now() - before
        for viewer in viewers:
            viewer.close()
    finally:
        server.stop()
    assert held < 10, f"30 open streams hold {held} database connections"


@pytest.mark.celery
@pytest.mark.engine(latency={4: 0.05, 6: 0.02}, claim_timeout=3.0)
def test_connections_stay_bounded_with_200_viewers_and_a_run(site, alice, token_for, tmp_path):
    """On PostgreSQL, connections are taken per request, worker step and heartbeat and given
    back (no persistent ones in request threads, no heartbeat thread per claim): 200 viewers
    and a run on two Celery workers stay within a handful of connections."""
    import threading

    from cascade.automation import engine
    from tests.conftest import CeleryWorkers, wait_until_finished

    token = token_for(alice)
    server = Server(log=tmp_path / "serve.log", CASCADE_STREAMS_PER_USER="300").start()
    workers = CeleryWorkers(2, tmp_path)
    seen: list[int] = []
    done = threading.Event()
    try:
        before = connections_now()
        viewers = [open_stream(server, site.pk, token) for _ in range(200)]
        assert all(viewer.status == 200 for viewer in viewers)
        run = engine.start_run(site)

        def sample() -> None:
            from django.db import connections

            while not done.is_set():
                seen.append(connections_now())
                time.sleep(0.2)
            connections.close_all()

        sampler = threading.Thread(target=sample)
        sampler.start()
        wait_until_finished(run, timeout=240)
        done.set()
        sampler.join(30)
        assert run.status == "completed"
        for viewer in viewers:
            viewer.close()
    finally:
        done.set()
        workers.stop()
        server.stop()
    assert len(seen) > 5
    # The web process, two workers (each with its housekeeping, outbound and task threads) and
    # this test: connections come and go (7 at most here; with persistent connections, 18).
    assert max(seen) <= 12, f"{max(seen)} connections at once ({before} before the viewers)"
