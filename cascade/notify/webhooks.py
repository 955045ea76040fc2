"""Webhooks: adding one (its address checked, its secret made), recording events for them in the
caller's transaction, and what each delivery and its attempts looked like."""

from __future__ import annotations

import secrets as tokens
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cascade.accounts import secrets
from cascade.accounts.models import Role, Site
from cascade.lib.limits import text_problem
from cascade.lib.net import internal_address
from cascade.notify.models import Delivery, DeliveryStatus, Email, EmailOptIn, Event, Webhook

EVENTS = tuple(Event.values)
MAX_PER_SITE = 20
# Emails go out for runs that did not end well, and for pauses (contract §11).
EMAILED = {Event.RUN_FINISHED, Event.RUN_PAUSED}


class BadWebhook(ValueError):
    """Input that cannot make a webhook: `field` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise BadWebhook("events", f"Choose at least one event: {', '.join(EVENTS)}.")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise BadWebhook(
            "events", f"Unknown event {unknown[0]!r}; the events are {', '.join(EVENTS)}."
        )
    return sorted(set(events), key=EVENTS.index)


def refused_address(host: str) -> str | None:
    """Why the server will not call `host` (None when it may): private, loopback, link-local
    and other internal addresses are refused unless CASCADE_WEBHOOKS_ALLOW_PRIVATE is set, so
    that a tenant cannot make the server call the services around it."""
    try:
        address = internal_address(host, allowed=settings.CASCADE_WEBHOOKS_ALLOW_PRIVATE)
    except (OSError, UnicodeError):
        return f"The host {host!r} could not be resolved."
    if address is None:
        return None
    return (
        f"{host} resolves to {address}, a private or internal address; webhooks go to public "
        "addresses only (the operator allows others with CASCADE_WEBHOOKS_ALLOW_PRIVATE)."
    )


def check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        raise BadWebhook("url", "This is not a valid address.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or text_problem(url):
        raise BadWebhook(
            "url", "Give an http:// or https:// address, e.g. https://example.com/hook."
        )
    if len(url) > 500:
        raise BadWebhook("url", "The address is longer than 500 characters.")
    if parts.username or parts.password:
        raise BadWebhook("url", "Put no user name or password in the address.")
    refused = refused_address(parts.hostname)
    if refused:
        raise BadWebhook("url", refused)
    return url


def add(site: Site, url: str, events: list[str]) -> tuple[Webhook, str]:
    """A new webhook and its secret (shown to the caller once, stored encrypted)."""
    events = check_events(events)
    url = check_url(url)
    if Webhook.objects.filter(site=site).count() >= MAX_PER_SITE:
        raise BadWebhook("url", f"A site has at most {MAX_PER_SITE} webhooks; remove one first.")
    secret = "whsec_" + tokens.token_urlsafe(32)
    hook = Webhook.objects.create(
        site=site, url=url, events=events, secret_encrypted=secrets.encrypt(secret)
    )
    return hook, secret


def describe(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.pk,
        "url": hook.url,
        "events": hook.events,
        "created_at": hook.created_at,
    }


def emit(site_id: int, event: str, payload: dict[str, Any], email: tuple[str, str] | None = None):
    """Record `event` for the site's webhooks that want it (and, given `email` as (subject,
    body), for its owners who opted in), inside the caller's transaction: the event is kept
    exactly when the change it tells of is. Sending happens in the worker (`sending`)."""
    now = timezone.now()
    body = {"event": event, "site_id": site_id, **payload}
    hooks = [h for h in Webhook.objects.filter(site_id=site_id) if event in h.events]
    until = now + timedelta(seconds=settings.CASCADE_WEBHOOK_RETRY_SECONDS)
    Delivery.objects.bulk_create(
        [
            Delivery(webhook=h, event=event, payload=body, next_attempt_at=now, retry_until=until)
            for h in hooks
        ]
    )
    if email is not None and event in EMAILED:
        recipients = owners_opted_in(site_id)
        if recipients:
            subject, text = email
            Email.objects.create(
                site_id=site_id,
                event=event,
                recipients=recipients,
                subject=subject[:200],
                body=text,
                next_attempt_at=now,
            )
    if hooks or email is not None:
        from cascade.notify import sending

        transaction.on_commit(sending.wake)


def owners_opted_in(site_id: int) -> list[str]:
    account_id = Site.objects.filter(pk=site_id).values_list("account_id", flat=True).get()
    users = (
        get_user_model()
        .objects.filter(
            memberships__account_id=account_id,
            memberships__role=Role.OWNER,
            is_active=True,
            pk__in=EmailOptIn.objects.filter(account_id=account_id).values("user_id"),
        )
        .exclude(email="")
    )
    return sorted(users.values_list("email", flat=True))


def redeliver(delivery: Delivery) -> Delivery:
    """Send a delivery again now, with the same id (a failed or delivered one as well), and
    retry it as long as a new event would be."""
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        retry_until=now + timedelta(seconds=settings.CASCADE_WEBHOOK_RETRY_SECONDS),
        claimed_until=None,
    )
    from cascade.notify import sending

    transaction.on_commit(sending.wake)
    delivery.refresh_from_db()
    return delivery
