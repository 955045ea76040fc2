"""Exporting N articles as a ZIP through `cascade serve`: wall time, bytes, and the server's
memory while it streams (sampled from /proc), which must not grow with N."""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import urllib.request
from pathlib import Path

from common import ROOT, make_site, serve, setup_django

sys.path.insert(0, str(ROOT))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def make_articles(site, count: int, media: Path) -> None:
    """Articles of about 1,200 words with a featured and two in-article pictures (30 KiB each)."""
    from cascade.planner.models import ContentIdea
    from cascade.writer.html import place_images
    from cascade.writer.models import Content, ContentStatus, Image, Task

    rng = random.Random(count)
    words = "soil water light compost seed root leaf garden season harvest mulch frost".split()
    folder = media / f"sites/{site.pk}/images"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        idea = ContentIdea.objects.create(
            site=site, title=f"Article {n}", normalized_title=f"article {n}", target_keywords=["k"]
        )
        task = Task.objects.create(site=site, idea=idea, title=idea.title, status="completed")
        sections = "".join(
            f"<h2>Part {s}</h2><p>{' '.join(rng.choices(words, k=300))}</p>" for s in range(4)
        )
        content = Content.objects.create(
            site=site,
            task=task,
            title=idea.title,
            html=sections,
            meta_title=idea.title,
            meta_description="About it",
            word_count=1200,
            status=ContentStatus.APPROVED,
        )
        images = []
        for position, kind in enumerate(("featured", "in_article", "in_article")):
            image = Image(
                site=site,
                content=content,
                kind=kind,
                position=position,
                prompt="p",
                alt="A picture",
                status="generated",
                width=800,
                height=450,
            )
            image.file = f"sites/{site.pk}/images/{image.token}.png"
            (media / image.file).write_bytes(os.urandom(30 * 1024))
            images.append(image)
        Image.objects.bulk_create(images)
        Content.objects.filter(pk=content.pk).update(html=place_images(sections, images))


def main() -> None:
    count = int(sys.argv[1])
    data = setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cascade.accounts.models import Membership

    site = make_site(f"export {count}", 0)
    make_articles(site, count, Path(settings.MEDIA_ROOT))
    user = get_user_model().objects.create_user(f"export{count}")
    Membership.objects.create(user=user, account=site.account, role="owner")
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    port = 8793
    server = serve(data, port)
    try:
        before = rss_kib(server.pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(server.pid))
                time.sleep(0.02)

        threading.Thread(target=sample, daemon=True).start()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/sites/{site.pk}/content/export/?status=approved",
            headers={"Cookie": f"sessionid={session}"},
        )
        started = time.perf_counter()
        size = 0
        with urllib.request.urlopen(request, timeout=600) as response:
            while chunk := response.read(1 << 16):
                size += len(chunk)
        elapsed = time.perf_counter() - started
        done.set()
    finally:
        server.terminate()
        server.wait(10)
    print(
        json.dumps(
            {
                "articles": count,
                "seconds": elapsed,
                "mib": size / 2**20,
                "rss_before_mib": before / 1024,
                "rss_growth_mib": (peak[0] - before) / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
