"""Tasks, articles and images of a site (contract §6)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from cascade.accounts.access import add_site_list, site_for
from cascade.lib.schemas import READ_ERRORS
from cascade.writer.models import Content, Image, Task

router = Router()


class TaskOut(Schema):
    id: int
    idea_id: int
    title: str
    status: str
    target_words: int


class ContentRow(Schema):
    id: int
    task_id: int
    title: str
    status: str
    word_count: int
    meta_title: str
    meta_description: str
    is_offline_draft: bool


class ContentOut(ContentRow):
    html: str


class ImageOut(Schema):
    id: int
    content_id: int
    kind: str
    status: str
    url: str | None
    width: int | None
    height: int | None
    prompt: str


@router.get("{int:site_id}/content/{int:content_id}/", response={200: ContentOut, **READ_ERRORS})
def get_content(request: HttpRequest, site_id: int, content_id: int):
    content = Content.objects.filter(site=site_for(request, site_id), pk=content_id).first()
    if content is None:
        raise HttpError(404, f"Content {content_id} not found.")
    return content


add_site_list(router, "tasks", Task, TaskOut)
add_site_list(router, "content", Content, ContentRow, defer=("html",))
add_site_list(router, "images", Image, ImageOut)
