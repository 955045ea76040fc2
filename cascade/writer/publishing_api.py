"""A site's WordPress connection (contract §9): read, set, remove and test it."""

from __future__ import annotations

from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from pydantic import AfterValidator

from cascade.accounts.access import site_for
from cascade.lib.schemas import (
    READ_ERRORS,
    WEB_ADDRESS,
    WRITE_ERRORS,
    Body,
    VisibleLine,
    matching,
)
from cascade.writer import connection

router = Router()


class PublishingIn(Body):
    url: Annotated[
        str, AfterValidator(matching(WEB_ADDRESS, "Give an http:// or https:// address."))
    ] = Field(..., max_length=300, json_schema_extra={"pattern": WEB_ADDRESS})
    username: VisibleLine = Field(..., max_length=150)
    application_password: VisibleLine | None = Field(None, max_length=200)
    post_status: Literal["draft", "publish"] = "draft"
    category_from_cluster: bool = True


class PublishingOut(Schema):
    url: str
    username: str
    application_password_set: bool
    application_password_hint: str
    post_status: str
    category_from_cluster: bool


class TestOut(Schema):
    ok: bool
    message: str


@router.get("{id:site_id}/publishing/", response={200: PublishingOut | None, **READ_ERRORS})
def get_publishing(request: HttpRequest, site_id: int):
    """The site's WordPress, or null; the application password is never shown back."""
    return connection.describe(site_for(request, site_id))


@router.put("{id:site_id}/publishing/", response={200: PublishingOut, **WRITE_ERRORS})
def put_publishing(request: HttpRequest, site_id: int, body: PublishingIn):
    """Connect or change the WordPress; leave `application_password` out to keep the stored one."""
    site = site_for(request, site_id, operate=True)
    try:
        connection.save(site, body.model_dump())
    except connection.ConnectionRefused as refusal:
        raise HttpError(422, str(refusal)) from None
    return connection.describe(site)


@router.delete("{id:site_id}/publishing/", response={204: None, **WRITE_ERRORS})
def delete_publishing(request: HttpRequest, site_id: int):
    connection.disconnect(site_for(request, site_id, operate=True))
    return 204, None


@router.post("{id:site_id}/publishing/test/", response={200: TestOut, **WRITE_ERRORS})
def test_publishing(request: HttpRequest, site_id: int):
    """Ask WordPress who the stored credentials belong to; answers what it said."""
    ok, message = connection.test(site_for(request, site_id, operate=True))
    return {"ok": ok, "message": message}
