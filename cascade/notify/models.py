"""Webhooks of a site, the events sent to them (deliveries, each with its attempts), and the
emails that go to account owners who asked for them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from cascade.accounts.models import Site


class Event(models.TextChoices):
    RUN_FINISHED = "run.finished", "A run finished (with its outcome)"
    RUN_PAUSED = "run.paused", "A run paused (with the reason)"
    CONTENT_PUBLISHED = "content.published", "An article was published"


class Webhook(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # names from Event
    secret_encrypted = models.TextField()  # HMAC key, shown to its creator once
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not yet answered with 2xx; tried again later
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"  # retried for the whole retry window, then given up


class Delivery(models.Model):
    """One event for one webhook. Every attempt sends the same id (X-Cascade-Delivery), so a
    receiver can tell a retry from a new event."""

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=Event.choices)
    payload = models.JSONField()  # the body without `delivered_at`, which each attempt sets
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    retry_until = models.DateTimeField()  # failed answers are retried until then
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id} ({self.status})"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    milliseconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"


class Email(models.Model):
    """An email to send: runs that end without succeeding and pauses, to owners who opted in."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="emails")
    event = models.CharField(max_length=40, choices=Event.choices)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.subject} ({self.status})"


class EmailOptIn(models.Model):
    """An account member who wants email about the account's runs (owners may opt in)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="one_email_opt_in")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account}"
