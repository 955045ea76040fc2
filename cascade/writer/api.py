from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from cascade.accounts.access import site_for
from cascade.lib.paging import PageQuery, page
from cascade.planner.api import _status
from cascade.writer.models import Content, ContentStatus, Image, ImageStatus, Task, TaskStatus

router = Router()


@router.get("{int:site_id}/tasks/")
def list_tasks(
    request: HttpRequest, site_id: int, paging: Query[PageQuery], status: str | None = None
):
    site = site_for(request, site_id)
    qs = Task.objects.filter(site=site).order_by("id")
    if _status(status, TaskStatus):
        qs = qs.filter(status=status)
    return page(
        qs,
        paging.limit,
        paging.offset,
        lambda t: {
            "id": t.id,
            "idea_id": t.idea_id,
            "title": t.title,
            "status": t.status,
            "target_words": t.target_words,
        },
    )


@router.get("{int:site_id}/content/")
def list_content(
    request: HttpRequest, site_id: int, paging: Query[PageQuery], status: str | None = None
):
    site = site_for(request, site_id)
    qs = Content.objects.filter(site=site).order_by("id").defer("html")
    if _status(status, ContentStatus):
        qs = qs.filter(status=status)
    return page(
        qs,
        paging.limit,
        paging.offset,
        lambda c: {
            "id": c.id,
            "task_id": c.task_id,
            "title": c.title,
            "status": c.status,
            "word_count": c.word_count,
            "meta_title": c.meta_title,
            "meta_description": c.meta_description,
            "is_offline_draft": c.is_offline_draft,
        },
    )


@router.get("{int:site_id}/content/{int:content_id}/")
def get_content(request: HttpRequest, site_id: int, content_id: int):
    from ninja.errors import HttpError

    site = site_for(request, site_id)
    content = Content.objects.filter(site=site, pk=content_id).first()
    if content is None:
        raise HttpError(404, f"Content {content_id} not found.")
    return {
        "id": content.id,
        "task_id": content.task_id,
        "title": content.title,
        "status": content.status,
        "word_count": content.word_count,
        "html": content.html,
        "meta_title": content.meta_title,
        "meta_description": content.meta_description,
        "is_offline_draft": content.is_offline_draft,
    }


@router.get("{int:site_id}/images/")
def list_images(
    request: HttpRequest, site_id: int, paging: Query[PageQuery], status: str | None = None
):
    site = site_for(request, site_id)
    qs = Image.objects.filter(site=site).order_by("id")
    if _status(status, ImageStatus):
        qs = qs.filter(status=status)
    return page(
        qs,
        paging.limit,
        paging.offset,
        lambda i: {
            "id": i.id,
            "content_id": i.content_id,
            "kind": i.kind,
            "status": i.status,
            "url": i.url,
            "width": i.width,
            "height": i.height,
            "prompt": i.prompt,
        },
    )
