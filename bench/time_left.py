"""The time left as a run shows it: sampled from the snapshot four times a second over whole
runs by the embedded worker (two threads, simulated latency), against the time that actually
remained. Two figures per run: the largest rise of the shown value over any earlier moment
(values under a minute count as a minute: the page reads "< 1 min" for all of them), and how far
it was from the truth at 25, 50 and 75 % of the run's wall time (both read as at least a
minute). Each site is run twice: a first
run estimated from defaults, a second on newly imported keywords estimated from the first."""

from __future__ import annotations

import csv
import json
import sys
import time

from common import ROOT, funded_worker, keywords, setup_django

LATENCY = "1:0.05,2:0.5,4:1.5,5:0.25,6:0.5"  # runs of minutes, so minutes show
FLOOR = 60.0  # seconds: everything below reads "< 1 min"


def sample_run(site) -> list[tuple[float, float | None, str]]:
    from cascade.automation import engine, progress
    from cascade.automation.statuses import FINISHED

    started = time.monotonic()
    run = engine.start_run(site)
    samples = []
    while True:
        doc = progress.build_snapshot(run)
        status = doc["run"]["status"]
        samples.append(
            (
                time.monotonic() - started,
                doc["global_progress"]["estimated_remaining_seconds"],
                status,
            )
        )
        if status in FINISHED:
            return samples
        time.sleep(0.25)
        run.refresh_from_db()


def figures(samples: list[tuple[float, float | None, str]]) -> dict:
    end = samples[-1][0]
    lowest, rise = None, 0.0
    for _, shown, status in samples:
        if shown is None or status == "paused":
            continue
        value = max(shown, FLOOR)
        if lowest is not None:
            rise = max(rise, value / lowest - 1)
        lowest = value if lowest is None else min(lowest, value)
    off = {}
    for share in (25, 50, 75):
        at = end * share / 100
        t, shown, _ = min(samples, key=lambda s: abs(s[0] - at))
        actual = max(end - t, FLOOR)  # as read: "< 1 min" is right for anything under a minute
        off[share] = (
            None if shown is None else round(100 * (max(shown, FLOOR) - actual) / actual, 1)
        )
    first = next((t for t, shown, _ in samples if shown is not None), None)
    return {
        "seconds": round(end, 1),
        "rise_pct": round(100 * rise, 1),
        "off_pct": off,
        "first_shown_at": None if first is None else round(first, 1),
    }


def main() -> None:
    setup_django(CASCADE_AI_LATENCY=LATENCY, CASCADE_LOG_LEVEL="WARNING")
    from cascade.accounts.models import Site
    from cascade.planner.importing import import_rows

    demo = [
        r["keyword"]
        for r in csv.DictReader((ROOT / "cascade/automation/data/demo_keywords.csv").open())
    ]
    sets = {
        "demo": (demo[:150], demo[150:]),
        "1,000 keywords": (keywords(1000), keywords(2000)[1000:]),
    }
    out: dict[str, dict] = {}
    with funded_worker("time left") as (account, _):
        for name, (first, second) in sets.items():
            site = Site.objects.create(account=account, name=f"time left {name}")
            for label, words in (("first run", first), ("second run", second)):
                import_rows(site, [{"keyword": k} for k in words])
                out[f"{name}, {label}"] = figures(sample_run(site))
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
