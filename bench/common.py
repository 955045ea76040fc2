"""Shared helpers for the benchmarks: an isolated data directory, a site of N keywords, timing."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def labelled_lists() -> list[tuple[Path, list[str], list[str]]]:
    """The labelled keyword lists of tests/data (14 domains and the demo-like list): the file,
    its keywords and each keyword's topic."""
    import csv

    files = sorted((ROOT / "tests/data").glob("clustering*/*.csv"))
    files.append(ROOT / "tests/data/labelled_keywords.csv")
    found = []
    for path in files:
        rows = list(csv.DictReader(path.open()))
        found.append((path, [r["keyword"] for r in rows], [r["topic"] for r in rows]))
    return found


def diverse_keywords(count: int, seed: int = 7) -> list[str]:
    """Realistic-looking keywords over a wide vocabulary (the demo and test sets' words)."""
    import csv
    import random

    vocabulary = set()
    for path in (
        ROOT / "cascade/automation/data/demo_keywords.csv",
        ROOT / "tests/data/labelled_keywords.csv",
    ):
        for row in csv.DictReader(path.open()):
            vocabulary.update(w for w in row["keyword"].split() if len(w) > 3)
    words = sorted(vocabulary)
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        head = rng.choice(words)
        out.add(" ".join([head] + rng.sample(words, rng.choice((1, 2, 3)))))
    return sorted(out)[:count]


def keywords(count: int) -> list[str]:
    from tests.keywords import synthetic_keywords

    return synthetic_keywords(count)


def setup_django(data_dir: str | None = None, **env: str) -> Path:
    directory = Path(data_dir or tempfile.mkdtemp(prefix="cascade-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cascade.settings")
    os.environ["CASCADE_DATA_DIR"] = str(directory)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return directory


def make_site(name: str, count: int, credits: int = 10**12):
    from cascade.accounts import credits as ledger
    from cascade.accounts.models import Account, Site
    from cascade.planner.models import Keyword, normalize

    account, created = Account.objects.get_or_create(name=f"bench {name}")
    if created:
        ledger.add(account, credits, note="Benchmark credits")
    site = Site.objects.create(account=account, name=name)
    Keyword.objects.bulk_create(
        [Keyword(site=site, keyword=k, normalized=normalize(k)) for k in keywords(count)],
        batch_size=5000,
    )
    return site


@contextmanager
def funded_worker(name: str):
    """An account with credits enough for any run, and an embedded worker of two threads that
    works the runs started meanwhile (stopped on the way out)."""
    from cascade.accounts import credits as ledger
    from cascade.accounts.models import Account
    from cascade.automation.worker import EmbeddedWorker

    account = Account.objects.create(name=name)
    ledger.add(account, 10**9, note="Benchmark credits")
    worker = EmbeddedWorker(threads=2, idle_wait=0.05)
    worker.start()
    try:
        yield account, worker
    finally:
        worker.stop()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def cascade_process(data, *args: str, **env: str):
    """`cascade <args>` as a child process on the benchmark's data directory (its warnings and
    errors go to `<args[0]>-<pid>.log` there)."""
    import os
    import subprocess
    import sys

    log = open(Path(data) / f"{args[0]}-{os.getpid()}-{len(os.listdir(data))}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "cascade", *args],
        cwd=ROOT,
        env=dict(os.environ, CASCADE_DATA_DIR=str(data), CASCADE_LOG_LEVEL="WARNING", **env),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def serve(data, port: int, *args: str, **env: str):
    """`cascade serve` on loopback, returned once it answers /healthz."""
    import http.client
    import time

    process = cascade_process(data, "serve", "--port", str(port), "--no-migrate", *args, **env)
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    return process
