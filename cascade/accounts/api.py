from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from cascade.accounts.access import site_for, sites_of
from cascade.accounts.models import CAN_OPERATE, Membership, Site

router = Router()


class SiteIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    domain: str = Field(default="", max_length=253)
    account_id: int | None = None


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


@router.get("")
def list_sites(request: HttpRequest):
    sites = sites_of(request.user)
    return {"count": len(sites), "items": [site_row(s) for s in sites]}


@router.post("", response={201: dict})
def create_site(request: HttpRequest, payload: SiteIn):
    memberships = Membership.objects.filter(user=request.user).select_related("account")
    if payload.account_id is not None:
        memberships = memberships.filter(account_id=payload.account_id)
    membership = next((m for m in memberships if m.role in CAN_OPERATE), None)
    if membership is None:
        if not memberships:
            raise HttpError(
                404, "Account not found." if payload.account_id else "You belong to no account."
            )
        raise HttpError(403, "Your role may not create sites in this account.")
    name = payload.name.strip()
    if not name or any(ord(c) < 32 for c in name):
        raise HttpError(422, "name: must be visible text without control characters")
    site = Site.objects.create(account=membership.account, name=name, domain=payload.domain.strip())
    return Status(201, site_row(site))


@router.get("{int:site_id}/")
def get_site(request: HttpRequest, site_id: int):
    return site_row(site_for(request, site_id))


class SiteSettingsIn(Schema):
    tone: str | None = Field(default=None, max_length=200)
    audience: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, min_length=2, max_length=40)
    target_words: int | None = Field(default=None, ge=300, le=5000)


def site_settings(site: Site) -> dict:
    from cascade.automation import config as run_config

    return {
        "tone": site.tone,
        "audience": site.audience,
        "language": site.language,
        "target_words": run_config.load(site)["target_words"],
    }


@router.get("{int:site_id}/settings/")
def get_site_settings(request: HttpRequest, site_id: int):
    return site_settings(site_for(request, site_id))


@router.put("{int:site_id}/settings/")
def put_site_settings(request: HttpRequest, site_id: int, payload: SiteSettingsIn):
    from cascade.automation import config as run_config

    site = site_for(request, site_id, operate=True)
    values = payload.model_dump(exclude_unset=True)
    for field in ("tone", "audience", "language"):
        if field in values:
            text = (values[field] or "").strip()
            if any(ord(c) < 32 for c in text):
                raise HttpError(422, f"{field}: must be visible text without control characters")
            setattr(site, field, text)
    site.save()
    if values.get("target_words") is not None:
        run_config.save(site, {"target_words": values["target_words"]})
    return site_settings(site)
