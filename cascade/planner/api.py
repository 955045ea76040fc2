from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from cascade.accounts.access import add_site_list, site_for
from cascade.lib.schemas import WRITE_ERRORS
from cascade.planner.importing import ImportRefused, import_rows, rows_from_csv
from cascade.planner.models import (
    Cluster,
    ContentIdea,
    Keyword,
)

router = Router()


class ImportRejection(Schema):
    row: int
    value: str
    reason: str


class ImportReport(Schema):
    created: int
    duplicates: int
    rejected: list[ImportRejection]


@router.post(
    "{id:site_id}/keywords/",
    response={200: ImportReport, **WRITE_ERRORS},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["keywords"],
                        # Each row is checked on its own: a bad one is listed in `rejected`.
                        "properties": {"keywords": {"type": "array", "items": {}}},
                    }
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
            return import_rows(site, rows_from_csv(request), first_row=2).as_dict()
        try:
            payload = json.loads(request.body or b"null")
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HttpError(
                422, 'body: expected JSON {"keywords": [...]} or text/csv with a header row'
            ) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("keywords"), list):
            raise HttpError(422, 'keywords: expected a list of {"keyword": ...} objects')
        return import_rows(site, payload["keywords"]).as_dict()
    except ImportRefused as exc:
        raise HttpError(422, str(exc)) from None


class KeywordOut(Schema):
    id: int
    keyword: str
    status: str
    cluster_id: int | None
    volume: int | None
    difficulty: int | None
    intent: str
    disabled: bool


class ClusterOut(Schema):
    id: int
    name: str
    status: str
    keyword_count: int
    disabled: bool


class IdeaOut(Schema):
    id: int
    title: str
    cluster_id: int | None
    status: str
    structure: str
    outline: list[str]
    target_keywords: list[str]


add_site_list(router, "keywords", Keyword, KeywordOut)
add_site_list(router, "clusters", Cluster, ClusterOut)
add_site_list(router, "ideas", ContentIdea, IdeaOut)
