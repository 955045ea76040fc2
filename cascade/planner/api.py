from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError

from cascade.accounts.access import site_for
from cascade.lib.paging import PageQuery, page
from cascade.planner.importing import ImportRefused, import_rows, rows_from_csv
from cascade.planner.models import (
    Cluster,
    ClusterStatus,
    ContentIdea,
    IdeaStatus,
    Keyword,
    KeywordStatus,
)

router = Router()


def _status(value: str | None, allowed: type) -> str | None:
    if value is None:
        return None
    if value not in allowed.values:
        raise HttpError(422, f"status: must be one of {', '.join(allowed.values)}")
    return value


@router.post(
    "{int:site_id}/keywords/",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"keywords": {"type": "array"}}}
                },
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
def import_keywords(request: HttpRequest, site_id: int):
    """Import keywords as JSON `{"keywords": [...]}` or as CSV with a header row."""
    site = site_for(request, site_id, operate=True)
    content_type = (request.content_type or "").lower()
    try:
        if content_type in ("text/csv", "application/csv"):
            return import_rows(site, rows_from_csv(request.body), first_row=2).as_dict()
        try:
            payload = json.loads(request.body or b"null")
        except (UnicodeDecodeError, ValueError):
            raise HttpError(
                422, 'body: expected JSON {"keywords": [...]} or text/csv with a header row'
            ) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("keywords"), list):
            raise HttpError(422, 'keywords: expected a list of {"keyword": ...} objects')
        return import_rows(site, payload["keywords"]).as_dict()
    except ImportRefused as exc:
        raise HttpError(422, str(exc)) from None


@router.get("{int:site_id}/keywords/")
def list_keywords(
    request: HttpRequest, site_id: int, paging: Query[PageQuery], status: str | None = None
):
    site = site_for(request, site_id)
    qs = Keyword.objects.filter(site=site).order_by("id")
    if _status(status, KeywordStatus):
        qs = qs.filter(status=status)
    return page(
        qs,
        paging.limit,
        paging.offset,
        lambda k: {
            "id": k.id,
            "keyword": k.keyword,
            "status": k.status,
            "cluster_id": k.cluster_id,
            "volume": k.volume,
            "difficulty": k.difficulty,
            "intent": k.intent,
            "disabled": k.disabled,
        },
    )


@router.get("{int:site_id}/clusters/")
def list_clusters(
    request: HttpRequest, site_id: int, paging: Query[PageQuery], status: str | None = None
):
    site = site_for(request, site_id)
    qs = Cluster.objects.filter(site=site).order_by("id")
    if _status(status, ClusterStatus):
        qs = qs.filter(status=status)
    return page(
        qs,
        paging.limit,
        paging.offset,
        lambda c: {
            "id": c.id,
            "name": c.name,
            "status": c.status,
            "keyword_count": c.keyword_count,
            "disabled": c.disabled,
        },
    )


@router.get("{int:site_id}/ideas/")
def list_ideas(
    request: HttpRequest, site_id: int, paging: Query[PageQuery], status: str | None = None
):
    site = site_for(request, site_id)
    qs = ContentIdea.objects.filter(site=site).order_by("id")
    if _status(status, IdeaStatus):
        qs = qs.filter(status=status)
    return page(
        qs,
        paging.limit,
        paging.offset,
        lambda i: {
            "id": i.id,
            "title": i.title,
            "cluster_id": i.cluster_id,
            "status": i.status,
            "structure": i.structure,
            "outline": i.outline,
            "target_keywords": i.target_keywords,
        },
    )
