"""Stages 4-7: tasks into articles, articles into image prompts, prompts into pictures, and the
review gate."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from cascade.ai.base import Brief
from cascade.automation.steps import Applied, StageContext, StaleItem, expect
from cascade.planner.models import ContentIdea, IdeaStatus
from cascade.writer.models import (
    IMAGE_SIZES,
    Content,
    ContentStatus,
    Image,
    ImageKind,
    ImageStatus,
    Task,
    TaskStatus,
)

# --- 4. Tasks → Content ------------------------------------------------------------------------


def article_process(ctx: StageContext, tasks: list[Task]) -> Any:
    (task,) = tasks
    idea = task.idea
    brief = Brief(
        title=idea.title,
        outline=list(idea.outline),
        target_keywords=list(idea.target_keywords),
        structure=idea.structure,
        target_words=task.target_words,
        tone=ctx.profile.tone,
        audience=ctx.profile.audience,
        language=ctx.profile.language,
    )
    return ctx.provider.write_article(brief, profile=ctx.profile)


def article_apply(ctx: StageContext, tasks: list[Task], article: Any) -> Applied:
    (task,) = tasks
    Content.objects.create(
        site_id=ctx.site_id,
        task=task,
        title=task.title,
        html=article.html,
        meta_title=article.meta_title[:60],
        meta_description=article.meta_description[:160],
        word_count=article.word_count,
        status=ContentStatus.DRAFT,
        is_offline_draft=bool(getattr(ctx.provider, "is_offline", False)),
        provider=getattr(ctx.provider, "name", ""),
    )
    expect(
        Task.objects.filter(pk=task.pk, status=TaskStatus.QUEUED).update(
            status=TaskStatus.COMPLETED
        ),
        1,
        "task",
    )
    ContentIdea.objects.filter(pk=task.idea_id).update(status=IdeaStatus.COMPLETED)
    return Applied(outputs=1, priced_as={"target_words": article.word_count})


# --- 5. Content → Image prompts ----------------------------------------------------------------


def prompts_process(ctx: StageContext, contents: list[Content]) -> Any:
    (content,) = contents
    outline = list(content.task.idea.outline) if content.task_id else []
    return ctx.provider.image_prompts(
        content.title, outline, int(ctx.config["images_per_content"]), profile=ctx.profile
    )


def prompts_apply(ctx: StageContext, contents: list[Content], prompts: Any) -> Applied:
    (content,) = contents
    if Image.objects.filter(content=content).exists():
        raise StaleItem("content already has image prompts")
    Image.objects.bulk_create(
        [
            Image(site_id=ctx.site_id, content=content, kind=p.kind, position=i, prompt=p.prompt)
            for i, p in enumerate(prompts)
        ]
    )
    return Applied(outputs=len(prompts))


# --- 6. Image prompts → Images -----------------------------------------------------------------


def image_process(ctx: StageContext, images: list[Image]) -> Any:
    (image,) = images
    width, height = IMAGE_SIZES[ImageKind(image.kind)]
    scale = settings.CASCADE_IMAGE_SCALE
    width, height = max(16, int(width * scale)), max(16, int(height * scale))
    png = ctx.provider.render_image(image.prompt, width, height, profile=ctx.profile)
    # The file name depends only on the image row, so a retry overwrites instead of adding.
    relative = f"sites/{ctx.site_id}/images/{image.content_id}-{image.position}-{image.kind}.png"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(png)
    os.replace(tmp, target)
    return relative, width, height


def image_apply(ctx: StageContext, images: list[Image], result: Any) -> Applied:
    (image,) = images
    relative, width, height = result
    updated = Image.objects.filter(pk=image.pk, status=ImageStatus.PENDING).update(
        status=ImageStatus.GENERATED, file=relative, width=width, height=height
    )
    expect(updated, 1, "image")
    return Applied(outputs=1)


# --- 7. Review gate ----------------------------------------------------------------------------


def review_apply(ctx: StageContext, contents: list[Content], _result: Any) -> Applied:
    ids = [c.id for c in contents]
    updated = Content.objects.filter(id__in=ids, status=ContentStatus.DRAFT).update(
        status=ContentStatus.REVIEW
    )
    expect(updated, len(ids), "content")
    return Applied(outputs=len(ids))
