"""Tasks, articles and images of a site (contract §6 and §8); its WordPress is
`publishing_api`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict
from pydantic.json_schema import SkipJsonSchema

from cascade.accounts.access import add_site_list, site_for
from cascade.lib.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
    Body,
    Error,
    NoNulls,
    RowId,
    VisibleLine,
    VisibleText,
)
from cascade.writer import media_links, review
from cascade.writer.exporting import export_response
from cascade.writer.html import place_images
from cascade.writer.models import Content, ContentStatus, Image, Task

router = Router()
ACT_ERRORS = {**WRITE_ERRORS, 409: Error}


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


class ImageOut(Schema):
    id: int
    content_id: int
    kind: str
    status: str
    url: str | None
    width: int | None
    height: int | None
    prompt: str

    @staticmethod
    def resolve_url(image: Image) -> str | None:
        """Signed, as every picture address the API gives (media_links)."""
        return media_links.signed(str(image.file)) if image.file else None


class ArticleImage(Schema):
    id: int
    kind: str
    url: str | None
    alt: str


class ContentOut(Schema):
    id: int
    title: str
    status: str
    html: str
    word_count: int
    meta_title: str
    meta_description: str
    cluster_id: int | None
    idea_id: int | None
    keywords: list[str]
    images: list[ArticleImage]
    review_note: str
    published_url: str
    publish_error: str
    updated_at: datetime


class ContentPatch(NoNulls):
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": [name]} for name in review.EDITABLE],
            "description": f"At least one of {', '.join(review.EDITABLE)}.",
        }
    )
    title: Annotated[VisibleLine, Field(max_length=300)] | SkipJsonSchema[None] = None
    html: VisibleText | SkipJsonSchema[None] = None
    meta_title: Annotated[VisibleText, Field(max_length=60)] | SkipJsonSchema[None] = None
    meta_description: Annotated[VisibleText, Field(max_length=160)] | SkipJsonSchema[None] = None
    confirm_published: bool = False


class Reason(Body):
    reason: VisibleLine = Field(..., max_length=2000)


class Note(Body):
    note: VisibleLine = Field(..., max_length=2000)


class BulkIn(Body):
    action: Literal["approve", "reject", "publish"]
    ids: list[RowId] = Field(..., min_length=1, max_length=1000)
    reason: VisibleLine | None = Field(None, max_length=2000)


class Refusal(Schema):
    id: int
    reason: str


class BulkOut(Schema):
    done: list[int]
    refused: list[Refusal]


def _content(request: HttpRequest, site_id: int, content_id: int, operate: bool = False):
    site = site_for(request, site_id, operate=operate)
    content = (
        Content.objects.filter(site=site, pk=content_id)
        .select_related("task__idea", "site")
        .first()
    )
    if content is None:
        raise HttpError(404, f"Content {content_id} not found.")
    return content


def _out(content: Content) -> dict:
    """An article as the API gives it: its pictures (in the list and in the HTML) at signed
    addresses that work without a session for a while."""
    idea = content.task.idea
    images = list(content.images.order_by("position"))
    signed = {i.pk: media_links.signed(str(i.file)) for i in images if i.file}
    return {
        **{f: getattr(content, f) for f in ContentOut.model_fields if hasattr(content, f)},
        "html": place_images(content.html, images, url_of=lambda i: signed[i.pk]),
        "cluster_id": idea.cluster_id if idea else None,
        "idea_id": idea.pk if idea else None,
        "keywords": [str(k) for k in (idea.target_keywords if idea else [])],
        "images": [
            {"id": i.pk, "kind": i.kind, "url": signed.get(i.pk), "alt": i.alt} for i in images
        ],
    }


def _act(action, content: Content, *args) -> dict:
    try:
        action(content, *args)
    except review.Refused as refusal:
        raise HttpError(refusal.status, refusal.reason) from None
    return _out(content)


@router.get("{id:site_id}/content/{id:content_id}/", response={200: ContentOut, **READ_ERRORS})
def get_content(request: HttpRequest, site_id: int, content_id: int):
    return _out(_content(request, site_id, content_id))


@router.patch(
    "{id:site_id}/content/{id:content_id}/",
    response={200: ContentOut, **ACT_ERRORS, 413: Error},
)
def patch_content(request: HttpRequest, site_id: int, content_id: int, body: ContentPatch):
    """Change title, body and meta; the body is sanitised. A published article changes only
    with `confirm_published` (the post changes when it is published again)."""
    content = _content(request, site_id, content_id, operate=True)
    values = body.model_dump(exclude={"confirm_published"}, exclude_none=True)
    return _act(review.edit, content, values, body.confirm_published)


@router.post(
    "{id:site_id}/content/{id:content_id}/approve/", response={200: ContentOut, **ACT_ERRORS}
)
def approve(request: HttpRequest, site_id: int, content_id: int):
    return _act(review.approve, _content(request, site_id, content_id, operate=True))


@router.post(
    "{id:site_id}/content/{id:content_id}/reject/", response={200: ContentOut, **ACT_ERRORS}
)
def reject(request: HttpRequest, site_id: int, content_id: int, body: Reason):
    return _act(review.reject, _content(request, site_id, content_id, operate=True), body.reason)


@router.post(
    "{id:site_id}/content/{id:content_id}/rewrite/", response={200: ContentOut, **ACT_ERRORS}
)
def rewrite(request: HttpRequest, site_id: int, content_id: int, body: Note):
    """Send the article back to stage 4 with a note; the next run writes it again in place."""
    return _act(review.rewrite, _content(request, site_id, content_id, operate=True), body.note)


@router.post(
    "{id:site_id}/content/{id:content_id}/publish/", response={200: ContentOut, **ACT_ERRORS}
)
def publish(request: HttpRequest, site_id: int, content_id: int):
    """Queue an approved (or published, to update it) article for the site's WordPress."""
    return _act(review.publish, _content(request, site_id, content_id, operate=True))


@router.post("{id:site_id}/content/bulk/", response={200: BulkOut, **ACT_ERRORS})
def bulk(request: HttpRequest, site_id: int, body: BulkIn):
    """One action on many articles; each that does not fit is refused alone, with the reason."""
    site = site_for(request, site_id, operate=True)
    if any(not 1 <= i <= 2**63 - 1 for i in body.ids):
        raise HttpError(422, "ids: each must be an article id (a positive whole number).")
    try:
        result = review.bulk(site, body.action, body.ids, {"reason": body.reason})
    except review.Refused as refusal:
        raise HttpError(refusal.status, refusal.reason) from None
    return {"done": result.done, "refused": result.refused}


@router.get(
    "{id:site_id}/content/export/",
    response={200: None, **READ_ERRORS},
    openapi_extra={
        "responses": {200: {"description": "A ZIP", "content": {"application/zip": {}}}}
    },
)
def export(
    request: HttpRequest,
    site_id: int,
    status: ContentStatus = ContentStatus.APPROVED,
    format: Literal["markdown", "html"] = "markdown",
):
    """A ZIP with a folder per article (index.md with front matter, or index.html) and its
    pictures, streamed as it is made."""
    site = site_for(request, site_id)
    return export_response(request, site, status=ContentStatus(status).value, fmt=format)


add_site_list(router, "tasks", Task, TaskOut)
add_site_list(router, "content", Content, ContentRow, defer=("html",))
add_site_list(router, "images", Image, ImageOut)
