"""Accounts' AI keys, encrypted at rest with a key derived from CASCADE_ENCRYPTION_KEY (or
SECRET_KEY). Only a hint (the last four characters) is ever shown back."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = settings.CASCADE_ENCRYPTION_KEY or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(
        hashlib.sha256(("cascade-ai-keys:" + material).encode()).digest()
    )
    return Fernet(key)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str | None:
    """The secret, or None when it was encrypted with another key (the key must be set again)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def hint(secret: str) -> str:
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"
