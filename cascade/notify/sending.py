"""Sending what `webhooks.emit` recorded: one due delivery or email at a time, from the
embedded worker or any Celery worker. A delivery is claimed with a conditional update (so two
processes never send it at once), signed, POSTed, and its attempt logged; a non-2xx answer or
an unreachable receiver is tried again with growing delays until its retry window ends."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cascade.accounts import secrets
from cascade.lib import outbound
from cascade.notify.models import Attempt, Delivery, DeliveryStatus, Email
from cascade.notify.webhooks import refused_address

log = logging.getLogger("cascade.notify")
LEASE = timedelta(seconds=60)  # a claim outlives the longest attempt; a dead sender's expires
EMAIL_ATTEMPTS = 5
_wakers: list[Callable[[], None]] = []


def on_wake(callback: Callable[[], None]) -> None:
    """Have `callback` called when something new is due (the embedded worker's wake-up)."""
    _wakers.append(callback)


def wake() -> None:
    for callback in list(_wakers):
        callback()


def signature(secret: str, body: bytes) -> str:
    """The X-Cascade-Signature header: HMAC-SHA256 of the raw body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from
    CASCADE_WEBHOOK_BACKOFF up to CASCADE_WEBHOOK_MAX_BACKOFF, with a little jitter."""
    base = settings.CASCADE_WEBHOOK_BACKOFF * 2 ** max(0, attempts - 1)
    return min(base, settings.CASCADE_WEBHOOK_MAX_BACKOFF) * random.uniform(0.9, 1.1)


def _due(model: type[Delivery] | type[Email], now: datetime) -> QuerySet:
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return model.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).filter(
        free
    )


def _claim(model: type[Delivery] | type[Email]) -> Any:
    now = timezone.now()
    for pk in _due(model, now).order_by("next_attempt_at").values_list("pk", flat=True)[:5]:
        if _due(model, now).filter(pk=pk).update(claimed_until=now + LEASE):
            return model.objects.get(pk=pk)
    return None


def send_once() -> bool:
    """Send one due delivery or email; False when nothing was due."""
    delivery = _claim(Delivery)
    if delivery is not None:
        deliver(delivery)
        return True
    email = _claim(Email)
    if email is not None:
        send_email(email)
        return True
    return False


def _body(delivery: Delivery, now: datetime) -> bytes:
    payload = dict(delivery.payload)  # (PostgreSQL's jsonb keeps no key order: set it here)
    head = {"event": payload.pop("event"), "delivered_at": now.isoformat()}
    doc = {**head, "site_id": payload.pop("site_id"), **payload}
    return json.dumps(doc, default=str).encode()


def unreachable(exc: Exception) -> str:
    """Why a receiver gave no answer, in words for the Notifications page (an exception's class
    name is for the log, not for people)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        what = "The receiver cannot be reached"
    elif isinstance(exc, httpx.TimeoutException):
        what = "The receiver did not answer in time"
    elif isinstance(exc, httpx.InvalidURL):
        what = "The address cannot be called"
    else:
        what = "The receiver's answer broke off"
    return f"{what}: {exc}"[:500] if str(exc) else f"{what}."


def _post(delivery: Delivery) -> tuple[int | None, str]:
    hook = delivery.webhook
    host = urlsplit(hook.url).hostname or ""
    # Checked again at each attempt: the name may point somewhere else by now.
    refused = refused_address(host)
    if refused:
        return None, refused
    secret = secrets.readable(hook.secret_encrypted)
    if secret is None:
        return None, "The webhook's secret cannot be read with this server's keys; add it again."
    body = _body(delivery, timezone.now())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Cascade-Webhooks/1",
        "X-Cascade-Event": delivery.event,
        "X-Cascade-Delivery": str(delivery.delivery_id),
        "X-Cascade-Signature": signature(secret, body),
    }
    # The address is checked again where the connection is made (lib/outbound.py); the answer's
    # status is all a delivery needs, so its body is never read.
    client = outbound.Client(
        settings.CASCADE_WEBHOOKS_ALLOW_PRIVATE, settings.CASCADE_WEBHOOK_TIMEOUT
    )
    try:
        with client, client.stream("POST", hook.url, content=body, headers=headers) as response:
            code = response.status_code
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, unreachable(exc)
    if 200 <= code < 300:
        return code, ""
    return code, f"The receiver answered {code}."


def deliver(delivery: Delivery) -> None:
    started = time.monotonic()
    code, error = _post(delivery)
    now = timezone.now()
    with transaction.atomic():
        if not Delivery.objects.select_for_update().filter(pk=delivery.pk).exists():
            return  # its webhook was removed while the call was out: nothing left to record
        Attempt.objects.create(
            delivery=delivery,
            status_code=code,
            error=error,
            milliseconds=int(1000 * (time.monotonic() - started)),
        )
        _record(delivery, code, error, now)


def _record(delivery: Delivery, code: int | None, error: str, now: Any) -> None:
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": code,
        "last_error": error,
        "claimed_until": None,
    }
    if not error:
        fields |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif now >= delivery.retry_until:
        fields["status"] = DeliveryStatus.FAILED
        log.warning("webhook delivery %s given up: %s", delivery.delivery_id, error)
    else:
        later = now + timedelta(seconds=backoff(attempts))
        fields["next_attempt_at"] = min(later, delivery.retry_until)
    Delivery.objects.filter(pk=delivery.pk).update(**fields)


def send_email(email: Email) -> None:
    attempts = email.attempts + 1
    try:
        EmailMessage(
            subject=email.subject,
            body=email.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=email.recipients,
        ).send()
    except Exception as exc:  # SMTP errors, refused connections, timeouts
        error = f"The email could not be sent: {exc or 'the mail server did not take it'}"[:500]
        fields: dict[str, Any] = {"attempts": attempts, "last_error": error, "claimed_until": None}
        if attempts >= EMAIL_ATTEMPTS:
            fields["status"] = DeliveryStatus.FAILED
            log.warning("email %s given up: %s (%s)", email.pk, error, type(exc).__name__)
        else:
            fields["next_attempt_at"] = timezone.now() + timedelta(seconds=backoff(attempts))
        Email.objects.filter(pk=email.pk).update(**fields)
        return
    Email.objects.filter(pk=email.pk).update(
        attempts=attempts,
        status=DeliveryStatus.DELIVERED,
        sent_at=timezone.now(),
        last_error="",
        claimed_until=None,
    )
