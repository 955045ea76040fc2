"""Shared helpers for the benchmarks: an isolated data directory, a site of N keywords, timing."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUBJECTS = [
    f"{a} {b}"
    for a in [
        "tomato",
        "lawn",
        "compost",
        "raised bed",
        "rose",
        "basil",
        "deck",
        "fence",
        "patio",
        "roof",
        "gutter",
        "faucet",
        "boiler",
        "window",
        "paint",
        "tile",
        "hedge",
        "orchard",
        "pond",
        "greenhouse",
        "mulch",
        "shed",
        "lighting",
        "insulation",
        "drain",
    ]
    for b in ["garden", "home", "outdoor", "indoor", "small", "large", "cheap", "modern"]
]
ANGLES = [
    "care guide",
    "cost",
    "problems",
    "ideas",
    "for beginners",
    "maintenance",
    "tools",
    "in winter",
    "repair",
    "installation",
    "best time",
    "mistakes",
    "checklist",
    "diy",
    "pests",
    "watering",
    "design",
    "materials",
    "budget",
    "cleaning",
    "safety",
    "storage",
    "layout",
    "lighting plan",
    "weekend project",
]


def keywords(count: int) -> list[str]:
    words = [f"{s} {a}" for s in SUBJECTS for a in ANGLES]
    extra = 0
    while len(words) < count:
        extra += 1
        words += [f"{w} {extra}" for w in words[: count - len(words)]]
    return words[:count]


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
    from cascade.accounts.models import Account, Site
    from cascade.planner.models import Keyword, normalize

    account, _ = Account.objects.get_or_create(name=f"bench {name}", defaults={"credits": credits})
    site = Site.objects.create(account=account, name=name)
    Keyword.objects.bulk_create(
        [Keyword(site=site, keyword=k, normalized=normalize(k)) for k in keywords(count)],
        batch_size=5000,
    )
    return site


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)
