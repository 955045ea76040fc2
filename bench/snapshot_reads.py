"""Reading progress over HTTP: run_progress against /healthz on the same server, at two site
sizes with a run in flight, plus the SQL queries one call costs."""

from __future__ import annotations

import http.client
import json
import sys
import time

from common import make_site, median, pct, serve, setup_django


def in_flight(count: int):
    from cascade.automation import engine

    site = make_site(f"{count} keywords", count)
    run = engine.start_run(site)
    engine.begin_run(run.pk)
    engine.claim_items(run.pk, "bench")
    return site


def main() -> None:
    sizes = [int(s) for s in sys.argv[1].split(",")]
    rounds, calls = int(sys.argv[2]), int(sys.argv[3])
    data = setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cascade.accounts.models import ApiToken, Membership

    sites = {n: in_flight(n) for n in sizes}
    user = get_user_model().objects.create_user("bench")
    for site in sites.values():
        Membership.objects.create(user=user, account=site.account, role="owner")
    _, token = ApiToken.issue(user)
    queries = {}
    client = Client(headers={"Authorization": f"Bearer {token}"})
    for n, site in sites.items():
        client.get(f"/api/v1/automation/run_progress/?site_id={site.pk}")
        with CaptureQueriesContext(connection) as captured:
            assert (
                client.get(f"/api/v1/automation/run_progress/?site_id={site.pk}").status_code == 200
            )
        queries[n] = len(captured)
        from cascade.automation import progress

        with CaptureQueriesContext(connection) as captured:
            progress.snapshot_for(site.pk)
        queries[f"{n}_snapshot"] = len(captured)
    port = 8765
    server = serve(data, port, "--no-worker")
    try:
        results = {}
        for n, site in sites.items():
            per_round = []
            for _ in range(rounds):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                timings = {"health": [], "progress": []}
                for _ in range(calls):
                    for kind, path in (
                        ("health", "/healthz"),
                        ("progress", f"/api/v1/automation/run_progress/?site_id={site.pk}"),
                    ):
                        t0 = time.perf_counter()
                        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                        body = conn.getresponse().read()
                        timings[kind].append(time.perf_counter() - t0)
                        assert body
                conn.close()
                per_round.append({k: (pct(v, 50), pct(v, 95)) for k, v in timings.items()})
            results[n] = {
                "health_p50_ms": 1000 * median([r["health"][0] for r in per_round]),
                "health_p95_ms": 1000 * median([r["health"][1] for r in per_round]),
                "progress_p50_ms": 1000 * median([r["progress"][0] for r in per_round]),
                "progress_p95_ms": 1000 * median([r["progress"][1] for r in per_round]),
                "ratio_p50": median([r["progress"][0] / r["health"][0] for r in per_round]),
                "queries_per_call": queries[n],
                "snapshot_queries": queries[f"{n}_snapshot"],
            }
        print(json.dumps(results))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
