"""Estimate accuracy: what the overview forecast before a run (items, credits, seconds) against
what the run then took, run by the embedded worker (two threads) with simulated latency. Each
keyword set is run twice on one site: a first run (estimated from the configuration alone) on
part of it, then a second run on the rest (estimated from the first run's timings)."""

from __future__ import annotations

import csv
import json
import sys
import time

from common import ROOT, funded_worker, setup_django

LATENCY = "1:0.004,2:0.05,4:0.12,5:0.02,6:0.04"
SETS = {
    "demo": (ROOT / "cascade/automation/data/demo_keywords.csv", 200),
    "labelled": (ROOT / "tests/data/labelled_keywords.csv", 110),
}


def off(actual: float, expected: float) -> float:
    return round(100 * abs(actual - expected) / max(actual, 1e-9), 1)


def measure(site, worker) -> dict:
    from cascade.automation import engine, estimates, progress
    from cascade.automation.statuses import FINISHED

    plan = estimates.overview(site)["estimate"]
    started = time.monotonic()
    run = engine.start_run(site)
    while True:
        run.refresh_from_db()
        if run.status in FINISHED:
            break
        time.sleep(0.05)
    seconds = time.monotonic() - started
    doc = progress.build_snapshot(run)
    items, credits = doc["global_progress"]["total_items"], doc["metrics"]["credits_used"]
    return {
        "items": [plan["items"], items, off(items, plan["items"])],
        "credits": [plan["credits"], credits, off(credits, plan["credits"])],
        "seconds": [plan["seconds"], round(seconds, 1), off(seconds, plan["seconds"])],
    }


def main() -> None:
    setup_django(CASCADE_AI_LATENCY=LATENCY, CASCADE_LOG_LEVEL="WARNING")
    from cascade.accounts.models import Site
    from cascade.planner.importing import import_rows

    out: dict[str, dict] = {}
    with funded_worker("estimates") as (account, worker):
        for name, (path, first) in SETS.items():
            rows = list(csv.DictReader(path.open()))
            site = Site.objects.create(account=account, name=f"estimates {name}")
            import_rows(site, rows[:first])
            out[f"{name} first run"] = measure(site, worker)
            import_rows(site, rows[first:])
            out[f"{name} second run"] = measure(site, worker)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
