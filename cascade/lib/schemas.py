"""Schemas every API router shares: error bodies and the responses they go with."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import AfterValidator, BeforeValidator, ConfigDict, model_validator

from cascade.lib.limits import MAX_ID, text_problem, visible_pattern


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


def _visible_check(required: bool) -> Callable[[str], str]:
    def check(value: str) -> str:
        if problem := text_problem(value):
            raise ValueError(f"Use visible characters only: this {problem}.")
        if required and not value.strip():
            raise ValueError("may not be empty")
        return value

    return check


def _visible_schema(required: bool) -> Callable[[dict[str, Any]], None]:
    def extra(schema: dict[str, Any]) -> None:
        schema["pattern"] = visible_pattern(required)

    return extra


# The check of VisibleText, for a field whose schema states a stricter pattern of its own.
visible_text = _visible_check(False)
# Text a person types, as the schema states it and the server checks it (one rule, in
# lib/limits.py): `VisibleText` may be blank, `VisibleLine` must say something.
VisibleText = Annotated[
    str, AfterValidator(_visible_check(False)), Field(json_schema_extra=_visible_schema(False))
]
VisibleLine = Annotated[
    str, AfterValidator(_visible_check(True)), Field(json_schema_extra=_visible_schema(True))
]


def _whole(value: Any) -> Any:
    """A whole number as JSON may write it (3 or 3.0), nothing else (not "3", not true)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A whole number of a body (strict: see `Body`): `Annotated[int, Field(ge=…), WHOLE]`, its
# bounds before WHOLE (after it, Pydantic leaves them out of the schema). And an id of a row the
# database can hold.
WHOLE = BeforeValidator(_whole)
Whole = Annotated[int, WHOLE]
RowId = Annotated[int, Field(ge=1, le=MAX_ID), WHOLE]
# An http(s) address of another server.
WEB_ADDRESS = r"^https?://[^\s/?#@\u0000-\u001f\u007f]+(/[^\s\u0000-\u001f\u007f]*)?$"


def matching(pattern: str, refusal: str) -> Callable[[str], str]:
    """A check that a text matches `pattern` (the schema's own); `refusal` says what to send."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(refusal)
        return value

    return check


def _raw(data: Any) -> Any:
    """What the client sent (Ninja hands validators its own wrapper of it)."""
    return data._obj if isinstance(data, DjangoGetter) else data


class Body(Schema):
    """A request body: a JSON object whose values have the schema's own types (no 0 for false,
    no "3" for 3), as the schema says."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        if not isinstance(_raw(data), dict):
            raise ValueError("the body must be a JSON object")
        return data


class NoNulls(Body):
    """A body whose fields may be left out (each keeps what it is) but not sent as null, save
    those named in `nullable` (null clears them). Type such fields `X | SkipJsonSchema[None]`,
    so the schema says so too."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(_raw(data), dict):
            for name, value in _raw(data).items():
                if value is None and name in cls.model_fields and name not in cls.nullable:
                    raise ValueError(f"{name}: may not be null (leave it out to keep what it is)")
        return data
