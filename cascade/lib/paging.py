"""Ninja's limit/offset pagination with bounds: `{"count": n, "items": [...]}`."""

from __future__ import annotations

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


def status_filter(value: str | None, statuses: list[str]) -> str | None:
    """The `status` filter of a list, checked against the statuses rows can have (422 otherwise)."""
    from ninja.errors import HttpError

    if value is None:
        return None
    if value not in statuses:
        raise HttpError(422, f"status: must be one of {', '.join(statuses)}")
    return value
