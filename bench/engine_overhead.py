"""Engine overhead: a full run of N keywords through the engine against a floor that does the same
provider work and writes the same rows in bulk, with no claims, counters or progress."""

from __future__ import annotations

import json
import sys
import time

from common import make_site, median, setup_django

ENV = {"CASCADE_IMAGE_SCALE": "0.05", "CASCADE_AI_LATENCY": ""}


def cold() -> None:
    """Each run embeds its keywords afresh: a process's kept vectors would spare the second of
    the two (engine or floor) the work of clustering by meaning."""
    from cascade.ai import meaning

    with meaning.embedder.lock:
        meaning.embedder.vectors.clear()


def engine_run(count: int) -> tuple[float, int]:
    from cascade.automation import engine
    from cascade.automation.models import RunStage

    site = make_site(f"engine {time.time()}", count)
    cold()
    started = time.perf_counter()
    run = engine.start_run(site)
    engine.run_until_idle(timeout=3600)
    elapsed = time.perf_counter() - started
    items = sum(RunStage.objects.filter(run=run).values_list("processed_count", flat=True))
    return elapsed, items


def floor_run(count: int) -> tuple[float, int]:
    """The same outputs, written in bulk: what the work costs with no tracking at all."""
    from django.db import transaction

    from cascade.ai import clustering
    from cascade.ai.base import Brief, ClusterIn, ClusterRef, KeywordIn
    from cascade.ai.local import LocalProvider
    from cascade.automation.steps import StageContext
    from cascade.automation.steps.writing import image_process, picture_sections
    from cascade.planner.models import Cluster, ContentIdea, Keyword, normalize
    from cascade.writer.models import Content, Image, Task

    site = make_site(f"floor {time.time()}", count)
    provider = LocalProvider()
    ctx = StageContext(site.pk, {}, provider)
    cold()
    started = time.perf_counter()
    items = 0
    keywords = list(Keyword.objects.filter(site=site).order_by("id"))
    by_id = {k.id: k for k in keywords}
    clusters: dict[int, tuple[str, list[Keyword]]] = {}  # local id -> (name, members)
    for start in range(0, len(keywords), 100):
        batch = keywords[start : start + 100]
        existing = [
            ClusterRef(cid, name, clustering.make_signature([k.keyword for k in members]))
            for cid, (name, members) in clusters.items()
        ]
        for a in provider.cluster_keywords([KeywordIn(k.id, k.keyword) for k in batch], existing):
            cid = a.cluster_id if a.cluster_id is not None else len(clusters) + 1
            name, members = clusters.setdefault(cid, (a.name, []))
            members.extend(by_id[i] for i in a.keyword_ids)
        items += len(batch)
    clusters = {name: members for name, members in clusters.values()}
    with transaction.atomic():
        rows = Cluster.objects.bulk_create(
            [
                Cluster(
                    site=site,
                    name=n[:200],
                    normalized=normalize(n)[:200],
                    status="mapped",
                    keyword_count=len(ks),
                )
                for n, ks in clusters.items()
            ]
        )
        for row, ks in zip(rows, clusters.values(), strict=True):
            for k in ks:
                k.cluster, k.status = row, "mapped"
        Keyword.objects.bulk_update(keywords, ["cluster", "status"], batch_size=2000)
    ideas = []
    taken: set[str] = set()
    for row, ks in zip(rows, clusters.values(), strict=True):
        for idea in provider.generate_ideas(
            ClusterIn(row.id, row.name, [KeywordIn(k.id, k.keyword) for k in ks[:40]]), 3, taken
        ):
            taken.add(normalize(idea.title))
            ideas.append(
                ContentIdea(
                    site=site,
                    cluster=row,
                    title=idea.title,
                    normalized_title=normalize(idea.title),
                    outline=idea.outline,
                    target_keywords=idea.target_keywords,
                    structure=idea.structure,
                    status="completed",
                )
            )
        items += 1
    ideas = ContentIdea.objects.bulk_create(ideas, batch_size=2000)
    tasks = Task.objects.bulk_create(
        [Task(site=site, idea=i, title=i.title, status="completed") for i in ideas], batch_size=2000
    )
    items += 2 * len(ideas)
    contents = []
    for task, idea in zip(tasks, ideas, strict=True):
        article = provider.write_article(
            Brief(idea.title, idea.outline, idea.target_keywords, idea.structure, 1200)
        )
        contents.append(
            Content(
                site=site,
                task=task,
                title=task.title,
                html=article.html,
                meta_title=article.meta_title,
                meta_description=article.meta_description,
                word_count=article.word_count,
                status="review",
                is_offline_draft=True,
            )
        )
    contents = Content.objects.bulk_create(contents, batch_size=500)
    images = []
    for content in contents:
        chosen = picture_sections(content.html, 2)
        for position, p in enumerate(provider.image_prompts(content.title, chosen)):
            images.append(
                Image(
                    site=site,
                    content=content,
                    kind=p.kind,
                    position=position,
                    prompt=p.prompt,
                    alt=p.alt,
                    section=p.section,
                )
            )
    images = Image.objects.bulk_create(images, batch_size=2000)
    items += 3 * len(contents)
    for image in images:
        image.file, image.width, image.height, drawn = image_process(ctx, [image])
        image.alt, image.status = drawn or image.alt, "generated"
    fields = ["file", "width", "height", "alt", "status"]
    Image.objects.bulk_update(images, fields, batch_size=2000)
    items += len(images)
    return time.perf_counter() - started, items


def main() -> None:
    count, repeats = int(sys.argv[1]), int(sys.argv[2])
    setup_django(**ENV)
    results = {"engine": [], "floor": [], "items": 0}
    for _ in range(repeats):  # interleaved, so both see the same machine
        seconds, items = engine_run(count)
        results["engine"].append(seconds)
        results["items"] = items
        seconds, floor_items = floor_run(count)
        results["floor"].append(seconds)
        results["floor_items"] = floor_items
    e, f = median(results["engine"]), median(results["floor"])
    results.update(
        engine_median=e,
        floor_median=f,
        ratio=e / f,
        items_per_second=results["items"] / e,
        overhead_ms_per_item=1000 * (e - f) / results["items"],
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
