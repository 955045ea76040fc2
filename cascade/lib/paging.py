"""`{"count": n, "items": [...]}` pages for the read lists of the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from ninja import Schema

MAX_LIMIT = 500


class PageQuery(Schema):
    limit: int = 50
    offset: int = 0


def page(qs: QuerySet, limit: int, offset: int, row: Callable[[Any], dict]) -> dict[str, Any]:
    from ninja.errors import HttpError

    if limit < 1 or limit > MAX_LIMIT:
        raise HttpError(422, f"limit: must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise HttpError(422, "offset: must be 0 or more")
    return {"count": qs.count(), "items": [row(obj) for obj in qs[offset : offset + limit]]}
