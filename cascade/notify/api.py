"""A site's webhooks and their deliveries (contract §11), under /v1/sites/.

(No `from __future__ import annotations` here: Ninja's `@paginate` wrapper resolves the view's
annotations in its own module.)
"""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate
from pydantic import AfterValidator, Field

from cascade.accounts.access import site_for
from cascade.lib.paging import Paging
from cascade.lib.schemas import READ_ERRORS, WEB_ADDRESS, WRITE_ERRORS, Body, matching
from cascade.notify import webhooks
from cascade.notify.models import Attempt, Delivery, DeliveryStatus, Event, Webhook

router = Router()
EventName = Literal[tuple(Event.values)]  # type: ignore[valid-type]


class WebhookIn(Body):
    url: Annotated[
        str, AfterValidator(matching(WEB_ADDRESS, "Give an http:// or https:// address."))
    ] = Field(
        max_length=500,
        description="http:// or https:// address that receives POSTs",
        json_schema_extra={"pattern": WEB_ADDRESS},
    )
    events: list[EventName] = Field(min_length=1, max_length=10)  # type: ignore[valid-type]


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signs every delivery (X-Cascade-Signature); shown once")


class AttemptOut(Schema):
    at: datetime
    status_code: int | None
    error: str
    ms: int = Field(alias="milliseconds")


class DeliveryOut(Schema):
    id: uuid.UUID
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    attempt_log: list[AttemptOut]

    @staticmethod
    def resolve_id(delivery: Delivery) -> uuid.UUID:
        return delivery.delivery_id

    @staticmethod
    def resolve_next_attempt_at(delivery: Delivery) -> datetime | None:
        return delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None

    @staticmethod
    def resolve_attempt_log(delivery: Delivery) -> list[Attempt]:
        return list(delivery.attempt_log.all())


def refused(exc: webhooks.BadWebhook) -> ValidationError:
    return ValidationError([{"loc": ["body", exc.field], "msg": exc.message}])


def _hook(request: HttpRequest, site_id: int, webhook_id: int, operate: bool = False) -> Webhook:
    site = site_for(request, site_id, operate=operate)
    hook = Webhook.objects.filter(site=site, pk=webhook_id).first()
    if hook is None:
        raise HttpError(404, f"Webhook {webhook_id} not found for site {site_id}.")
    return hook


@router.get("{id:site_id}/webhooks/", response={200: list[WebhookOut], **READ_ERRORS})
def list_webhooks(request: HttpRequest, site_id: int) -> Any:
    site = site_for(request, site_id)
    return [webhooks.describe(h) for h in Webhook.objects.filter(site=site)]


@router.post("{id:site_id}/webhooks/", response={201: WebhookCreated, **WRITE_ERRORS})
def add_webhook(request: HttpRequest, site_id: int, payload: WebhookIn) -> Any:
    site = site_for(request, site_id, operate=True)
    try:
        hook, secret = webhooks.add(site, payload.url, list(payload.events))
    except webhooks.BadWebhook as exc:
        raise refused(exc) from None
    return Status(201, webhooks.describe(hook) | {"secret": secret})


@router.delete("{id:site_id}/webhooks/{id:webhook_id}/", response={204: None, **WRITE_ERRORS})
def remove_webhook(request: HttpRequest, site_id: int, webhook_id: int) -> Any:
    _hook(request, site_id, webhook_id, operate=True).delete()
    return HttpResponse(status=204)


@router.get(
    "{id:site_id}/webhooks/{id:webhook_id}/deliveries/",
    response={200: list[DeliveryOut], **READ_ERRORS},
)
@paginate(Paging)
def deliveries(request: HttpRequest, site_id: int, webhook_id: int) -> Any:
    hook = _hook(request, site_id, webhook_id)
    rows = Delivery.objects.filter(webhook=hook).prefetch_related(
        Prefetch("attempt_log", queryset=Attempt.objects.order_by("id"))
    )
    return rows


@router.post(
    "{id:site_id}/webhooks/{id:webhook_id}/deliveries/{uuid:delivery_id}/redeliver/",
    response={200: DeliveryOut, **WRITE_ERRORS},
)
def redeliver(request: HttpRequest, site_id: int, webhook_id: int, delivery_id: uuid.UUID) -> Any:
    hook = _hook(request, site_id, webhook_id, operate=True)
    delivery = Delivery.objects.filter(webhook=hook, delivery_id=delivery_id).first()
    if delivery is None:
        raise HttpError(404, f"Delivery {delivery_id} not found.")
    return webhooks.redeliver(delivery)
