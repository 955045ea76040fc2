"""Schemas every API router shares: error bodies and the responses they go with."""

from __future__ import annotations

from ninja import Schema


class Error(Schema):
    detail: str


class FieldError(Schema):
    field: str
    message: str


class ValidationErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []


# What any authenticated endpoint may answer besides its success.
READ_ERRORS: dict[int, type[Schema]] = {401: Error, 404: Error, 422: ValidationErrorOut}
# A body that is not JSON (400) or too large (413) is refused before the operation runs.
WRITE_ERRORS: dict[int, type[Schema]] = {**READ_ERRORS, 400: Error, 403: Error, 413: Error}
