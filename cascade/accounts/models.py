"""Accounts own sites and credits; members act on them with a role."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


class Account(models.Model):
    name = models.CharField(max_length=120, unique=True)
    # The balance: always the sum of the account's ledger (accounts.credits writes both).
    credits = models.BigIntegerField(default=0)
    # Credits held for AI work in flight, not yet charged. What can be spent is credits minus
    # reserved, which never goes below zero (check constraint and conditional updates).
    reserved = models.BigIntegerField(default=0)
    # The account's own key for the OpenAI-compatible provider, encrypted (accounts.secrets).
    ai_api_key_encrypted = models.TextField(blank=True)
    ai_api_key_hint = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credits__gte=0), name="credits_never_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(reserved__gte=0, credits__gte=models.F("reserved")),
                name="reserved_within_balance",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def available(self) -> int:
        return self.credits - self.reserved

    def set_ai_key(self, secret: str) -> None:
        from cascade.accounts import secrets

        secret = secret.strip()
        self.ai_api_key_encrypted = secrets.encrypt(secret) if secret else ""
        self.ai_api_key_hint = secrets.hint(secret) if secret else ""
        self.save(update_fields=["ai_api_key_encrypted", "ai_api_key_hint"])

    def ai_key(self) -> str | None:
        """The account's own AI key, None without one; secrets.Undecryptable when it was stored
        with a key the server no longer has (never silently replaced by the server's key)."""
        from cascade.accounts import secrets

        return secrets.decrypt(self.ai_api_key_encrypted) if self.ai_api_key_encrypted else None


class Role(models.TextChoices):
    OWNER = "owner"  # everything, including members and billing
    EDITOR = "editor"  # runs automation and edits content
    VIEWER = "viewer"  # watches only


CAN_OPERATE = frozenset({Role.OWNER, Role.EDITOR})  # roles that may start or steer runs


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.OWNER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="one_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account} ({self.role})"


class Site(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True)
    tone = models.CharField(max_length=200, blank=True, default="friendly and practical")
    audience = models.CharField(max_length=200, blank=True, default="")  # (any reader)
    language = models.CharField(max_length=40, blank=True, default="English")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 digest is stored, the token itself is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until revoked

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user, name: str = "", expires_at=None) -> tuple[ApiToken, str]:
        raw = "csk_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, prefix=raw[:10], digest=hash_token(raw), expires_at=expires_at
        )
        return token, raw


class LedgerKind(models.TextChoices):
    CHARGE = "charge"  # AI work of a run
    TOP_UP = "top_up"  # credits bought or granted
    ADJUSTMENT = "adjustment"  # a balance set by an operator, or an opening balance


class LedgerEntry(models.Model):
    """One change of an account's balance; the balance is always the sum of its rows."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ledger")
    run = models.ForeignKey(
        "automation.AutomationRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger",
    )
    stage = models.PositiveSmallIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=12, choices=LedgerKind.choices, default=LedgerKind.CHARGE)
    delta = models.BigIntegerField()  # negative for charges
    balance_after = models.BigIntegerField()
    note = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["run", "stage"]),
            models.Index(fields=["account", "-id"]),
        ]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.delta:+} · {self.note}"
