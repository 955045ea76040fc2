"""Paging: ninja's limit/offset pagination with bounds for the API (`{"count": n, "items": [...]}`),
and the `?page=N` pages of the HTML lists."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1


class Paging(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(50, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)


def page_of(request: HttpRequest, rows: Any, per_page: int, count: int | None = None) -> Page:
    """The `?page=N` page of a list (the first for a bad number, the last past the end); `count`
    spares the count query when the caller knows it already."""
    paginator = Paginator(rows, per_page)
    if count is not None:
        paginator.count = count
    number = request.GET.get("page", "1")
    return paginator.get_page(number if number.isdigit() else 1)
