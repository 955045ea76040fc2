"""Stages 4-7: tasks into articles, articles into image prompts, prompts into pictures, and the
review gate."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from cascade.ai.base import Brief, SectionIn
from cascade.ai.notes import length_goal
from cascade.ai.text import clip
from cascade.automation.stage_types import TARGET_WORDS_MAX, TARGET_WORDS_MIN
from cascade.automation.steps import Applied, StageContext, StaleItem, expect
from cascade.lib import files
from cascade.planner.models import ContentIdea, IdeaStatus
from cascade.writer.html import count_words, place_images, plain, sanitize, sections
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
from cascade.writer.review import asks_for_title, kept_by_rewrite

ALT_LIMIT = 125  # characters of alt text that screen readers read without cutting
CLOSING = {"conclusion", "summary", "final thoughts", "wrapping up", "faq", "faqs"}


def alt_text(alt: str, fallback: str) -> str:
    """A picture's alt text: what it shows, in plain words, on one line."""
    return clip(plain(alt) or plain(fallback), ALT_LIMIT)


def picture_sections(html: str, count: int) -> list[SectionIn]:
    """The sections an article's in-article pictures are made for: `count` of its sections,
    spread evenly, closing sections last in line."""
    found = [SectionIn(heading, text) for heading, text in sections(html) if heading]
    body = [s for s in found if s.heading.casefold().rstrip(" ?:.") not in CLOSING] or found
    if count <= 0 or not body:
        return []
    if count >= len(body):
        return body
    step = len(body) / count
    return [body[int(i * step)] for i in range(count)]


# --- 4. Tasks → Content ------------------------------------------------------------------------


def article_process(ctx: StageContext, tasks: list[Task]) -> Any:
    (task,) = tasks
    idea = task.idea
    rewrite = Content.objects.filter(task=task).values_list("review_note", flat=True).first()
    goal = length_goal(rewrite or "")
    brief = Brief(
        title=idea.title,
        outline=list(idea.outline),
        target_keywords=list(idea.target_keywords),
        structure=idea.structure,
        target_words=goal.aim if goal else task.target_words,
        tone=ctx.profile.tone,
        audience=ctx.profile.audience,
        language=ctx.profile.language,
        note=rewrite or "",
    )
    return ctx.provider.write_article(brief, profile=ctx.profile)


def article_apply(ctx: StageContext, tasks: list[Task], article: Any) -> Applied:
    """Write the article (sanitised and counted), or write it again in place when a reviewer
    sent it back; its pictures, if it has some, go back where they belong."""
    (task,) = tasks
    body = sanitize(article.html)
    fields = {
        "title": task.title,
        "meta_title": article.meta_title[:60],
        "meta_description": article.meta_description[:160],
        "status": ContentStatus.DRAFT,
        "is_offline_draft": bool(getattr(ctx.provider, "is_offline", False)),
        "provider": getattr(ctx.provider, "name", ""),
        "run_id": ctx.run_id,
    }
    content = Content.objects.filter(task=task).first()
    # A rewrite note's length is the article's target from now on (its page measures by it).
    asked = length_goal(content.review_note) if content is not None else None
    if content is None:
        content = Content.objects.create(site_id=ctx.site_id, task=task, html=body, **fields)
    else:
        # A rewrite keeps what the reviewer edited by hand unless the note asks to change it.
        kept = kept_by_rewrite(content, content.review_note)
        for name in kept:
            fields.pop(name)
        # A rewrite never goes back to the planned title: it keeps the article's, or takes
        # the writer's new one when the note asks for it and the writer gives one.
        fields["title"] = content.title
        proposed = str(getattr(article, "title", None) or "")
        if proposed and "title" not in kept and asks_for_title(content.review_note):
            fields["title"] = clip(proposed, 300)
        content.edited_fields = kept
        for name, value in fields.items():
            setattr(content, name, value)
        content.review_note = ""
        content.changed_since_published = content.remote_post_id is not None
        content.html = place_images(body, content.images.all())
    content.word_count = count_words(content.html)
    content.save()
    expect(
        Task.objects.filter(pk=task.pk, status=TaskStatus.QUEUED).update(
            status=TaskStatus.COMPLETED,
            # (within the lengths a site may set: a note's "999999 words" is not a target)
            **(
                {"target_words": max(TARGET_WORDS_MIN, min(TARGET_WORDS_MAX, asked.aim))}
                if asked
                else {}
            ),
        ),
        1,
        "task",
    )
    ContentIdea.objects.filter(pk=task.idea_id).update(status=IdeaStatus.COMPLETED)
    return Applied(outputs=1, priced_as={"target_words": content.word_count})


# --- 5. Content → Image prompts ----------------------------------------------------------------


def prompts_process(ctx: StageContext, contents: list[Content]) -> Any:
    (content,) = contents
    chosen = picture_sections(content.html, int(ctx.config["images_per_content"]))
    prompts = ctx.provider.image_prompts(content.title, chosen, profile=ctx.profile)
    inside = [p for p in prompts if p.kind != ImageKind.FEATURED]
    for prompt, section in zip(inside, chosen, strict=False):
        prompt.section = prompt.section or section.heading
    return prompts


def prompts_apply(ctx: StageContext, contents: list[Content], prompts: Any) -> Applied:
    (content,) = contents
    if Image.objects.filter(content=content).exists():
        raise StaleItem("content already has image prompts")
    Image.objects.bulk_create(
        [
            Image(
                site_id=ctx.site_id,
                content=content,
                kind=p.kind,
                position=i,
                prompt=p.prompt,
                alt=alt_text(p.alt, p.section or content.title),
                section=p.section[:300] if p.kind != ImageKind.FEATURED else "",
            )
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
    # The file name depends only on the image row (its unguessable token), so a retry
    # overwrites instead of adding.
    relative = f"sites/{ctx.site_id}/images/{image.token}.png"
    write_media(Path(settings.MEDIA_ROOT) / relative, png)
    # A provider that knows what its picture shows says so (the offline one draws words on
    # colours); the alt text written with the prompt says what was asked for.
    shows = getattr(ctx.provider, "what_it_shows", None)
    return relative, width, height, alt_text(shows(image.prompt), image.alt) if shows else None


def write_media(target: Path, data: bytes) -> None:
    """Write a media file whole or not at all. ENOSPC when the disk is full, or when the write
    would leave less than CASCADE_MEDIA_MIN_FREE_BYTES free (room kept for the database)."""
    file_mode, dir_mode = files.media_modes(bool(settings.CASCADE_MEDIA_ACCEL_REDIRECT))
    files.make_media_dirs(target.parent, Path(settings.MEDIA_ROOT), dir_mode)
    keep = settings.CASCADE_MEDIA_MIN_FREE_BYTES
    if keep and shutil.disk_usage(target.parent).free - len(data) < keep:
        raise OSError(errno.ENOSPC, f"writing would leave less than {keep:,} bytes free")
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        os.fchmod(fd, file_mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def image_apply(ctx: StageContext, images: list[Image], result: Any) -> Applied:
    (image,) = images
    relative, width, height, alt = result
    drawn = {"alt": alt} if alt else {}
    updated = Image.objects.filter(pk=image.pk, status=ImageStatus.PENDING).update(
        status=ImageStatus.GENERATED, file=relative, width=width, height=height, **drawn
    )
    expect(updated, 1, "image")
    # The picture goes into its article in the same transaction (featured first, in-article
    # ones after their sections' headings).
    content = Content.objects.select_for_update().get(pk=image.content_id)
    content.html = place_images(content.html, content.images.all())
    content.save(update_fields=["html", "updated_at"])
    return Applied(outputs=1)


# --- 7. Review gate ----------------------------------------------------------------------------


def review_apply(ctx: StageContext, contents: list[Content], _result: Any) -> Applied:
    ids = [c.id for c in contents]
    updated = Content.objects.filter(id__in=ids, status=ContentStatus.DRAFT).update(
        status=ContentStatus.REVIEW
    )
    expect(updated, len(ids), "content")
    return Applied(outputs=len(ids))
