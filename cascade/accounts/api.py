"""Sites: list, create, read (contract §6)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import AfterValidator, Field

from cascade.accounts.access import site_for, sites_of
from cascade.accounts.models import CAN_OPERATE, Membership, Site
from cascade.accounts.naming import HOST_PATTERN, HOST_REFUSAL, site_fields
from cascade.lib.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
    Body,
    RowId,
    VisibleLine,
    matching,
    visible_text,
)

router = Router()


class SiteIn(Body):
    name: VisibleLine = Field(max_length=200)
    domain: Annotated[
        str, AfterValidator(visible_text), AfterValidator(matching(HOST_PATTERN, HOST_REFUSAL))
    ] = Field(default="", max_length=253, json_schema_extra={"pattern": HOST_PATTERN})
    account_id: RowId | None = None


class SiteOut(Schema):
    id: int
    name: str
    domain: str
    account_id: int
    account: str
    credits: int
    tone: str
    audience: str
    language: str


class SiteList(Schema):
    count: int
    items: list[SiteOut]


def site_row(site: Site) -> dict:
    return {
        "id": site.pk,
        "name": site.name,
        "domain": site.domain,
        "account_id": site.account_id,
        "account": site.account.name,
        "credits": site.account.credits,
        "tone": site.tone,
        "audience": site.audience,
        "language": site.language,
    }


@router.get("", response={200: SiteList, **READ_ERRORS})
def list_sites(request: HttpRequest):
    sites = sites_of(request.user)
    return {"count": len(sites), "items": [site_row(s) for s in sites]}


@router.post("", response={201: SiteOut, **WRITE_ERRORS})
def create_site(request: HttpRequest, payload: SiteIn):
    user_id: Any = request.user.pk
    memberships = Membership.objects.filter(user_id=user_id).select_related("account")
    if payload.account_id is not None:
        memberships = memberships.filter(account_id=payload.account_id)
    membership = next((m for m in memberships if m.role in CAN_OPERATE), None)
    if membership is None:
        if not memberships:
            raise HttpError(
                404, "Account not found." if payload.account_id else "You belong to no account."
            )
        raise HttpError(403, "Your role may not create sites in this account.")
    name, domain, errors = site_fields(payload.name, payload.domain)
    if errors:
        raise HttpError(422, "; ".join(f"{field}: {error}" for field, error in errors.items()))
    site = Site.objects.create(account=membership.account, name=name, domain=domain)
    return Status(201, site_row(site))


@router.get("{id:site_id}/", response={200: SiteOut, **READ_ERRORS})
def get_site(request: HttpRequest, site_id: int):
    return site_row(site_for(request, site_id))
