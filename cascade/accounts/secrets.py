"""Stored secrets (accounts' AI keys, WordPress application passwords), encrypted at rest with a
key derived for that purpose alone from CASCADE_ENCRYPTION_KEY (or SECRET_KEY). Former keys
(CASCADE_ENCRYPTION_KEY_FALLBACKS, SECRET_KEY_FALLBACKS) still decrypt until `cascade
rotate_secrets` re-encrypts everything with the current one. Only a hint (the last characters)
is ever shown back."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PURPOSE = b"cascade stored secrets v2"


class Undecryptable(Exception):
    """A stored secret was encrypted with a key the server no longer has: it must be entered
    again."""


def _derived(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _first_version(material: str) -> Fernet:
    # How secrets were encrypted before v2: still read, rewritten by `rotate_secrets`.
    digest = hashlib.sha256(("cascade-ai-keys:" + material).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _materials() -> list[str]:
    current = settings.CASCADE_ENCRYPTION_KEY or settings.SECRET_KEY
    former = list(settings.CASCADE_ENCRYPTION_KEY_FALLBACKS) + list(settings.SECRET_KEY_FALLBACKS)
    if settings.CASCADE_ENCRYPTION_KEY:
        former.append(settings.SECRET_KEY)
    return [current] + [m for m in former if m and m != current]


def _keys() -> MultiFernet:
    materials = _materials()
    return MultiFernet([_derived(m) for m in materials] + [_first_version(m) for m in materials])


def encrypt(secret: str) -> str:
    return _keys().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """The secret; Undecryptable when no key the server has can read it."""
    try:
        return _keys().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise Undecryptable("stored with a key this server no longer has") from exc


def readable(token: str) -> str | None:
    """The secret, or None when there is none or it cannot be decrypted any more."""
    if not token:
        return None
    try:
        return decrypt(token)
    except Undecryptable:
        return None


def rotate(token: str) -> str:
    """The same secret encrypted with the current key (Undecryptable as for decrypt)."""
    try:
        return _keys().rotate(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise Undecryptable("stored with a key this server no longer has") from exc


def hint(secret: str) -> str:
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"
