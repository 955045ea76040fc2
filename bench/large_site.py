"""A site of N keywords (200,000 in `make bench`) against one of 1,000: the CSV import, snapshot
builds with a run in flight, the Automation page's server time, and stage 1 (clustering) run by
the engine itself with a time limit, with the process's peak memory."""

from __future__ import annotations

import csv
import io
import json
import resource
import sys
import time

from common import diverse_keywords, median, setup_django


def timed(fn, repeat: int) -> float:
    """Median seconds of `repeat` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return median(samples)


def main() -> None:
    count, limit = int(sys.argv[1]), float(sys.argv[2])
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cascade.accounts import credits as ledger
    from cascade.accounts.models import Account, Membership, Site
    from cascade.automation import config, engine, progress
    from cascade.automation.models import RunStage
    from cascade.planner.importing import import_file

    account = Account.objects.create(name="large")
    ledger.add(account, 10**12, note="Benchmark credits")
    user = get_user_model().objects.create_user("large")
    Membership.objects.create(user=user, account=account, role="owner")
    client = Client()
    client.force_login(user)

    def site_of(size: int) -> tuple[Site, float]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["keyword", "volume"])
        for i, keyword in enumerate(diverse_keywords(size, seed=size)):
            writer.writerow([keyword, 10 + i % 5000])
        data = buffer.getvalue().encode()
        site = Site.objects.create(account=account, name=f"{size} keywords")
        t0 = time.perf_counter()
        result = import_file(site, data)
        seconds = time.perf_counter() - t0
        assert result.created == size, result.as_dict()
        return site, seconds

    out: dict = {"keywords": count}
    sizes = (1000, count)
    sites = {}
    for size in sizes:
        sites[size], out[f"import_{size}_s"] = site_of(size)
    pages = {size: f"/sites/{site.pk}/automation/" for size, site in sites.items()}

    def side_by_side(name: str, call, repeat: int) -> None:
        """Both sizes, measured in turns so that neither gets a warmer process."""
        samples: dict[int, list[float]] = {size: [] for size in sizes}
        for _ in range(repeat):
            for size in sizes:
                samples[size].append(timed(lambda: call(size), 1))  # noqa: B023
        for size in sizes:
            out[f"{name}_{size}_ms"] = 1000 * median(samples[size])

    side_by_side("page_idle", lambda size: client.get(pages[size]), 5)
    only_clustering = [n == 1 for n in range(1, len(config.defaults()["stages_enabled"]) + 1)]
    runs = {}
    for size, site in sites.items():
        config.save(site, {"stages_enabled": only_clustering})
        runs[size] = engine.start_run(site)
        engine.begin_run(runs[size].pk)  # stage 1 active: a run in flight
    side_by_side("snapshot", lambda size: progress.fresh_snapshot(runs[size].pk), 30)
    side_by_side("page_running", lambda size: client.get(pages[size]), 5)
    # Stage 1 by the engine (one worker thread, the offline provider), each run alone in turn
    # (the other paused), within the limit.
    for size in sizes:
        engine.pause_run(runs[size].pk)
    for size in sizes:
        engine.resume_run(runs[size].pk)
        t0 = time.perf_counter()
        try:
            engine.run_until_idle(timeout=limit)
        except TimeoutError:
            pass
        stage = RunStage.objects.get(run=runs[size], number=1)
        out[f"clustering_{size}_s"] = time.perf_counter() - t0
        out[f"clustered_{size}"] = stage.processed_count + stage.failed_count
        out[f"clusters_{size}"] = stage.output_count
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
